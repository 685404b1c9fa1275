import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { closeCapturing, lsnDefinition } from '../../../support/capture';
import { installCursorTrigger } from '../../../../src/core/source/postgres/PostgresSource';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => closeCapturing(h));

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });
const pull = (name: string) => runPull(h.ctx, name, { trigger: 'test' });

describe('I8 a SharePoint delete the pull kept as a flagged row (deletes.pull SOFT) is not undone by the push (docs/design.md, I8)', () => {
  it('deletes.pull SOFT: the flag the pull set, read back, does not bring the deleted item back', async () => {
    await h.db.pool.query(
      `CREATE TABLE soft (id integer PRIMARY KEY, name text, budget numeric(12,2), removed boolean NOT NULL DEFAULT false)`,
    );
    await h.db.pool.query(`INSERT INTO soft (id, name, budget) VALUES (1, 'a', 1), (2, 'b', 2)`);
    await h.define(lsnDefinition('soft', { deletes: { pull: 'SOFT', pullSoftColumn: 'removed' } }));
    expect(await push('soft')).toMatchObject({ status: 'SUCCEEDED', created: 2 });
    await pull('soft');
    const a = (await h.items('soft')).find((i) => i.fields.Title === 'a');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/soft/items/${a?.id}`)).status).toBe(204);
    expect(await pull('soft')).toMatchObject({ status: 'SUCCEEDED', deleted: 1 });
    expect((await h.db.pool.query('SELECT removed FROM soft WHERE id = 1')).rows[0].removed).toBe(true);

    const p = await push('soft');
    expect(p.status).toBe('SUCCEEDED');
    // The SharePoint user deleted item 'a' on purpose (pull SOFT keeps the row, flagged): it must stay deleted.
    expect({ created: p.created, titles: (await h.items('soft')).map((i) => i.fields.Title).sort() }).toEqual(
      {
        created: 0,
        titles: ['b'],
      },
    );
  });

  it('TIMESTAMP, for comparison: the same SOFT delete pulled, then a push', async () => {
    await h.db.pool.query(
      `CREATE TABLE softts (id integer PRIMARY KEY, name text, budget numeric(12,2), removed boolean NOT NULL DEFAULT false,
                            updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', 'softts', 'updated_at');
    await h.db.pool.query(`INSERT INTO softts (id, name, budget) VALUES (1, 'a', 1), (2, 'b', 2)`);
    await h.define(
      lsnDefinition('softts', {
        source: {
          table: 'softts',
          key: ['id'],
          cursor: { type: 'TIMESTAMP', column: 'updated_at' },
          overlapSeconds: 0,
        },
        deletes: { pull: 'SOFT', pullSoftColumn: 'removed' },
      }),
    );
    expect(await push('softts')).toMatchObject({ status: 'SUCCEEDED', created: 2 });
    await pull('softts');
    const a = (await h.items('softts')).find((i) => i.fields.Title === 'a');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/softts/items/${a?.id}`)).status).toBe(204);
    expect(await pull('softts')).toMatchObject({ status: 'SUCCEEDED', deleted: 1 });
    const p = await push('softts');
    expect({
      created: p.created,
      titles: (await h.items('softts')).map((i) => i.fields.Title).sort(),
    }).toEqual({
      created: 0,
      titles: ['b'],
    });
    // The flag cleared in Postgres (the row restored): the row comes back as a new item, once.
    await h.db.pool.query('UPDATE softts SET removed = false WHERE id = 1');
    expect(await push('softts')).toMatchObject({ created: 1 });
    expect(await push('softts')).toMatchObject({ created: 0 });
    expect((await h.items('softts')).map((i) => i.fields.Title).sort()).toEqual(['a', 'b']);
  });
});

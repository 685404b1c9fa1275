/**
 * A key column of type character(n) (or bit(n)). Key parameters are cast to the column's type; `character` without
 * a length is character(1), so every key was cut to its first character: the push found none of its rows again,
 * deleted every item and created it anew on every run (new item ids, SharePoint-only columns and history lost),
 * and the pull's writes by key missed their rows (review C, docs/design.md I12: values are parameters, cast to the
 * column's type).
 */
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { installCursorTrigger } from '../../../../src/core/source/postgres/PostgresSource';
import { projectsDefinition, startHarness, type Harness } from '../../../support/engineHarness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const titles = (items: { fields: Record<string, unknown> }[]) => items.map((i) => i.fields.Title).sort();

describe('character(n) key columns', () => {
  it('rows keyed by char(5) are pushed once each, kept on the next push, and pulled back by their whole key', async () => {
    await h.db.pool.query(`CREATE TABLE parts (
      code character(5) PRIMARY KEY, name text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', 'parts', 'updated_at');
    await h.define(
      projectsDefinition(
        {
          name: 'parts',
          source: {
            table: 'parts',
            key: ['code'],
            cursor: { type: 'TIMESTAMP', column: 'updated_at' },
            pageSize: 2,
          },
          fields: [{ source: 'name', target: 'Title' }],
        },
        'Parts',
      ),
    );
    await h.db.pool.query(
      "INSERT INTO parts (code, name) VALUES ('AB-01','a1'),('AB-02','a2'),('AB-03','a3'),('AC-01','c1'),('AC-02','c2')",
    );
    const first = await runPush(h.ctx, 'parts', { trigger: 'test' });
    const second = await runPush(h.ctx, 'parts', { trigger: 'test' });
    const ids = (await h.items('Parts')).map((i) => i.id).sort();
    expect({
      first: [first.status, first.created, first.deleted],
      second: [second.status, second.created, second.deleted],
      titles: titles(await h.items('Parts')),
    }).toEqual({
      first: ['SUCCEEDED', 5, 0],
      second: ['SUCCEEDED', 0, 0],
      titles: ['a1', 'a2', 'a3', 'c1', 'c2'],
    });

    await runPull(h.ctx, 'parts', { trigger: 'test' });
    const item = (await h.items('Parts')).find((i) => i.fields.Title === 'a2')!;
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Parts/items/${item.id}/fields`, {
      Title: 'a2 edited in SharePoint',
    });
    expect(edit.status).toBe(200);
    expect(await runPull(h.ctx, 'parts', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      updated: 1,
    });
    const { rows } = await h.db.pool.query('SELECT code, name FROM parts ORDER BY code');
    expect(rows.map((r) => `${r.code}=${r.name}`)).toEqual([
      'AB-01=a1',
      'AB-02=a2 edited in SharePoint',
      'AB-03=a3',
      'AC-01=c1',
      'AC-02=c2',
    ]);
    expect(await runPush(h.ctx, 'parts', { trigger: 'test' })).toMatchObject({ created: 0, deleted: 0 });
    expect((await h.items('Parts')).map((i) => i.id).sort()).toEqual(ids);
  }, 60_000);
});

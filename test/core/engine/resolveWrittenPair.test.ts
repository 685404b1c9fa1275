import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { resolveConflict } from '../../../src/core/engine/resolve';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * Review of fd26ab8: resolve now stores pairs through syncedEntry, but with `written` = {} and the row values read
 * BEFORE its own Postgres write. A transformed field the resolution writes to Postgres (take sharepoint) gets no
 * pair, so the next push reads the value resolve wrote through the push pipeline, finds it differs from SharePoint's,
 * and writes SharePoint (I3: an echo that rewrites the value just taken from SharePoint). The pull pairs it (written).
 */
describe('I3 resolve take sharepoint on a transformed field (docs/design.md, I7: resolve)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('leaves SharePoint as taken: the next push writes nothing', async () => {
    const name = 'rvw1';
    await h.db.pool.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    await h.define({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      conflictPolicy: 'MANUAL',
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code', transform: "PREFIX('X-')", pullTransform: 'TRIM' },
      ],
    });
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'c1')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    const [item] = await h.items(name);
    // A conflict on Code.
    await h.db.pool.query(`UPDATE ${name} SET code = 'p1' WHERE id = 1`);
    expect(
      (
        await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
          Code: '  X-k9 ',
        })
      ).status,
    ).toBe(200);
    expect((await runPull(h.ctx, name, { trigger: 'test' })).conflicts).toBe(1);
    const { rows } = await h.db.pool.query<{ id: string }>(
      `SELECT c.id FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1 AND c.status = 'OPEN'`,
      [name],
    );
    await resolveConflict(h.ctx, rows[0].id, { take: 'sharepoint' }, 'review');
    const pgCode = (await h.db.pool.query(`SELECT code FROM ${name}`)).rows[0].code;
    const push = await runPush(h.ctx, name, { trigger: 'test' });
    const after = (await h.items(name))[0].fields;
    expect({ pgCode, pushed: push.updated, Code: after.Code }).toEqual({
      pgCode: 'X-k9',
      pushed: 0,
      Code: '  X-k9 ',
    });
  });
});

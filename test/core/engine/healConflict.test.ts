import { applyDefinitions } from '../../../src/core/engine/apply';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * I7: after a pullTransform change (TRIM -> TRIM | LOWER), a user edits Code in Postgres ('C1' -> 'c1') and another
 * user edits Code in SharePoint ('C1' -> 'D9'): both sides changed the same field since the last sync, a conflict
 * that SOURCE_WINS (the default) settles for Postgres. agreedUnderCurrentPipelines (transform.ts, the `!samePg`
 * branch) takes Postgres as unchanged because 'c1' is what the current pull pipeline makes of the synced 'C1',
 * without looking at SharePoint: no conflict is recorded and the Postgres edit is overwritten with 'd9'.
 */
describe('I7 a Postgres edit and a SharePoint edit of the same field after a pipeline change is a conflict (docs/design.md, I3, I7)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('a Postgres edit and a SharePoint edit of the same field after a pullTransform change is a conflict', async () => {
    const name = 'rvy1';
    await h.db.pool.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, name text, code text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    const def = (t: string): SyncDefinitionInput => ({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code', pullTransform: t },
      ],
    });
    await h.define(def('TRIM'));
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', 'C1')`);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    await runPull(h.ctx, name, { trigger: 'test' });
    await applyDefinitions(h.db.pool, [parseDefinition(def('TRIM | LOWER'))]);

    await h.db.pool.query(`UPDATE ${name} SET code = 'c1' WHERE id = 1`);
    const [item] = await h.items(name);
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Code: 'D9',
    });
    expect(res.status).toBe(200);

    const pull = await runPull(h.ctx, name, { trigger: 'test' });
    const pg = (await h.db.pool.query(`SELECT code FROM ${name} WHERE id = 1`)).rows[0].code as string;
    // Both sides changed Code: a conflict, which SOURCE_WINS settles for Postgres's 'c1'.
    expect({ conflicts: pull.conflicts, pg }).toEqual({ conflicts: 1, pg: 'c1' });
  });
});

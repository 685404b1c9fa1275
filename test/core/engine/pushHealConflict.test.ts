import { applyDefinitions } from '../../../src/core/engine/apply';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * Review of 252f5d1: the push reads the row through agreedEntry(…, sp = null) (push/rows.ts:298), where the
 * Postgres-side heal applies whatever SharePoint did. On a 412, settleConflicts (push/conflicts.ts:65) asks
 * agreedEntry again with SharePoint: with SharePoint changed it now heals nothing, returns `stored`, and then keeps
 * `read` — whose values were read through the sp=null heal. Postgres's edit of Code looks unchanged, SharePoint's
 * wins with no conflict: healConflict.test.ts's scenario, through the push instead of the pull.
 */
describe('I7 a Postgres and a SharePoint edit of one field after a pipeline change, met by a push 412 (docs/design.md, I3, I7)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('is a conflict SOURCE_WINS settles for Postgres', async () => {
    const name = 'rvp1';
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

    // A user edits Code (and Title) in Postgres, another edits Code in SharePoint.
    await h.db.pool.query(`UPDATE ${name} SET code = 'c1', name = 'a2' WHERE id = 1`);
    const [item] = await h.items(name);
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Code: 'D9',
    });
    expect(res.status).toBe(200);

    // The push writes Title with the old eTag, meets a 412 and settles it.
    const push = await runPush(h.ctx, name, { trigger: 'test' });
    const pg = (await h.db.pool.query(`SELECT code FROM ${name} WHERE id = 1`)).rows[0].code as string;
    expect({ conflicts: push.conflicts, pg }).toEqual({ conflicts: 1, pg: 'c1' });
  });
});

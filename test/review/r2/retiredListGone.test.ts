import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { applyDefinitions } from '../../../src/core/engine/apply';
import { provisionList } from '../../../src/core/engine/provision';
import { runPush } from '../../../src/core/engine/push';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { itemsWithKey } from '../../support/routed';

/**
 * A routes change replaces list "Closed" by list "Archive"; the user deletes the retired list "Closed" in
 * SharePoint (its items are to move anyway). The next push moves the rows that lived in Closed into Archive.
 * It must do so and report success: the old items are gone with their list, which is what a move wants.
 */
describe('review r2: rows of a retired routed list that was deleted move without failing the run', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  const def = (other: string): SyncDefinitionInput => ({
    name: 'cases',
    source: {
      table: 'cases',
      key: ['id'],
      cursor: { type: 'TIMESTAMP', column: 'updated_at' },
      overlapSeconds: 0,
    },
    target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: 'Open' }, { list: other }] },
    fields: [
      { source: 'title', target: 'Title' },
      { source: 'status', target: 'Status' },
    ],
  });

  it('moves the rows of the deleted retired list into its replacement in one successful push', async () => {
    await h.db.pool.query(`CREATE TABLE cases (
      id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', 'cases', 'updated_at');
    await h.define(def('Closed'));
    await h.db.pool.query(
      `INSERT INTO cases (id, title, status) VALUES (1, 'a', 'OPEN'), (2, 'b', 'CLOSED')`,
    );
    const push = () => runPush(h.ctx, 'cases', { trigger: 'test' });
    expect(await push()).toMatchObject({ created: 2, error: null });
    const { rows } = await h.db.pool.query<{ h: string; list: string }>(
      `SELECT source_identity_hash AS h, sp_list_id AS list FROM arcore.sync_ledger WHERE source_identity->>'id' = '2'`,
    );

    // The routes change (apply makes the next push read every row again), then the retired list is deleted.
    await applyDefinitions(h.db.pool, [parseDefinition(def('Archive'))]);
    await provisionList(h.ctx, 'cases');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${rows[0].list}`)).status).toBe(204);

    const s = await push();
    expect({ error: s.error, moved: s.moved }).toEqual({ error: null, moved: 1 });
    expect((await itemsWithKey(h, ['Open', 'Archive'], rows[0].h)).map((i) => i.list)).toEqual(['Archive']);
  });
});

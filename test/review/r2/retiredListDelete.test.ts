import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { applyDefinitions } from '../../../src/core/engine/apply';
import { provisionList } from '../../../src/core/engine/provision';
import { runPush } from '../../../src/core/engine/push';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * A routes change replaces list "Closed" by list "Archive", and the user deletes the retired list in SharePoint.
 * A row whose item lived in Closed is deleted in Postgres before the push moved it. Its item is gone with its
 * list: the delete is done. The pushes must not fail on it for ever (every push FAILED, nothing else synced).
 */
describe('review r2: a Postgres delete of a row whose retired list was deleted', () => {
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

  it('settles the delete instead of failing every push', async () => {
    await h.db.pool.query(`CREATE TABLE cases (
      id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', 'cases', 'updated_at');
    await h.define(def('Closed'));
    await h.db.pool.query(
      `INSERT INTO cases (id, title, status) VALUES (1, 'a', 'OPEN'), (2, 'b', 'CLOSED')`,
    );
    const push = () => runPush(h.ctx, 'cases', { trigger: 'test' });
    expect(await push()).toMatchObject({ created: 2, error: null });
    const closedId = (
      await h.db.pool.query<{ list: string }>(
        `SELECT sp_list_id AS list FROM arcore.sync_ledger WHERE source_identity->>'id' = '2'`,
      )
    ).rows[0].list;

    await applyDefinitions(h.db.pool, [parseDefinition(def('Archive'))]);
    await provisionList(h.ctx, 'cases');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${closedId}`)).status).toBe(204);
    await h.db.pool.query('DELETE FROM cases WHERE id = 2');

    const runs = [await push(), await push(), await push()];
    // However the first push counts it, a later push must succeed, and the row's entry must be gone.
    expect(runs[2].error).toBeNull();
    const { rows } = await h.db.pool.query(
      `SELECT 1 FROM arcore.sync_ledger WHERE source_identity->>'id' = '2'`,
    );
    expect(rows).toEqual([]);
  });
});

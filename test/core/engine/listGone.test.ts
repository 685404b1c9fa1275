import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { applyDefinitions } from '../../../src/core/engine/apply';
import { provisionList } from '../../../src/core/engine/provision';
import { runPush } from '../../../src/core/engine/push';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { itemsWithKey } from '../../support/routed';

/**
 * I15 (docs/design.md): a routes change replaces list "Closed" by list "Archive", and the user deletes the retired
 * list in SharePoint. Its items are gone with it, which is what the moves and deletes of its rows want: they
 * settle, and the run succeeds. (Before, every push failed with ListGoneError naming the current lists and
 * `provision`, which would not create the retired list.) Lists the definition still routes to keep the I15
 * errors (test/core/engine/listReplaced.test.ts).
 */
describe('I15 (docs/design.md): a retired routed list deleted in SharePoint', () => {
  let h: Harness;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  /** Rows 1 (OPEN, in Open) and 2 (CLOSED, in Closed) synced; then routes replace Closed by Archive. */
  async function retiring() {
    n++;
    const table = `cases${n}`;
    const [open, closed, archive] = [`Open${n}`, `Closed${n}`, `Archive${n}`];
    const def = (other: string): SyncDefinitionInput => ({
      name: table,
      source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' }, overlapSeconds: 0 },
      target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: open }, { list: other }] },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
    });
    await h.db.pool.query(`CREATE TABLE ${table} (
      id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', table, 'updated_at');
    await h.define(def(closed));
    await h.db.pool.query(
      `INSERT INTO ${table} (id, title, status) VALUES (1, 'a', 'OPEN'), (2, 'b', 'CLOSED')`,
    );
    const push = () => runPush(h.ctx, table, { trigger: 'test' });
    expect(await push()).toMatchObject({ created: 2, error: null });
    const ledger = async () =>
      (
        await h.db.pool.query<{ h: string; list: string }>(
          `SELECT l.source_identity_hash AS h, l.sp_list_id AS list FROM arcore.sync_ledger l
             JOIN arcore.sync_definitions d ON d.id = l.definition_id
            WHERE d.name = $1 AND l.source_identity->>'id' = '2'`,
          [table],
        )
      ).rows;
    const [{ h: hash, list: closedId }] = await ledger();
    // The routes change (apply makes the next push read every row again).
    await applyDefinitions(h.db.pool, [parseDefinition(def(archive))]);
    await provisionList(h.ctx, table);
    const deleteClosed = async () =>
      expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${closedId}`)).status).toBe(204);
    return { table, open, closed, archive, hash, closedId, push, ledger, deleteClosed };
  }

  it('moves the rows of the deleted retired list into its replacement in one successful push', async () => {
    const r = await retiring();
    await r.deleteClosed();
    const s = await r.push();
    expect({ error: s.error, moved: s.moved }).toEqual({ error: null, moved: 1 });
    expect((await itemsWithKey(h, [r.open, r.archive], r.hash)).map((i) => i.list)).toEqual([r.archive]);
    expect(await r.push()).toMatchObject({ error: null, moved: 0, created: 0 });
  });

  it('a Postgres delete of a row whose retired list was deleted settles at once', async () => {
    const r = await retiring();
    await r.deleteClosed();
    await h.db.pool.query(`DELETE FROM ${r.table} WHERE id = 2`);
    expect(await r.push()).toMatchObject({ error: null, deleted: 1 });
    expect(await r.ledger()).toEqual([]);
    expect(await r.push()).toMatchObject({ error: null, deleted: 0 });
  });

  it('a move left waiting (its old delete refused) out of a retired list deleted since finishes', async () => {
    const r = await retiring();
    h.emulator.control.injectFault({
      method: 'DELETE',
      pathPattern: `/lists/${r.closedId}/items/`,
      status: 403,
      count: 1,
    });
    try {
      expect(await r.push()).toMatchObject({ moved: 0, failed: 1 });
    } finally {
      h.emulator.control.clearFaults();
    }
    await r.deleteClosed();
    expect(await r.push()).toMatchObject({ error: null, moved: 1 });
    const details = await h.db.pool.query<{ d: Record<string, unknown> }>(
      `SELECT details AS d FROM arcore.sync_runs WHERE run_type = 'PUSH' ORDER BY id DESC LIMIT 1`,
    );
    expect(details.rows[0].d).toMatchObject({ movesFinishedAfterCrash: 1 });
    expect((await itemsWithKey(h, [r.open, r.archive], r.hash)).map((i) => i.list)).toEqual([r.archive]);
    expect((await r.ledger()).map((e) => e.list)).not.toContain(r.closedId);
  });
});

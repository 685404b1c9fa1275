import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import {
  PENDING_CREATE_SETTLE_SECONDS,
  pendingCreateEntry,
} from '../../../src/core/engine/push/pendingCreates';
import { MoveInFlightError, resolveConflict } from '../../../src/core/engine/resolve';
import type { EngineContext } from '../../../src/core/engine/types';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { LedgerStore } from '../../../src/core/store/ledger';
import { opsErrorStatus } from '../../../src/functions/opsApi';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { itemsWithKey, spEdit } from '../../support/routed';

/**
 * docs/design.md "Resolving a conflict" and "Creates a stopped run left pending" (I6): resolving a routed row's
 * conflict must not give the row a second item, neither while a move of its item between lists may still land,
 * nor when an earlier re-create was sent to the list the row routed to then.
 */
describe('I6 resolve of a routed row', () => {
  let h: Harness;
  let ctx: EngineContext;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
    ctx = { ...h.ctx, pendingCreateSettleSeconds: PENDING_CREATE_SETTLE_SECONDS };
  });
  afterAll(async () => h.close());

  /** A MANUAL routed definition whose row (synced into Open) has an open conflict, its item then deleted. */
  async function conflictInOpen() {
    n++;
    const table = `rcases${n}`;
    const [open, closed] = [`ROpen${n}`, `RClosed${n}`];
    const definition: SyncDefinitionInput = {
      name: table,
      source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' }, overlapSeconds: 0 },
      target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: open }, { list: closed }] },
      conflictPolicy: 'MANUAL',
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
    };
    await h.db.pool.query(`CREATE TABLE ${table} (
      id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', table, 'updated_at');
    await h.define(definition);
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 't0', 'OPEN')`);
    expect(await runPush(ctx, table, { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(ctx, table, { trigger: 'test' });
    const { rows } = await h.db.pool.query<{ h: string; d: string; item: string; list: string }>(
      `SELECT l.source_identity_hash AS h, l.definition_id AS d, l.sp_item_id AS item, l.sp_list_id AS list
         FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = $1`,
      [table],
    );
    const { h: hash, d: definitionId, item: openItem, list: openListId } = rows[0];
    await h.db.pool.query(`UPDATE ${table} SET title = 'pg' WHERE id = 1`);
    await spEdit(h, open, openItem, { Title: 'sp' });
    expect((await runPull(ctx, table, { trigger: 'test' })).conflicts).toBe(1);
    const conflictId = (
      await h.db.pool.query<{ id: string }>(
        "SELECT id FROM arcore.sync_conflicts WHERE definition_id = $1 AND status = 'OPEN'",
        [definitionId],
      )
    ).rows[0].id;
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${open}/items/${openItem}`)).status).toBe(204);
    const listId = async (name: string) =>
      (
        await h.db.pool.query<{ list_id: string }>(
          'SELECT list_id FROM arcore.sync_definition_lists WHERE definition_id = $1 AND list_name = $2',
          [definitionId, name],
        )
      ).rows[0]?.list_id;
    const where = async () =>
      (await itemsWithKey(h, [open, closed], hash)).map((i) => ({
        list: i.list === open ? 'Open' : 'Closed',
        title: i.fields.Title,
      }));
    const land = async (list: string) => {
      const res = await h.asUser('POST', `/sites/${h.siteId}/lists/${list}/items`, {
        fields: { Title: 'pg', Status: list === open ? 'OPEN' : 'CLOSED', ArcoreKey: hash },
      });
      expect(res.status).toBe(201);
    };
    const resolve = () => resolveConflict(ctx, conflictId, { take: 'postgres' }, 'test');
    return { table, open, closed, hash, definitionId, openItem, openListId, listId, where, land, resolve };
  }

  it("writes the item an earlier re-create landed in the list it was sent to, after the row's route changed", async () => {
    const c = await conflictInOpen();
    // An earlier resolve re-created the item in Open, its answer lost: the entry is pending, its wait running.
    await new LedgerStore(c.definitionId, 'PRIMARY_KEY', 'default').save(h.db.pool, [
      pendingCreateEntry({
        identityHash: c.hash,
        identity: { id: 1 },
        listId: c.openListId,
        sent: { Title: 'pg', Status: 'OPEN' },
        lastSourceTs: null,
      }),
    ]);
    await h.db.pool.query(
      'UPDATE arcore.sync_ledger SET pending_checked_at = now() WHERE definition_id = $1',
      [c.definitionId],
    );
    await c.land(c.open);
    // The row now routes to Closed.
    await h.db.pool.query(`UPDATE ${c.table} SET status = 'CLOSED' WHERE id = 1`);
    await c.resolve();
    expect(await c.where()).toEqual([{ list: 'Open', title: 'pg' }]);
    // The next push moves the one item where the row routes.
    expect(await runPush(ctx, c.table, { trigger: 'test' })).toMatchObject({ moved: 1, created: 0 });
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'pg' }]);
  });

  it('is refused while a move of the item may still land, then re-creates it once, where the row routes', async () => {
    const c = await conflictInOpen();
    // A stopped push recorded the move to Closed and sent its create; the old item is gone since.
    await h.db.pool.query(`UPDATE ${c.table} SET status = 'CLOSED' WHERE id = 1`);
    await h.db.pool.query(
      `INSERT INTO arcore.sync_moves (definition_id, source_identity_hash, from_list_id, from_item_id, to_list_id)
       VALUES ($1, $2, $3, $4, $5)`,
      [c.definitionId, c.hash, c.openListId, c.openItem, await c.listId(c.closed)],
    );
    const refused = await c.resolve().then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(MoveInFlightError);
    expect(refused).toMatchObject({ errorKind: 'busy', retryAfterSeconds: PENDING_CREATE_SETTLE_SECONDS });
    expect(opsErrorStatus(refused)).toMatchObject({
      status: 409,
      headers: { 'Retry-After': String(PENDING_CREATE_SETTLE_SECONDS) },
    });
    expect(await c.where()).toEqual([]);
    // The move's create lands late, inside the wait: resolve is still refused and writes nothing.
    await c.land(c.closed);
    await expect(c.resolve()).rejects.toBeInstanceOf(MoveInFlightError);
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'pg' }]);
    // Once the wait is over the move is settled first (its old item is gone: undone), then resolved: one item.
    await h.db.pool.query(
      `UPDATE arcore.sync_moves SET checked_at = now() - make_interval(secs => $2) WHERE definition_id = $1`,
      [c.definitionId, PENDING_CREATE_SETTLE_SECONDS + 1],
    );
    await c.resolve();
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'pg' }]);
    const moves = await h.db.pool.query('SELECT 1 FROM arcore.sync_moves WHERE definition_id = $1', [
      c.definitionId,
    ]);
    expect(moves.rowCount).toBe(0);
    await runPush(ctx, c.table, { trigger: 'test' });
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'pg' }]);
  });
});

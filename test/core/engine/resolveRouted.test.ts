import { runPush } from '../../../src/core/engine/push';
import {
  PENDING_CREATE_SETTLE_SECONDS,
  pendingCreateEntry,
} from '../../../src/core/engine/push/pendingCreates';
import { MoveInFlightError, resolveConflict } from '../../../src/core/engine/resolve';
import type { EngineContext } from '../../../src/core/engine/types';
import { LedgerStore } from '../../../src/core/store/ledger';
import { opsErrorStatus } from '../../../src/functions/opsApi';
import { startSettlingHarness, type Harness } from '../../support/engineHarness';
import {
  conflictOnPull,
  definitionListId,
  landItem,
  moveWaitOver,
  recordMove,
  syncedInOpen,
  whereRouted,
} from '../../support/routed';

/**
 * docs/design.md "Resolving a conflict" and "Creates a stopped run left pending" (I6): resolving a routed row's
 * conflict must not give the row a second item, neither while a move of its item between lists may still land,
 * nor when an earlier re-create was sent to the list the row routed to then.
 */
describe('I6 resolve of a routed row', () => {
  let h: Harness;
  let ctx: EngineContext;
  let n = 0;
  beforeAll(async () => ({ h, ctx } = await startSettlingHarness()));
  afterAll(async () => h.close());

  /** A MANUAL routed definition whose row (synced into Open) has an open conflict, its item then deleted. */
  async function conflictInOpen() {
    n++;
    const table = `rcases${n}`;
    const [open, closed] = [`ROpen${n}`, `RClosed${n}`];
    const pair = await syncedInOpen(h, ctx, table, open, closed);
    await h.db.pool.query(`UPDATE ${table} SET title = 'pg' WHERE id = 1`);
    const conflictId = await conflictOnPull(h, ctx, table, open, pair);
    const deleted = await h.asUser('DELETE', `/sites/${h.siteId}/lists/${open}/items/${pair.itemId}`);
    expect(deleted.status).toBe(204);
    const listId = (name: string) => definitionListId(h, pair.definitionId, name);
    const where = () => whereRouted(h, open, closed, pair.hash);
    const land = (list: string) =>
      landItem(h, list, pair.hash, { Title: 'pg', Status: list === open ? 'OPEN' : 'CLOSED' });
    const resolve = () => resolveConflict(ctx, conflictId, { take: 'postgres' }, 'test');
    return { table, open, closed, pair, listId, where, land, resolve };
  }

  it("writes the item an earlier re-create landed in the list it was sent to, after the row's route changed", async () => {
    const c = await conflictInOpen();
    // An earlier resolve re-created the item in Open, its answer lost: the entry is pending, its wait running.
    await new LedgerStore(c.pair.definitionId, 'PRIMARY_KEY', 'default').save(h.db.pool, [
      pendingCreateEntry({
        identityHash: c.pair.hash,
        identity: { id: 1 },
        listId: c.pair.listId,
        sent: { Title: 'pg', Status: 'OPEN' },
        lastSourceTs: null,
      }),
    ]);
    await h.db.pool.query(
      'UPDATE arcore.sync_ledger SET pending_checked_at = now() WHERE definition_id = $1',
      [c.pair.definitionId],
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
    await recordMove(h, c.pair, await c.listId(c.closed));
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
    await moveWaitOver(h, c.pair.definitionId, PENDING_CREATE_SETTLE_SECONDS);
    await c.resolve();
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'pg' }]);
    const moves = await h.db.pool.query('SELECT 1 FROM arcore.sync_moves WHERE definition_id = $1', [
      c.pair.definitionId,
    ]);
    expect(moves.rowCount).toBe(0);
    await runPush(ctx, c.table, { trigger: 'test' });
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'pg' }]);
  });
});

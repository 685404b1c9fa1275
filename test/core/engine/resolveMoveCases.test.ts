import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { PENDING_CREATE_SETTLE_SECONDS } from '../../../src/core/engine/push/pendingCreates';
import { MoveInFlightError, resolveConflict } from '../../../src/core/engine/resolve';
import type { EngineContext } from '../../../src/core/engine/types';
import { startSettlingHarness, type Harness } from '../../support/engineHarness';
import {
  conflictOnPull,
  defineRoutedTitles,
  definitionListId,
  landItem,
  ledgerPair,
  moveWaitOver,
  recordMove,
  syncedInOpen,
  whereRouted,
} from '../../support/routed';

describe('I6 resolve of a routed row with a move in flight (docs/design.md, "Creates a stopped run left pending")', () => {
  let h: Harness;
  let ctx: EngineContext;
  let n = 0;
  beforeAll(async () => ({ h, ctx } = await startSettlingHarness()));
  afterAll(async () => h.close());

  /** Synced into Open; a stopped push recorded the move to Closed; then a conflict on the old item (pull). */
  async function movingWithConflict() {
    n++;
    const table = `mcases${n}`;
    const [open, closed] = [`MOpen${n}`, `MClosed${n}`];
    const pair = await syncedInOpen(h, ctx, table, open, closed);
    const closedListId = await definitionListId(h, pair.definitionId, closed);
    await h.db.pool.query(`UPDATE ${table} SET status = 'CLOSED', title = 'pg' WHERE id = 1`);
    await recordMove(h, pair, closedListId);
    const conflictId = await conflictOnPull(h, ctx, table, open, pair);
    const land = () => landItem(h, closed, pair.hash, { Title: 'pg', Status: 'CLOSED' });
    const waitOver = () => moveWaitOver(h, pair.definitionId, PENDING_CREATE_SETTLE_SECONDS);
    const where = () => whereRouted(h, open, closed, pair.hash);
    return { table, conflictId, land, waitOver, where };
  }

  it('take postgres after the move landed: the move is undone, the old item written, then moved once', async () => {
    const c = await movingWithConflict();
    await c.land();
    // Found by key at once: no wait; the old item changed (the conflict), so the settle undoes the move.
    await resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 't');
    expect(await c.where()).toEqual([{ list: 'Open', title: 'pg' }]);
    await runPush(ctx, c.table, { trigger: 'test' });
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'pg' }]);
    await runPull(ctx, c.table, { trigger: 'test' });
    expect(await runPush(ctx, c.table, { trigger: 'test' })).toMatchObject({
      created: 0,
      updated: 0,
      moved: 0,
    });
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'pg' }]);
  });

  // The conflict is Title (FIELD detection): SharePoint's title is taken, and Postgres's undisputed edit of Status
  // stands (review r21: `--take` took the item's whole row, undoing it), so the next push moves the item once.
  it('take sharepoint after the move landed: the move is undone, the row takes the old item`s title, then moves once', async () => {
    const c = await movingWithConflict();
    await c.land();
    await resolveConflict(ctx, c.conflictId, { take: 'sharepoint' }, 't');
    expect(await c.where()).toEqual([{ list: 'Open', title: 'sp' }]);
    expect((await h.db.pool.query(`SELECT title, status FROM ${c.table}`)).rows).toEqual([
      { title: 'sp', status: 'CLOSED' },
    ]);
    await runPush(ctx, c.table, { trigger: 'test' });
    await runPull(ctx, c.table, { trigger: 'test' });
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'sp' }]);
    expect(await runPush(ctx, c.table, { trigger: 'test' })).toMatchObject({
      created: 0,
      updated: 0,
      moved: 0,
    });
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'sp' }]);
  });

  it('the create never landed: refused inside the wait, then resolved; one item where the row routes', async () => {
    const c = await movingWithConflict();
    await expect(resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 't')).rejects.toBeInstanceOf(
      MoveInFlightError,
    );
    await c.waitOver();
    await resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 't');
    expect(await c.where()).toEqual([{ list: 'Open', title: 'pg' }]);
    await runPush(ctx, c.table, { trigger: 'test' });
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'pg' }]);
  });

  it('the move finishes inside the settle: resolve writes the new item, never the old id in the new list', async () => {
    n++;
    const table = `fcases${n}`;
    const [open, closed] = [`FOpen${n}`, `FClosed${n}`];
    await defineRoutedTitles(h, table, open, closed, { conflictPolicy: 'MANUAL' });
    // Row 2 lives in Closed first: its item takes id 1 there, the id row 1's item has in Open.
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (2, 'other', 'CLOSED')`);
    await runPush(ctx, table, { trigger: 'test' });
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 't0', 'OPEN')`);
    await runPush(ctx, table, { trigger: 'test' });
    const pair = await ledgerPair(h, table, 1);
    expect(pair.itemId).toBe('1');
    const closedListId = await definitionListId(h, pair.definitionId, closed);
    await h.db.pool.query(`UPDATE ${table} SET status = 'CLOSED', title = 'pg' WHERE id = 1`);
    await recordMove(h, pair, closedListId, '1 hour');
    const landed = await landItem(h, closed, pair.hash, { Title: 'pg', Status: 'CLOSED' });
    expect(landed.id).toBe('2');
    const conflictId = (
      await h.db.pool.query<{ id: string }>(
        `INSERT INTO arcore.sync_conflicts (definition_id, source_identity_hash, source_identity, sp_item_id,
           detected_by, policy, base_values, postgres_values, sharepoint_values, outcome, status)
         VALUES ($1, $2, '{"id": 1}', $3, 'PULL', 'MANUAL', '{"Title":"t0"}', '{"Title":"pg"}', '{"Title":"sp"}',
           'PARKED', 'OPEN') RETURNING id::text AS id`,
        [pair.definitionId, pair.hash, pair.itemId],
      )
    ).rows[0].id;
    await resolveConflict(ctx, conflictId, { take: 'postgres' }, 't');
    const byList = async (list: string) => (await h.items(list)).map((i) => i.fields.Title).sort();
    expect(await byList(open)).toEqual([]);
    expect(await byList(closed)).toEqual(['other', 'pg']);
    await runPush(ctx, table, { trigger: 'test' });
    await runPull(ctx, table, { trigger: 'test' });
    expect(await byList(closed)).toEqual(['other', 'pg']);
    expect((await h.db.pool.query(`SELECT id, title FROM ${table} ORDER BY id`)).rows).toEqual([
      { id: 1, title: 'pg' },
      { id: 2, title: 'other' },
    ]);
  });
  it('a row deleted in Postgres: take postgres waits the move out, then confirms the delete (I8)', async () => {
    const c = await movingWithConflict();
    await h.db.pool.query(`DELETE FROM ${c.table} WHERE id = 1`);
    // The move's create may still land: confirming the delete now could leave that item behind.
    await expect(resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 't')).rejects.toBeInstanceOf(
      MoveInFlightError,
    );
    await c.waitOver();
    await resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 't');
    expect(await c.where()).toEqual([]);
  });
});

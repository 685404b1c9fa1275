import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { MoveInFlightError, resolveConflict } from '../../../src/core/engine/resolve';
import { listFailures } from '../../../src/core/ops/failures';
import { definitionStatus } from '../../../src/core/ops/status';
import { startHarness, type Harness } from '../../support/engineHarness';
import {
  defineRoutedTitles,
  itemsWithKey,
  ledgerPair,
  moveStoppedAfterCreate,
  openConflictId,
  spEdit,
} from '../../support/routed';

/**
 * docs/design.md, routed lists: a move held for the user (its new item and its old item both edited), then its row
 * deleted in Postgres. The push's delete removed the old item and the pair, and the move's edited new item was
 * left: the pull took it for a new item and inserted the deleted row again when the key was mapped (resurrection);
 * otherwise it stayed for good with the move, `status` counting no held move, and under MANUAL every `resolve` was
 * refused with "resolve again in 30 s" (found by review). Now the pull leaves an item a move in flight created to
 * the push, the push parks the move as a held move naming the item and what to do, and `resolve` says so.
 */
describe('a held move whose row is deleted in Postgres', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  /** Row 1 routed OPEN → CLOSED with its move held: the old item's delete refused once, then both items edited. */
  async function heldMove(
    table: string,
    open: string,
    closed: string,
    options: Partial<SyncDefinitionInput>,
  ) {
    await defineRoutedTitles(h, table, open, closed, options);
    const push = () => runPush(h.ctx, table, { trigger: 'test' });
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 't', 'OPEN')`);
    expect(await push()).toMatchObject({ created: 1 });
    await runPull(h.ctx, table, { trigger: 'test' });
    const pair = await ledgerPair(h, table);
    await h.db.pool.query(`UPDATE ${table} SET status = 'CLOSED' WHERE id = 1`);
    const newItem = await moveStoppedAfterCreate(h, push, pair, open, closed);
    await spEdit(h, open, pair.itemId, { Title: 'typed on the old item' });
    await spEdit(h, closed, newItem, { Title: 'typed in the new item' });
    expect(await push()).toMatchObject({ heldMoves: 1, failed: 0 });
    // Row 1 is deleted; a later row moves the push's cursor past it.
    await h.db.pool.query(`DELETE FROM ${table} WHERE id = 1`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (2, 'later', 'OPEN')`);
    return { ...pair, newItem, push };
  }

  const movesLeft = async (definitionId: string) =>
    Number(
      (
        await h.db.pool.query('SELECT count(*) AS n FROM arcore.sync_moves WHERE definition_id = $1', [
          definitionId,
        ])
      ).rows[0].n,
    );

  it('SOURCE_WINS, key mapped: the row stays deleted, the edited item is a held move until the user deletes it', async () => {
    const t = 'hmr_keyed';
    const [open, closed] = ['HmrO', 'HmrC'];
    const hm = await heldMove(t, open, closed, {
      conflictPolicy: 'SOURCE_WINS',
      fields: [
        { source: 'id', target: 'RowId' },
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
    });
    for (let i = 0; i < 2; i++) {
      await hm.push();
      // Before: this pull inserted row 1 again from the new item.
      expect(await runPull(h.ctx, t, { trigger: 'test' })).toMatchObject({ created: 0, failed: 0 });
    }
    const { rows } = await h.db.pool.query(`SELECT id FROM ${t} ORDER BY id`);
    expect(rows).toEqual([{ id: 2 }]);
    const [status] = await definitionStatus(h.ctx.meta, t);
    expect(status.heldMoves).toBe(1);
    const failures = await listFailures(h.ctx.meta, t);
    expect(failures).toEqual([
      expect.objectContaining({
        heldMove: true,
        lastError: expect.stringMatching(
          /deleted in Postgres while its item moved.*delete the item in SharePoint/,
        ),
      }),
    ]);

    // The user keeps what they need and deletes the item: the move is settled, nothing is left.
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${closed}/items/${hm.newItem}`)).status).toBe(
      204,
    );
    await hm.push();
    await runPull(h.ctx, t, { trigger: 'test' });
    expect(await movesLeft(hm.definitionId)).toBe(0);
    expect(await listFailures(h.ctx.meta, t)).toEqual([]);
    expect(await itemsWithKey(h, [open, closed], hm.hash)).toEqual([]);
  });

  it('MANUAL: resolve names the held move instead of "resolve again", and resolves once the item is dealt with', async () => {
    const t = 'hmr_manual';
    const [open, closed] = ['HmmO', 'HmmC'];
    const hm = await heldMove(t, open, closed, { conflictPolicy: 'MANUAL' });
    await hm.push();
    const conflictId = await openConflictId(h, hm.definitionId);
    const refused = await resolveConflict(h.ctx, conflictId, { take: 'postgres' }, 'test').catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(MoveInFlightError);
    expect((refused as Error).message).toMatch(/held until you act: .*both edited in SharePoint/);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${closed}/items/${hm.newItem}`)).status).toBe(
      204,
    );
    await expect(resolveConflict(h.ctx, conflictId, { take: 'postgres' }, 'test')).resolves.toMatchObject({
      status: 'RESOLVED',
    });
    await hm.push();
    await runPull(h.ctx, t, { trigger: 'test' });
    expect((await h.db.pool.query(`SELECT id FROM ${t} ORDER BY id`)).rows).toEqual([{ id: 2 }]);
    expect(await itemsWithKey(h, [open, closed], hm.hash)).toEqual([]);
    expect(await movesLeft(hm.definitionId)).toBe(0);
  });
});

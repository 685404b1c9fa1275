import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { resolveConflict } from '../../../src/core/engine/resolve';
import { startHarness, type Harness } from '../../support/engineHarness';
import {
  checkedRun,
  defineRoutedTitles,
  ledgerPair,
  openConflictId,
  spEdit,
  syncedInOpen,
  whereRouted,
} from '../../support/routed';

/**
 * Routing (docs/design.md, routed lists): the push checks a row's route when it reads the row because Postgres
 * changed it. Three other paths pair a row in a list without the push reading it again: a pair revived (its row
 * deleted under deletes.push SOFT or IGNORE and inserted again), a resolve, and the pull adopting an item restored
 * from the recycle bin. Each left the item in a list the row no longer routes to, for good and without a word, once
 * the push's cursor had passed the row (found by review). Every case inserts a later row so that the cursor passes
 * row 1 (overlapSeconds 0: a push reads the row at the cursor's own timestamp again).
 */
describe('a row paired outside the push’s read still ends in the list it routes to', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  const push = (table: string) => checkedRun(h, 'push', table);
  const pull = (table: string) => checkedRun(h, 'pull', table);
  /** A later row, so that the push's cursor moves past row 1. */
  const laterRow = async (table: string) => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (2, 'later', 'OPEN')`);
  };

  /**
   * A MANUAL row synced in `open`, then its item's Title edited in SharePoint while Postgres closes the row (it routes
   * to `closed`) and retitles it; a later row follows.
   */
  const editedOnBothSides = async (table: string, open: string, closed: string) => {
    const pair = await syncedInOpen(h, h.ctx, table, open, closed);
    await spEdit(h, open, pair.itemId, { Title: 'sp' });
    await h.db.pool.query(`UPDATE ${table} SET status = 'CLOSED', title = 'pg' WHERE id = 1`);
    await laterRow(table);
    return pair;
  };

  it.each([
    ['IGNORE', { push: 'IGNORE' }],
    ['SOFT', { push: 'SOFT', pushSoftColumn: 'ArcoreDeleted' }],
  ])(
    'a row deleted under deletes.push %s and inserted again under another route moves with its pair',
    async (policy, deletes) => {
      const table = `revive_${policy.toLowerCase()}`;
      const [open, closed] = [`Rv${policy}Open`, `Rv${policy}Closed`];
      await defineRoutedTitles(h, table, open, closed, { deletes: deletes as never });
      await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 't', 'OPEN')`);
      expect(await push(table)).toMatchObject({ created: 1 });
      const pair = await ledgerPair(h, table);
      await h.db.pool.query(`DELETE FROM ${table} WHERE id = 1`);
      await push(table);
      const { rows } = await h.db.pool.query(
        'SELECT state FROM arcore.sync_ledger WHERE definition_id = $1 AND source_identity_hash = $2',
        [pair.definitionId, pair.hash],
      );
      expect(rows).toEqual([{ state: 'ORPHANED' }]);
      await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 't2', 'CLOSED')`);
      await laterRow(table);
      // Before: updated in its old list (Status CLOSED in the Open list), saved SYNCED there, never moved.
      expect(await push(table)).toMatchObject({ moved: 1, failed: 0 });
      await pull(table);
      expect(await push(table)).toMatchObject({ moved: 0, created: 0, updated: 0 });
      expect(await whereRouted(h, open, closed, pair.hash)).toEqual([{ list: 'Closed', title: 't2' }]);
    },
  );

  it('a conflict the push met while moving the row, resolved taking Postgres: the next push moves the item', async () => {
    const table = 'resolve_moving';
    const pair = await editedOnBothSides(table, 'RmOpen', 'RmClosed');
    expect((await runPush(h.ctx, table, { trigger: 'test' })).conflicts).toBe(1);
    await resolveConflict(h.ctx, await openConflictId(h, pair.definitionId), { take: 'postgres' }, 'test');
    const { rows: waiting } = await h.db.pool.query(
      "SELECT last_error FROM arcore.sync_failures WHERE definition_id = $1 AND direction = 'PUSH' AND status = 'PARKED'",
      [pair.definitionId],
    );
    expect(waiting).toEqual([
      { last_error: expect.stringMatching(/routes to "RmClosed".*next push moves it/) },
    ]);
    expect(await push(table)).toMatchObject({ moved: 1 });
    await pull(table);
    expect(await whereRouted(h, 'RmOpen', 'RmClosed', pair.hash)).toEqual([{ list: 'Closed', title: 'pg' }]);
    const { rows: left } = await h.db.pool.query(
      "SELECT count(*)::int AS n FROM arcore.sync_failures WHERE definition_id = $1 AND status = 'PARKED'",
      [pair.definitionId],
    );
    expect(left[0].n).toBe(0);
  });

  it('a conflict the pull found on a row whose route changed, resolved taking Postgres: the next push moves the item', async () => {
    const table = 'resolve_pulled';
    const pair = await editedOnBothSides(table, 'RpOpen', 'RpClosed');
    expect((await runPull(h.ctx, table, { trigger: 'test' })).conflicts).toBe(1);
    await push(table); // the conflict holds the row: the cursor passes it
    await resolveConflict(h.ctx, await openConflictId(h, pair.definitionId), { take: 'postgres' }, 'test');
    expect(await push(table)).toMatchObject({ moved: 1 });
    await pull(table);
    expect(await whereRouted(h, 'RpOpen', 'RpClosed', pair.hash)).toEqual([{ list: 'Closed', title: 'pg' }]);
  });

  it('an item restored from the recycle bin in the list its row no longer routes to is moved once the pull adopts it', async () => {
    const table = 'restored_routed';
    const [open, closed] = ['RsOpen', 'RsClosed'];
    await defineRoutedTitles(h, table, open, closed, {
      deletes: { push: 'PROPAGATE', pull: 'IGNORE' } as never,
    });
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 't', 'OPEN')`);
    expect(await push(table)).toMatchObject({ created: 1 });
    await pull(table);
    const pair = await ledgerPair(h, table);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${open}/items/${pair.itemId}`)).status).toBe(
      204,
    );
    await pull(table); // IGNORE: the row is kept without an item (ITEM_DELETED)
    await h.db.pool.query(`UPDATE ${table} SET status = 'CLOSED' WHERE id = 1`);
    await laterRow(table);
    await push(table); // no item to move: the entry follows the route with no item id
    h.emulator.control.restoreItem(h.siteId, open, pair.itemId, 'alice');
    await pull(table);
    expect(await push(table)).toMatchObject({ moved: 1 });
    await pull(table);
    expect(await push(table)).toMatchObject({ moved: 0, created: 0 });
    const where = await whereRouted(h, open, closed, pair.hash);
    expect(where).toEqual([{ list: 'Closed', title: 't' }]);
  });
});

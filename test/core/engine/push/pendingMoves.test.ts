import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { PENDING_CREATE_SETTLE_SECONDS } from '../../../../src/core/engine/push/pendingCreates';
import type { EngineContext } from '../../../../src/core/engine/types';
import { startSettlingHarness, type Harness } from '../../../support/engineHarness';
import {
  defineRoutedTitles,
  definitionListId,
  itemsWithKey,
  ledgerPair,
  spEdit,
  whereRouted,
} from '../../../support/routed';

/**
 * I6, docs/design.md "Creates a stopped run left pending": the create of a move (a routed row changing lists) that
 * a stopped run sent may land after the next run looked for it. That run must not move the row again meanwhile,
 * or the new list gets two items of one row.
 */
describe('I6 moves in flight: a move whose create lands late', () => {
  let h: Harness;
  let ctx: EngineContext;
  let n = 0;
  beforeAll(async () => ({ h, ctx } = await startSettlingHarness()));
  afterAll(async () => h.close());

  /** A case synced into Open: its table, lists, identity hash and item. */
  async function syncedCase() {
    n++;
    const table = `cases${n}`;
    const [open, closed] = [`Open${n}`, `Closed${n}`];
    await defineRoutedTitles(h, table, open, closed, {
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
        { source: 'notes', target: 'Notes', direction: 'PULL_ONLY' },
      ],
    });
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 'c${n}', 'OPEN')`);
    expect(await runPush(ctx, table, { trigger: 'test' })).toMatchObject({ created: 1 });
    const { hash, definitionId, itemId: openItem } = await ledgerPair(h, table);
    const listId = (name: string) => definitionListId(h, definitionId, name);
    // Where the row's items are: 'Open' and 'Closed' for its two lists.
    const where = async () => (await whereRouted(h, open, closed, hash)).map((i) => i.list);
    // The last push was killed: its run is ABANDONED.
    const killed = () =>
      h.db.pool.query(
        `UPDATE arcore.sync_runs SET status = 'ABANDONED', finished_at = now() WHERE id = (
           SELECT max(id) FROM arcore.sync_runs WHERE definition_id = $1 AND run_type = 'PUSH')`,
        [definitionId],
      );
    const push = () => runPush(ctx, table, { trigger: 'test' });
    const pull = () => runPull(ctx, table, { trigger: 'test' });
    const tableRows = async () => (await h.db.pool.query(`SELECT id FROM ${table}`)).rows;
    return {
      table,
      open,
      closed,
      hash,
      definitionId,
      openItem,
      listId,
      where,
      killed,
      push,
      pull,
      rows: tableRows,
    };
  }

  /** A case synced into Open, then closed, with the move a stopped run recorded (its create sent, not landed). */
  async function stoppedMidMove() {
    const c = await syncedCase();
    const { table, open, closed, hash, definitionId, openItem, listId } = c;
    await h.db.pool.query(`UPDATE ${table} SET status = 'CLOSED' WHERE id = 1`);
    await h.db.pool.query(
      `INSERT INTO arcore.sync_moves (definition_id, source_identity_hash, from_list_id, from_item_id, to_list_id)
       VALUES ($1, $2, $3, $4, $5)`,
      [definitionId, hash, await listId(open), openItem, await listId(closed)],
    );
    const lands = async () => {
      const res = await h.asUser('POST', `/sites/${h.siteId}/lists/${closed}/items`, {
        fields: { Title: table.replace('cases', 'c'), Status: 'CLOSED', ArcoreKey: hash },
      });
      expect(res.status).toBe(201);
      return (res.body as { id: string }).id;
    };
    const waitOver = () =>
      h.db.pool.query(
        `UPDATE arcore.sync_moves SET checked_at = now() - make_interval(secs => $3)
          WHERE definition_id = $1 AND source_identity_hash = $2`,
        [definitionId, hash, PENDING_CREATE_SETTLE_SECONDS + 1],
      );
    await c.killed();
    return { ...c, lands, waitOver };
  }

  /**
   * A case synced into Open, then closed, and a push stopped between its move's create and the old item's
   * delete: the move was recorded by the push itself (with what its create sent), the new item landed in Closed,
   * the old one is still in Open (its delete refused, then the run killed).
   */
  async function createLanded() {
    const c = await syncedCase();
    await h.db.pool.query(`UPDATE ${c.table} SET status = 'CLOSED' WHERE id = 1`);
    h.emulator.control.injectFault({
      method: 'DELETE',
      pathPattern: `/lists/${await c.listId(c.open)}/items/`,
      status: 403,
      count: 1,
    });
    try {
      expect(await c.push()).toMatchObject({ moved: 0, failed: 1 });
    } finally {
      h.emulator.control.clearFaults();
    }
    await c.killed();
    expect((await c.where()).sort()).toEqual(['Closed', 'Open']);
    const [moved] = (await itemsWithKey(h, [c.closed], c.hash)).map((i) => i.id);
    const item = async () => (await h.items(c.closed)).find((i) => i.id === moved);
    const row = async () =>
      (
        await h.db.pool.query<{ title: string; notes: string | null }>(
          `SELECT title, notes FROM ${c.table} WHERE id = 1`,
        )
      ).rows[0];
    const ledgerETag = async () =>
      (
        await h.db.pool.query<{ e: string }>(
          'SELECT sp_etag AS e FROM arcore.sync_ledger WHERE definition_id = $1 AND source_identity_hash = $2',
          [c.definitionId, c.hash],
        )
      ).rows[0]?.e;
    const conflicts = async () =>
      (
        await h.db.pool.query<{ sharepoint: Record<string, unknown>; postgres: Record<string, unknown> }>(
          `SELECT sharepoint_values AS sharepoint, postgres_values AS postgres FROM arcore.sync_conflicts
            WHERE definition_id = $1 ORDER BY id`,
          [c.definitionId],
        )
      ).rows;
    return { ...c, moved, item, row, ledgerETag, conflicts };
  }

  it('the next run does not move the row again while the create may land; once it landed, the move finishes', async () => {
    const s = await stoppedMidMove();
    await s.push();
    expect(await s.where()).toEqual(['Open']);
    await s.lands();
    await s.push(); // inside the wait: SharePoint is not asked again, nothing moves
    expect(await s.where()).toEqual(['Open', 'Closed']);
    await s.waitOver();
    await s.push();
    expect(await s.where()).toEqual(['Closed']);
  });

  it('a move whose create never landed is made again once the wait is over, once', async () => {
    const s = await stoppedMidMove();
    await s.push();
    expect(await s.where()).toEqual(['Open']);
    await s.waitOver();
    await s.push();
    expect(await s.where()).toEqual(['Closed']);
    await s.push();
    expect(await s.where()).toEqual(['Closed']);
  });

  it('a row deleted while its move waits leaves no item behind when the create lands late, and is not pulled back', async () => {
    const s = await stoppedMidMove();
    await s.push(); // first miss: the move waits
    await h.db.pool.query(`DELETE FROM ${s.table} WHERE id = 1`);
    await s.push(); // the delete takes the old item, inside the wait
    await s.push();
    await s.lands(); // the stopped run's create lands now, inside the wait
    await s.pull(); // the pull leaves an item of a move in flight to the push
    expect(await s.rows()).toEqual([]);
    await s.waitOver();
    await s.push();
    await s.pull();
    expect(await s.where()).toEqual([]);
    expect(await s.rows()).toEqual([]);
  });

  it('a row deleted and inserted again while its move waits gets its item once the wait is over', async () => {
    const s = await stoppedMidMove();
    await s.push(); // first miss: the move waits
    await h.db.pool.query(`DELETE FROM ${s.table} WHERE id = 1`);
    await s.push(); // the delete takes the old item, inside the wait; the entry goes
    await h.db.pool.query(`INSERT INTO ${s.table} (id, title, status) VALUES (1, 'again', 'CLOSED')`);
    await h.db.pool.query('SELECT pg_sleep(0.05)');
    await h.db.pool.query(`INSERT INTO ${s.table} (id, title, status) VALUES (2, 'other', 'OPEN')`);
    await s.push(); // row 1 waits for its move (parked) while the cursor passes it
    await s.lands(); // the stopped run's create lands, inside the wait
    await s.waitOver();
    await s.push(); // the late item goes (no pair names it), and the parked row is pushed again
    await s.push();
    expect(await s.where()).toEqual(['Closed']);
  });

  it('an edit made to the moved-in item while the move waited reaches Postgres; the finished move does not overwrite it', async () => {
    const s = await createLanded();
    await spEdit(h, s.closed, s.moved, { Title: 'edited in sp', Notes: 'noted in sp' });
    await s.pull(); // the pull leaves an item of a move in flight to the push (its change is read past)
    expect(await s.push()).toMatchObject({ moved: 1, updated: 0, conflicts: 0 });
    expect(await s.where()).toEqual(['Closed']);
    expect((await s.item())?.fields.Title).toBe('edited in sp');
    await s.pull();
    // The pull-only field too: the move sent it (carried from the old item), so its edit is a change.
    expect(await s.row()).toEqual({ title: 'edited in sp', notes: 'noted in sp' });
    expect(await s.conflicts()).toEqual([]);
    expect(await s.push()).toMatchObject({ updated: 0, conflicts: 0 });
    expect((await s.item())?.fields.Title).toBe('edited in sp');
  });

  it('an edit made to the moved-in item while the move waited, and to the row, is a conflict the policy decides', async () => {
    const s = await createLanded();
    await spEdit(h, s.closed, s.moved, { Title: 'edited in sp' });
    await h.db.pool.query(`UPDATE ${s.table} SET title = 'edited in pg' WHERE id = 1`);
    expect(await s.push()).toMatchObject({ moved: 1, conflicts: 1 });
    // SOURCE_WINS: Postgres's title stands, and the conflict keeps what SharePoint held.
    expect(await s.conflicts()).toEqual([
      expect.objectContaining({
        sharepoint: expect.objectContaining({ Title: 'edited in sp' }),
        postgres: expect.objectContaining({ Title: 'edited in pg' }),
      }),
    ]);
    expect((await s.item())?.fields.Title).toBe('edited in pg');
  });

  it('an unedited moved-in item finishes its move with its own eTag: no write, no conflict', async () => {
    const s = await createLanded();
    expect(await s.push()).toMatchObject({ moved: 1, updated: 0, conflicts: 0 });
    expect(await s.ledgerETag()).toBe((await s.item())?.eTag);
    expect(await s.pull()).toMatchObject({ updated: 0, conflicts: 0 });
    expect(await s.push()).toMatchObject({ updated: 0, conflicts: 0 });
    expect(await s.conflicts()).toEqual([]);
  });

  // docs/design.md, moves in flight: an edit of the old item a pull applied is one the new item lacks. Finishing
  // the move deleted the old item and lost the pull-only value from SharePoint.
  it('an edit of the old item a pull applied while the move waited reaches the moved item (the move is made again)', async () => {
    const s = await createLanded();
    const edit = { Title: 'retitled on the old item', Notes: 'typed on the old item' };
    await spEdit(h, s.open, s.openItem, edit);
    await s.pull();
    expect(await s.row()).toEqual({ title: edit.Title, notes: edit.Notes });
    await s.push(); // the new item lacks the pull-only edit: the move is undone
    await s.push(); // and made again, with the edit
    await s.pull();
    const items = await itemsWithKey(h, [s.open, s.closed], s.hash);
    expect(items.map((i) => [i.list, i.fields.Title, i.fields.Notes])).toEqual([
      [s.closed, edit.Title, edit.Notes],
    ]);
    expect(await s.row()).toEqual({ title: edit.Title, notes: edit.Notes });
    expect(await s.conflicts()).toEqual([]);
    expect(await s.push()).toMatchObject({ moved: 0, updated: 0, created: 0 });
  });

  it('an edit of a field the push writes, made on the old item and pulled while the move waited, needs no second move', async () => {
    const s = await createLanded();
    await spEdit(h, s.open, s.openItem, { Title: 'retitled on the old item' });
    await s.pull();
    expect(await s.push()).toMatchObject({ moved: 1, created: 0 });
    expect((await s.item())?.fields.Title).toBe('retitled on the old item');
    expect(await s.where()).toEqual(['Closed']);
    expect(await s.conflicts()).toEqual([]);
  });

  // docs/design.md, moves in flight: the undo of a waiting move deleted the new item without looking at it.
  it('an edit of the new item survives an old item saved with no synced change: the move finishes onto it', async () => {
    const s = await createLanded();
    await spEdit(h, s.closed, s.moved, { Title: 'typed in the new item' });
    await s.pull(); // leaves the new item to the push (a move in flight): its delta reads past the edit
    await spEdit(h, s.open, s.openItem, { Title: s.table.replace('cases', 'c') }); // a new eTag only
    await s.push(); // the old item's delete meets a 412; it holds nothing new: deleted with its current eTag
    await s.pull();
    await s.push();
    const items = await itemsWithKey(h, [s.open, s.closed], s.hash);
    expect(items.map((i) => [i.list, i.fields.Title])).toEqual([[s.closed, 'typed in the new item']]);
    expect((await s.row()).title).toBe('typed in the new item');
  });

  it('both items edited while the move waited: neither is deleted, the row says what to do; the item kept wins', async () => {
    const s = await createLanded();
    const parked = async () =>
      (
        await h.db.pool.query<{ e: string }>(
          `SELECT last_error AS e FROM arcore.sync_failures
            WHERE definition_id = $1 AND item_key = $2 AND status = 'PARKED'`,
          [s.definitionId, s.hash],
        )
      ).rows.map((r) => r.e);
    await spEdit(h, s.closed, s.moved, { Title: 'typed in the new item' });
    await spEdit(h, s.open, s.openItem, { Title: 'typed in the old item' });
    await s.push();
    expect((await s.where()).sort()).toEqual(['Closed', 'Open']);
    expect(await parked()).toEqual([expect.stringContaining('were both edited in SharePoint')]);
    // Held, the row was not tried: the held run counts no attempt beyond the delete that failed (review r9).
    const failures = () =>
      h.db.pool.query<{ attempts: number; status: string }>(
        'SELECT attempts, status FROM arcore.sync_failures WHERE definition_id = $1 AND item_key = $2',
        [s.definitionId, s.hash],
      );
    expect((await failures()).rows).toEqual([{ attempts: 1, status: 'PARKED' }]);
    // The user keeps the new item: deleting the old one lets the next push finish the move onto it.
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${s.open}/items/${s.openItem}`)).status).toBe(
      204,
    );
    await s.push();
    await s.pull();
    expect(await s.where()).toEqual(['Closed']);
    expect((await s.item())?.fields.Title).toBe('typed in the new item');
    expect((await s.row()).title).toBe('typed in the new item');
    expect((await failures()).rows).toEqual([{ attempts: 1, status: 'RESOLVED' }]);
  });

  it('an edited extra copy of the moved item is not deleted: the move waits for the user', async () => {
    const s = await createLanded();
    const res = await h.asUser('POST', `/sites/${h.siteId}/lists/${s.closed}/items`, {
      fields: { Title: 'typed in a late copy', Status: 'CLOSED', ArcoreKey: s.hash },
    });
    expect(res.status).toBe(201);
    await s.push();
    expect((await s.where()).sort()).toEqual(['Closed', 'Closed', 'Open']);
    const copy = (res.body as { id: string }).id;
    const { rows } = await h.db.pool.query<{ e: string }>(
      `SELECT last_error AS e FROM arcore.sync_failures WHERE definition_id = $1 AND item_key = $2`,
      [s.definitionId, s.hash],
    );
    expect(rows.map((r) => r.e)).toEqual([
      expect.stringContaining(`extra copies of this row's item (${copy}`),
    ]);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${s.closed}/items/${copy}`)).status).toBe(204);
    await s.push();
    expect(await s.where()).toEqual(['Closed']);
  });

  /** Review r9: the wait was counted as one failed attempt, and the finished move left a failure on record. */
  it('a row waiting for its move is parked once: runs inside the wait do not count as failed attempts', async () => {
    const s = await stoppedMidMove();
    const parked = async () =>
      (
        await h.db.pool.query<{ attempts: number; due: boolean }>(
          `SELECT attempts, next_attempt_at <= now() AS due FROM arcore.sync_failures
            WHERE definition_id = $1 AND item_key = $2 AND status = 'PARKED'`,
          [s.definitionId, s.hash],
        )
      ).rows;
    await s.push(); // first miss: the move waits, the row read by the cursor is parked
    expect(await parked()).toEqual([{ attempts: 0, due: true }]);
    await s.push(); // inside the wait: the retried row waits again
    await s.push();
    expect(await parked()).toEqual([{ attempts: 0, due: true }]);
    await s.lands();
    await s.waitOver();
    await s.push();
    expect(await s.where()).toEqual(['Closed']);
    expect(await parked()).toEqual([]);
    // No attempt failed: nothing is left on record (no RESOLVED failure).
    const { rows } = await h.db.pool.query(
      'SELECT 1 FROM arcore.sync_failures WHERE definition_id = $1 AND item_key = $2',
      [s.definitionId, s.hash],
    );
    expect(rows).toEqual([]);
  });
});

import { runPush } from '../../../../src/core/engine/push';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { defineRoutedTitles, expectBalanced, itemsWithKey, ledgerPair } from '../../../support/routed';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

/**
 * Row 1 ('t', OPEN) of a routed definition that does not pull, created in `open` by a push; then a SharePoint user
 * deletes its item and the row's status changes in Postgres (it now routes to `closed`). Its identity hash.
 */
async function deletedItemRoutedAway(table: string, open: string, closed: string): Promise<string> {
  await defineRoutedTitles(h, table, open, closed, { pull: { enabled: false } });
  await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 't', 'OPEN')`);
  expect(await runPush(h.ctx, table, { trigger: 'test' })).toMatchObject({ created: 1 });
  const pair = await ledgerPair(h, table);
  const deleted = await h.asUser('DELETE', `/sites/${h.siteId}/lists/${open}/items/${pair.itemId}`);
  expect(deleted.status).toBe(204);
  await h.db.pool.query(`UPDATE ${table} SET status = 'CLOSED' WHERE id = 1`);
  return pair.hash;
}

describe('I8/I10 a move meeting an old item deleted in SharePoint (docs/design.md, moves)', () => {
  it('re-creates the item where the row routes, not in the old list it then has to move out of', async () => {
    const table = 'md1';
    const [open, closed] = ['MdOpen', 'MdClosed'];
    const hash = await deletedItemRoutedAway(table, open, closed);

    const first = await runPush(h.ctx, table, { trigger: 'test' });
    expect(first.error).toBeNull();
    expectBalanced(first);
    const afterFirst = (await itemsWithKey(h, [open, closed], hash)).map((i) => i.list);
    const second = await runPush(h.ctx, table, { trigger: 'test' });
    expectBalanced(second);
    const afterSecond = (await itemsWithKey(h, [open, closed], hash)).map((i) => i.list);
    // End state: one item, in Closed.
    expect(afterSecond).toEqual([closed]);
    // Re-created at once where the row routes (a conflict the policy decided: SharePoint deleted, Postgres
    // changed), so the second push has nothing to move.
    expect({ afterFirst, conflicts: first.conflicts, second: [second.created, second.moved] }).toEqual({
      afterFirst: [closed],
      conflicts: 1,
      second: [0, 0],
    });
  });
  it('leaves no parked failure behind', async () => {
    const table = 'mdp1';
    const [open, closed] = ['MdpOpen', 'MdpClosed'];
    await deletedItemRoutedAway(table, open, closed);

    h.emulator.control.clearRequestLog();
    const first = await runPush(h.ctx, table, { trigger: 'test' });
    expect(first.error).toBeNull();
    const log = h.emulator.control.requestLog();
    const parked = (
      await h.db.pool.query<{ last_error: string }>(
        `SELECT last_error FROM arcore.sync_failures WHERE status = 'PARKED'`,
      )
    ).rows.map((r) => r.last_error);
    // The item is created, undone and re-created where the row routes (one create and one delete more than a
    // direct move: docs/design.md); nothing is left parked, since nothing is owed.
    expect({
      parked,
      creates: log.filter((r) => r.method === 'POST' && /\/items$/.test(r.path)).length,
    }).toEqual({
      parked: [],
      creates: 2,
    });
  });
});

import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { resolveConflict, ResolutionValueError } from '../../../src/core/engine/resolve';
import { startHarness, type Harness } from '../../support/engineHarness';
import { defineProjects } from '../../support/projects';
import {
  checkedRun,
  defineRoutedTitles,
  landItem,
  ledgerPair,
  movedByHand,
  whereRouted,
} from '../../support/routed';

/**
 * I1/I6/I7: an item created in SharePoint with the hidden key of a row that is already paired with a live item
 * (a copy, a flow, an import) never takes the row over. Adoption by key is only for an item a crashed push
 * created (PENDING_CREATE) or one standing in for a paired item that is gone.
 */
describe('I6 adoption by hidden key: copies of a paired item', () => {
  let h: Harness;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  async function synced() {
    n++;
    const name = `cp${n}`;
    await defineProjects(h, name);
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'orig', 10)`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    await push();
    await pull();
    const [original] = await h.items(name);
    const items = `/sites/${h.siteId}/lists/${name}/items`;
    const copy = async (fields: Record<string, unknown>) => {
      const res = await h.asUser('POST', items, {
        fields: { ...fields, ArcoreKey: original.fields.ArcoreKey },
      });
      expect(res.status).toBe(201);
      return (res.body as { id: string }).id;
    };
    const row = async () =>
      (await h.db.pool.query(`SELECT name, budget FROM ${name} WHERE id = 1`)).rows[0] as
        { name: string; budget: string } | undefined;
    const ledger = async () =>
      (
        await h.db.pool.query(
          `SELECT l.sp_item_id FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
            WHERE d.name = $1`,
          [name],
        )
      ).rows.map((r) => r.sp_item_id as string);
    const conflicts = async () =>
      (
        await h.db.pool.query(
          `SELECT c.id, c.kind, c.status, c.outcome, c.sp_item_id, c.reason, c.fields FROM arcore.sync_conflicts c
             JOIN arcore.sync_definitions d ON d.id = c.definition_id WHERE d.name = $1 ORDER BY c.id`,
          [name],
        )
      ).rows;
    return { name, push, pull, original, items, copy, row, ledger, conflicts };
  }

  it('a copy carrying a paired key is an OPEN conflict naming both items; the row and the pair are untouched', async () => {
    const s = await synced();
    const copyId = await s.copy({ Title: 'copied', Budget: 99 });
    const summary = await s.pull();
    expect(summary).toMatchObject({ conflicts: 1, updated: 0, created: 0, failed: 0 });
    expect(await s.row()).toEqual({ name: 'orig', budget: '10.00' });
    expect(await s.ledger()).toEqual([s.original.id]);
    const [c] = await s.conflicts();
    expect(c).toMatchObject({ kind: 'COPY', status: 'OPEN', sp_item_id: copyId });
    expect(c.reason).toContain(`item ${copyId} carries the hidden key`);
    expect(c.reason).toContain(`paired with item ${s.original.id}`);
    expect(c.fields).toEqual(['Title', 'Budget']);
    // Both items stay; the copy is not paired and was not written.
    const items = await h.items(s.name);
    expect(items.map((i) => i.fields.Title).sort()).toEqual(['copied', 'orig']);

    // The pair keeps syncing both ways: a COPY conflict does not park the row.
    await h.db.pool.query(`UPDATE ${s.name} SET budget = 11 WHERE id = 1`);
    expect((await s.push()).updated).toBe(1);
    expect((await h.items(s.name)).find((i) => i.id === s.original.id)?.fields.Budget).toBe(11);
    await h.asUser('PATCH', `${s.items}/${s.original.id}/fields`, { Title: 'orig edited' });
    await s.pull();
    expect(await s.row()).toEqual({ name: 'orig edited', budget: '11.00' });
    // The copy was looked at again (it is parked) and is still a conflict, recorded once.
    const open = (await s.conflicts()).filter((x) => x.status === 'OPEN');
    expect(open).toHaveLength(1);
    expect(await s.ledger()).toEqual([s.original.id]);

    // resolve cannot settle a copy by taking values: it says what to do instead.
    await expect(resolveConflict(h.ctx, c.id, { take: 'sharepoint' }, 'test')).rejects.toThrow(
      ResolutionValueError,
    );
    await expect(resolveConflict(h.ctx, c.id, { take: 'postgres' }, 'test')).rejects.toThrow(
      /Delete item \d+ in SharePoint, or clear its hidden key column/,
    );
  });

  it('deleting the copy in SharePoint closes its conflict', async () => {
    const s = await synced();
    const copyId = await s.copy({ Title: 'copied' });
    await s.pull();
    expect((await h.asUser('DELETE', `${s.items}/${copyId}`)).status).toBe(204);
    await s.pull();
    expect(await s.conflicts()).toEqual([
      expect.objectContaining({ kind: 'COPY', status: 'RESOLVED', outcome: 'SETTLED' }),
    ]);
    expect(await s.row()).toEqual({ name: 'orig', budget: '10.00' });
    expect(await s.ledger()).toEqual([s.original.id]);
  });

  it('once the paired item is gone, the copy is adopted in its place (recovery) and its edits apply', async () => {
    const s = await synced();
    const copyId = await s.copy({ Title: 'copied', Budget: 99 });
    await s.pull();
    expect((await h.asUser('DELETE', `${s.items}/${s.original.id}`)).status).toBe(204);
    const summary = await s.pull();
    expect(summary.failed).toBe(0);
    // The row survives, paired with the copy, and takes the copy's values (edits made in SharePoint).
    expect(await s.ledger()).toEqual([copyId]);
    expect(await s.row()).toEqual({ name: 'copied', budget: '99.00' });
    expect(await s.conflicts()).toEqual([
      expect.objectContaining({ kind: 'COPY', status: 'RESOLVED', outcome: 'ADOPTED' }),
    ]);
    const { rows } = await h.db.pool.query(
      `SELECT count(*)::int AS n FROM arcore.sync_failures f JOIN arcore.sync_definitions d ON d.id = f.definition_id
        WHERE d.name = $1 AND f.status = 'PARKED'`,
      [s.name],
    );
    expect(rows[0].n).toBe(0);
    // I4: settled, one item for one row.
    await s.push();
    const again = [await s.push(), await s.pull()];
    expect(again.map((x) => x.created + x.updated + x.deleted)).toEqual([0, 0]);
    expect((await h.items(s.name)).map((i) => i.id)).toEqual([copyId]);
  });

  it('a copy whose retry backs off still takes the place of the paired item deleted meanwhile', async () => {
    const s = await synced();
    const copyId = await s.copy({ Title: 'copied', Budget: 99 });
    await s.pull();
    // Seen again and again, the copy's retry backs off: the original's tombstone comes first.
    await h.db.pool.query(
      `UPDATE arcore.sync_failures SET attempts = 5, next_attempt_at = now() + interval '15 minutes'
        WHERE sp_item_id = $1 AND status = 'PARKED'`,
      [copyId],
    );
    expect((await h.asUser('DELETE', `${s.items}/${s.original.id}`)).status).toBe(204);
    expect(await s.pull()).toMatchObject({ deleted: 0, failed: 0 });
    expect(await s.ledger()).toEqual([copyId]);
    expect(await s.pull()).toMatchObject({ updated: 1, failed: 0 });
    expect(await s.row()).toEqual({ name: 'copied', budget: '99.00' });
    expect(await s.conflicts()).toEqual([
      expect.objectContaining({ kind: 'COPY', status: 'RESOLVED', outcome: 'ADOPTED' }),
    ]);
  });

  // Routed: a copy in another list of the row's routes (a user moving the item by hand).
  it('once the paired item is gone, the copy a user made in the other list is adopted in its place', async () => {
    const [table, open, closed] = ['cp_routed', 'CpOpen', 'CpClosed'];
    const { pair, copy } = await movedByHand(h, table, open, closed);
    await checkedRun(h, 'pull', table);
    // The row survives (its unmapped notes with it), paired with the copy, and takes the copy's edit.
    const { rows } = await h.db.pool.query(`SELECT title, notes FROM ${table} WHERE id = 1`);
    expect(rows).toEqual([{ title: 'copied', notes: 'kept' }]);
    expect(await ledgerPair(h, table)).toMatchObject({ itemId: copy.id });
    const { rows: conflicts } = await h.db.pool.query(
      'SELECT status, outcome FROM arcore.sync_conflicts WHERE definition_id = $1',
      [pair.definitionId],
    );
    expect(conflicts).toEqual([{ status: 'RESOLVED', outcome: 'ADOPTED' }]);
    // The row routes to Open: the next push moves the copy there, once.
    expect(await checkedRun(h, 'push', table)).toMatchObject({ moved: 1, created: 0 });
    expect(await whereRouted(h, open, closed, pair.hash)).toEqual([{ list: 'Open', title: 'copied' }]);
    const { rows: parked } = await h.db.pool.query(
      "SELECT item_key FROM arcore.sync_failures WHERE definition_id = $1 AND status = 'PARKED'",
      [pair.definitionId],
    );
    expect(parked).toEqual([]);
  });

  it('copies in two lists that share an item id are two conflicts, each closed only by its own item', async () => {
    const [table, open, closed] = ['cp_ids', 'CiOpen', 'CiClosed'];
    await defineRoutedTitles(h, table, open, closed);
    await h.db.pool.query(
      `INSERT INTO ${table} (id, title, status) VALUES (1, 'one', 'OPEN'), (2, 'two', 'CLOSED')`,
    );
    await checkedRun(h, 'push', table);
    await checkedRun(h, 'pull', table);
    const [one, two] = [await ledgerPair(h, table, 1), await ledgerPair(h, table, 2)];
    // Each list numbers its own items: the copies of row 1 (into Closed) and of row 2 (into Open) share an id.
    const copyOne = await landItem(h, closed, one.hash, { Title: 'one copied', Status: 'OPEN' });
    const copyTwo = await landItem(h, open, two.hash, { Title: 'two copied', Status: 'CLOSED' });
    expect(copyOne.id).toBe(copyTwo.id);
    expect((await checkedRun(h, 'pull', table)).conflicts).toBe(2);
    const open_ = async () =>
      (
        await h.db.pool.query(
          `SELECT source_identity->>'id' AS id, sp_item_id AS item, reason FROM arcore.sync_conflicts
            WHERE definition_id = $1 AND status = 'OPEN' ORDER BY 1`,
          [one.definitionId],
        )
      ).rows;
    expect(await open_()).toEqual([
      { id: '1', item: copyOne.id, reason: expect.stringContaining(`paired with item ${one.itemId}`) },
      { id: '2', item: copyTwo.id, reason: expect.stringContaining(`paired with item ${two.itemId}`) },
    ]);
    // Deleting the copy in Closed settles its conflict only: the one of Open's item of the same id stays.
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${closed}/items/${copyOne.id}`)).status).toBe(
      204,
    );
    await checkedRun(h, 'pull', table);
    expect(await open_()).toEqual([expect.objectContaining({ id: '2', item: copyTwo.id })]);
  });
});

import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { installCursorFor } from '../../../../src/core/ops';
import { parseDefinition } from '../../../../src/core/definition/parse';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../../support/engineHarness';
import { eventually, racingEdit } from '../../../support/eventually';
import { defineProjects } from '../../../support/projects';
import { checkedRun, ledgerPair, movedByHand, whereRouted } from '../../../support/routed';

/**
 * A push whose write meets a 412 (or a 404) settles the pair (push/conflicts.ts) under the definition's policy
 * (docs/design.md I7, I8). Found by review (r5).
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

/**
 * A push whose If-Match write meets a 412 settles the pair (push/conflicts.ts). When the decision writes SharePoint's
 * values into Postgres (an update, or a deleted row brought back) and Postgres refuses them (a varchar(10) column, a
 * CHECK, a NOT NULL), that row is parked naming the refusal; the page commits and later changes keep flowing
 * (I12, I5c, "never loop"). Found by review.
 */
describe('I12 a Postgres refusal while the push settles a 412 (docs/design.md, I12)', () => {
  it('parks the row and keeps pushing the rest of the table', async () => {
    const name = 'rv_refuse';
    await createProjectsTable(h.db, name);
    await h.db.pool.query(`ALTER TABLE ${name} ALTER COLUMN name TYPE varchar(10)`);
    await h.define(
      projectsDefinition(
        {
          name,
          source: {
            table: name,
            key: ['id'],
            cursor: { type: 'TIMESTAMP', column: 'updated_at' },
            pageSize: 1,
          },
        },
        name,
      ),
    );
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10), (2, 'two', 20), (3, 'three', 30)`,
    );
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 3 });
    await pull();

    // Ordinary two-way editing: a SharePoint user renames item 1 (SharePoint takes 255 characters), while
    // Postgres changes row 1's budget. Different fields: not even a conflict (I7, FIELD detection).
    const item1 = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item1.id}/fields`, {
      Title: 'a much longer title',
    });
    expect(res.status).toBe(200);
    await h.db.pool.query(`UPDATE ${name} SET budget = 11 WHERE id = 1`);
    const first = await push();

    // Later, unrelated rows change in Postgres, one after the other.
    await h.db.pool.query(`UPDATE ${name} SET budget = 21 WHERE id = 2`);
    await h.db.pool.query(`UPDATE ${name} SET budget = 31 WHERE id = 3`);
    const second = await push();
    // A pull in between changes nothing: it parks item 1 (Postgres refuses the title) and leaves the pair as is.
    const pulled = await pull();
    const third = await push();
    const budgets = Object.fromEntries((await h.items(name)).map((i) => [i.id, i.fields.Budget]));

    // Expected (I12): row 1 is parked with Postgres's message, the rest of the table keeps flowing.
    expect({
      first: first.status,
      second: second.status,
      third: third.status,
      error: third.error,
      pull: pulled.status,
      budgets,
    }).toEqual({
      first: 'PARTIAL',
      second: expect.stringMatching(/SUCCEEDED|PARTIAL/),
      third: expect.stringMatching(/SUCCEEDED|PARTIAL/),
      error: null,
      pull: 'PARTIAL',
      budgets: { [item1.id]: 10, '2': 21, '3': 31 },
    });
    const parked = await h.db.pool.query<{ e: string }>(
      "SELECT last_error AS e FROM arcore.sync_failures WHERE direction = 'PUSH' AND status = 'PARKED'",
    );
    expect(parked.rows.map((r) => r.e)).toEqual([
      expect.stringMatching(
        /Postgres refuses the values decided for this row .*"a much longer title": 19 characters, more than column name \(varchar\(10\)\) holds/,
      ),
    ]);
  });

  it('a row deleted in Postgres whose edited item DESTINATION_WINS brings back, refused by Postgres, is held as one open conflict', async () => {
    const name = 'rv_refuse_del';
    await createProjectsTable(h.db, name);
    // A column the definition does not map, which the application always fills (NOT NULL, no default).
    await h.db.pool.query(`ALTER TABLE ${name} ADD COLUMN owner text NOT NULL DEFAULT 'app'`);
    await h.db.pool.query(`ALTER TABLE ${name} ALTER COLUMN owner DROP DEFAULT`);
    await h.define(
      projectsDefinition(
        {
          name,
          source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          conflictPolicy: 'DESTINATION_WINS',
        },
        name,
      ),
    );
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name, budget, owner) VALUES (1, 'one', 10, 'ann'), (2, 'two', 20, 'bob')`,
    );
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 2 });
    const item1 = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
    expect(
      (await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item1.id}/fields`, { Budget: 15 }))
        .status,
    ).toBe(200);
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    const runs = [await push(), await push(), await push()];
    const conflicts = await h.db.pool.query<{ status: string; reason: string }>(
      `SELECT c.status, c.reason FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1`,
      [name],
    );
    // I12: the row that cannot be brought back is held as one open conflict naming the refusal; runs go on; the
    // item (with its SharePoint edit) stays.
    expect({
      statuses: runs.map((r) => r.status),
      error: runs[2].error,
      conflicts: conflicts.rows,
      kept: (await h.items(name)).some((i) => i.id === item1.id),
    }).toEqual({
      statuses: [
        'PARTIAL',
        expect.stringMatching(/SUCCEEDED|PARTIAL/),
        expect.stringMatching(/SUCCEEDED|PARTIAL/),
      ],
      error: null,
      conflicts: [
        {
          status: 'OPEN',
          reason: expect.stringMatching(
            /Postgres refuses to bring the row back .*null value in column "owner"/,
          ),
        },
      ],
      kept: true,
    });
  });
});

describe('I7/I8 push conflicts settled after a 412 (docs/design.md, I7, I8)', () => {
  let n = 0;

  /**
   * LAST_WRITER_WINS, delete capture: the item is edited in SharePoint and the row deleted in Postgres; the delete's
   * time is its tombstone's (deleted_at), compared with the item's lastModifiedDateTime.
   */
  async function deleteAgainstEdit(deleteFirst: boolean, pullFirst = false) {
    n++;
    const name = `pcl${n}`;
    await createProjectsTable(h.db, name);
    const input = projectsDefinition(
      {
        name,
        source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
        conflictPolicy: 'LAST_WRITER_WINS',
      },
      name,
    );
    await h.define(input);
    await installCursorFor(parseDefinition(input), h.db.pool);
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    const item = (await h.items(name))[0];
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Budget: 15,
    });
    expect(edit.status).toBe(200);
    const [edited] = h.emulator.control.listItems(h.siteId, name);
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    // The delete made an hour before the edit (SharePoint times are whole seconds: a second apart is not enough).
    if (deleteFirst)
      await h.db.pool.query(
        `UPDATE arcore_${name}_deleted SET deleted_at = $1::timestamptz - interval '1 hour' WHERE key IS NOT NULL`,
        [edited.lastModifiedDateTime],
      );
    const { rows: deleted } = await h.db.pool.query<{ later: boolean }>(
      `SELECT max(deleted_at) >= $1::timestamptz AS later FROM arcore_${name}_deleted WHERE key IS NOT NULL`,
      [edited.lastModifiedDateTime],
    );
    expect(deleted[0].later).toBe(!deleteFirst);
    // The pull meets the edit first when it runs first: it decides by the same times (the tombstone is still there).
    const run = pullFirst ? await runPull(h.ctx, name, { trigger: 'test' }) : await push();
    if (pullFirst) await push();
    const { rows } = await h.db.pool.query(`SELECT id, budget FROM ${name}`);
    const { rows: recorded } = await h.db.pool.query<{ reason: string }>(
      `SELECT c.reason FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1`,
      [name],
    );
    return { run, rows, reason: recorded[0]?.reason, items: await h.items(name) };
  }

  it('LAST_WRITER_WINS: a delete made after the SharePoint edit wins (the item goes)', async () => {
    const r = await deleteAgainstEdit(false);
    expect({
      conflicts: r.run.conflicts,
      reason: r.reason,
      rows: r.rows.length,
      items: r.items.length,
    }).toEqual({
      conflicts: 1,
      reason: expect.stringContaining('Postgres was modified last'),
      rows: 0,
      items: 0,
    });
  });

  it('LAST_WRITER_WINS: the pull meeting the edit first decides alike; the push then deletes the item', async () => {
    const r = await deleteAgainstEdit(false, true);
    expect({
      conflicts: r.run.conflicts,
      reason: r.reason,
      rows: r.rows.length,
      items: r.items.length,
    }).toEqual({
      conflicts: 1,
      reason: expect.stringContaining('Postgres was modified last'),
      rows: 0,
      items: 0,
    });
  });

  it('LAST_WRITER_WINS: an edit made after the delete wins (the row comes back)', async () => {
    const r = await deleteAgainstEdit(true);
    expect({ conflicts: r.run.conflicts, reason: r.reason, rows: r.rows, items: r.items.length }).toEqual({
      conflicts: 1,
      reason: expect.stringContaining('SharePoint was modified last'),
      rows: [{ id: 1, budget: '15.00' }],
      items: 1,
    });
  });

  /**
   * A pair synced under `policy`, then edited on both sides (`postgres` as SQL SET, `sharepoint` as fields): the push's
   * update meets a 412 and its settle reads the item; the settle's own write (the second PATCH) is slow, and the item
   * is deleted in SharePoint meanwhile. Returns the push and what is left.
   */
  async function settleMeetsDelete(
    name: string,
    policy: 'DESTINATION_WINS' | 'SOURCE_WINS',
    postgres: string,
    sharepoint: Record<string, unknown>,
  ) {
    await createProjectsTable(h.db, name);
    await h.define(
      projectsDefinition(
        {
          name,
          source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          conflictPolicy: policy,
        },
        name,
      ),
    );
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    await pull();
    const itemId = (await h.items(name))[0].id;
    await h.db.pool.query(`UPDATE ${name} SET ${postgres} WHERE id = 1`);
    const edit = await h.asUser(
      'PATCH',
      `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`,
      sharepoint,
    );
    expect(edit.status).toBe(200);
    h.emulator.control.injectFault({ method: 'PATCH', pathPattern: '/fields$', count: 1, latencyMs: 0 });
    h.emulator.control.injectFault({ method: 'PATCH', pathPattern: '/fields$', count: 1, latencyMs: 1500 });
    h.emulator.control.clearRequestLog();
    const running = push();
    await eventually('the settle read the item', () =>
      h.emulator.control
        .requestLog()
        .some((e) => e.method === 'GET' && e.identity === 'app' && e.path.endsWith(`/items/${itemId}`)),
    );
    const del = await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${itemId}`);
    expect(del.status).toBe(204);
    const run = await running;
    const { rows } = await h.db.pool.query<{ id: number; name: string; budget: string }>(
      `SELECT id, name, budget FROM ${name}`,
    );
    const { rows: conflicts } = await h.db.pool.query<{
      outcome: string;
      status: string;
      sharepoint: unknown;
    }>(
      `SELECT c.outcome, c.status, c.sharepoint_values AS sharepoint FROM arcore.sync_conflicts c
         JOIN arcore.sync_definitions d ON d.id = c.definition_id WHERE d.name = $1 ORDER BY c.id`,
      [name],
    );
    return { run, rows, conflicts, items: await h.items(name), push, pull };
  }

  /**
   * The settle reads the item, decides, then writes it (If-Match); an item deleted in SharePoint between that read
   * and that write answers 404. That is no delete of ours that applied (the row is still there, edited): it is a
   * delete against an edit, decided by the policy in the same run (I8), never a row left without its pair.
   */
  it('an item deleted while a 412 is settled is a delete-against-edit conflict, not a delete that applied', async () => {
    // Postgres renames the row; in SharePoint someone saves the item unchanged (a new eTag): the push's update meets
    // a 412, and the settle finds only Postgres changed, so it writes SharePoint alone.
    const r = await settleMeetsDelete('pcwg', 'DESTINATION_WINS', "name = 'renamed'", { Title: 'one' });
    // Deleted in SharePoint, edited in Postgres: a conflict (I8), which DESTINATION_WINS decides for the delete.
    expect({
      deleted: r.run.deleted,
      conflictsCounted: r.run.conflicts,
      conflicts: r.conflicts.map((c) => c.outcome),
      rows: r.rows.length,
      items: r.items.length,
    }).toEqual({ deleted: 0, conflictsCounted: 1, conflicts: ['TAKE_SHAREPOINT'], rows: 0, items: 0 });
    // I4: nothing left to do, nothing comes back.
    const again = [await r.pull(), await r.push()];
    expect(again.map((s) => s.created + s.updated + s.deleted + s.conflicts)).toEqual([0, 0]);
    expect(await h.items('pcwg')).toEqual([]);
  });

  /**
   * The first decision took SharePoint's budget into the row and was to write the title to the item; the item is
   * gone before that write. The second decision is made with the row as it is now (budget 20, taken from SharePoint),
   * not as the page read it (budget 10), and it is the only record: the first, which the 404 undid, is not left
   * saying it was resolved.
   */
  it('decides the item deleted meanwhile with the row as it is now, and records that decision alone', async () => {
    const r = await settleMeetsDelete('pcwn', 'SOURCE_WINS', "name = 'pg'", { Title: 'sp', Budget: 20 });
    expect(r.rows).toEqual([{ id: 1, name: 'pg', budget: '20.00' }]);
    expect(r.items.map((i) => ({ Title: i.fields.Title, Budget: i.fields.Budget }))).toEqual([
      { Title: 'pg', Budget: 20 },
    ]);
    expect(r.conflicts).toEqual([{ outcome: 'TAKE_POSTGRES', status: 'RESOLVED', sharepoint: null }]);
    expect(r.run).toMatchObject({ conflicts: 1, failed: 0 });
    // I4: nothing left to do.
    const again = [await r.pull(), await r.push()];
    expect(again.map((s) => s.created + s.updated + s.deleted + s.conflicts)).toEqual([0, 0]);
  });
});

/**
 * A push whose write meets a SharePoint edit (412) settles it and writes SharePoint's fields to Postgres by key. It
 * checked nothing: an application's edit committed between the page's read and that write (during the push's write
 * and read of the item) was overwritten with SharePoint's value, no conflict recorded and the ledger saying both sides
 * agreed (review r21). The row is now locked and compared first; changed, it is parked and decided again.
 */
describe('I7 a Postgres edit committed while a push settles a 412 is never overwritten (docs/design.md, I7)', () => {
  it.each([['SOURCE_WINS'], ['LAST_WRITER_WINS']])(
    '%s: the application edit of the field SharePoint also edited is kept (or a conflict says why not)',
    async (policy) => {
      const name = `rv_race_${policy.toLowerCase()}`;
      await defineProjects(h, name, { definition: { conflictPolicy: policy as 'SOURCE_WINS' } });
      await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'T0', 10)`);
      await runPush(h.ctx, name, { trigger: 'test' });
      await runPull(h.ctx, name, { trigger: 'test' });
      const itemId = (await h.items(name))[0].id;
      // SharePoint edits the budget; Postgres renames the row (the push has something to write: it meets a 412).
      const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, {
        Budget: 55,
      });
      expect(res.status).toBe(200);
      await h.db.pool.query(`UPDATE ${name} SET name = 'pg' WHERE id = 1`);
      // An application edits the budget too, committing once the push's settle waits on the row.
      const { value: summary } = await racingEdit(
        h.db.pool,
        name,
        `UPDATE ${name} SET budget = 77 WHERE id = 1`,
        () => runPush(h.ctx, name, { trigger: 'test' }),
      );
      expect(summary?.status).toBe('SUCCEEDED');
      for (let i = 0; i < 2; i++) {
        await runPull(h.ctx, name, { trigger: 'test' });
        await runPush(h.ctx, name, { trigger: 'test' });
      }
      const row = (await h.db.pool.query(`SELECT name, budget FROM ${name} WHERE id = 1`)).rows[0];
      const item = (await h.items(name))[0].fields;
      const conflicts = (
        await h.db.pool.query(
          `SELECT c.fields FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
            WHERE d.name = $1`,
          [name],
        )
      ).rows;
      // Postgres's later edit of Budget (77) is the last edit of that field: the policy keeps it, and a conflict
      // on Budget is recorded (SharePoint's 55 lost to it).
      expect({ row, title: item.Title, budget: item.Budget, conflicts }).toEqual({
        row: { name: 'pg', budget: '77.00' },
        title: 'pg',
        budget: 77,
        conflicts: [{ fields: ['Budget'] }],
      });
    },
  );
});

/**
 * I7/I8 with a copy standing in: a user moved a routed row's item by hand (copied it, with its hidden key, into the
 * other list, then deleted the original). A push meeting the original gone decided a delete against the row's edit,
 * and DESTINATION_WINS deleted the row, while the copy its COPY conflict said would take the original's place stayed
 * unpaired (pull/claims.ts standingCopies). Found by review (r32).
 */
describe('I8 a push meeting a paired item deleted while a copy of it stands', () => {
  it('DESTINATION_WINS: the row is kept, and the copy takes the deleted item’s place', async () => {
    const [table, open, closed] = ['pc', 'PcOpen', 'PcClosed'];
    const { pair, copy } = await movedByHand(h, table, open, closed, { conflictPolicy: 'DESTINATION_WINS' });
    await h.db.pool.query(`UPDATE ${table} SET title = 'pg' WHERE id = 1`);
    // The push meets the item gone: the copy takes its place, and the row is written to it by the next push.
    expect(await checkedRun(h, 'push', table)).toMatchObject({ deleted: 0, skipped: 1 });
    expect(await ledgerPair(h, table)).toMatchObject({ itemId: copy.id });
    await checkedRun(h, 'push', table);
    await checkedRun(h, 'pull', table);
    // DESTINATION_WINS weighs the copy's title against Postgres's: SharePoint's stands; the row and its notes stay.
    const { rows } = await h.db.pool.query(`SELECT title, notes FROM ${table} WHERE id = 1`);
    expect(rows).toEqual([{ title: 'copied', notes: 'kept' }]);
    expect(await whereRouted(h, open, closed, pair.hash)).toEqual([{ list: 'Open', title: 'copied' }]);
  });

  it('DESTINATION_WINS: a move meeting the original gone keeps the row too, paired with the copy', async () => {
    const [table, open, closed] = ['pcm', 'PcmOpen', 'PcmClosed'];
    const { pair, copy } = await movedByHand(h, table, open, closed, { conflictPolicy: 'DESTINATION_WINS' });
    // Postgres closes the row: the push moves its item to Closed and meets the original gone.
    await h.db.pool.query(`UPDATE ${table} SET status = 'CLOSED', title = 'pg' WHERE id = 1`);
    expect(await checkedRun(h, 'push', table)).toMatchObject({ deleted: 0, moved: 0 });
    expect(await ledgerPair(h, table)).toMatchObject({ itemId: copy.id });
    await checkedRun(h, 'push', table);
    await checkedRun(h, 'pull', table);
    const { rows } = await h.db.pool.query(`SELECT title, status, notes FROM ${table} WHERE id = 1`);
    expect(rows).toEqual([{ title: 'copied', status: 'CLOSED', notes: 'kept' }]);
    expect(await whereRouted(h, open, closed, pair.hash)).toEqual([{ list: 'Closed', title: 'copied' }]);
  });
});

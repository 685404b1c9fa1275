import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../../support/engineHarness';
import { eventually } from '../../../support/eventually';

/**
 * docs/design.md I6/I7: an update whose answer is lost (the connection dropped after SharePoint applied it) is settled
 * by reading the item back, and a create whose answer is lost by finding its item by the hidden key. The item read
 * may already hold a user's edit made after our write: the pair must not take it for ours (push/page.ts writtenETag),
 * or the next push's If-Match write overwrites it without a conflict, against the policy.
 */
describe('I6/I7 an update settled by reading the item back does not take a user edit for ours', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  /** A DESTINATION_WINS projects table `name` with row 1 ('one', budget 10), not pushed yet. */
  async function defineOneRow(name: string): Promise<void> {
    await createProjectsTable(h.db, name);
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
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
  }

  /** The next PATCH of an item's fields is applied and its answer lost. */
  function dropPatchAnswer(): void {
    h.emulator.control.injectFault({ method: 'PATCH', pathPattern: '/fields$', count: 1, drop: 'after' });
  }

  /** The next read of item `itemId` answers `ms` late: the window for a user's edit. */
  function slowRead(itemId: string, ms: number): void {
    h.emulator.control.injectFault({
      method: 'GET',
      pathPattern: `/items/${itemId}$`,
      count: 1,
      latencyMs: ms,
    });
  }

  it('a SharePoint edit made while the lost answer was checked is still a conflict for the next push', async () => {
    const name = 'r5upd';
    await defineOneRow(name);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    const itemId = (await h.items(name))[0].id;

    // Postgres renames the row; the push's PATCH is applied but its answer is lost, and the read that settles it
    // is slow: meanwhile a user changes the budget in SharePoint.
    await h.db.pool.query(`UPDATE ${name} SET name = 'renamed' WHERE id = 1`);
    h.emulator.control.clearRequestLog();
    dropPatchAnswer();
    slowRead(itemId, 1000);
    const running = push();
    await eventually('the PATCH applied and its answer dropped', () =>
      h.emulator.control.requestLog().some((e) => e.method === 'PATCH' && e.dropped === 'after'),
    );
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, {
      Budget: 15,
    });
    expect(edit.status).toBe(200);
    expect(await running).toMatchObject({ updated: 1, failed: 0 });
    expect((await h.items(name))[0].fields).toMatchObject({ Title: 'renamed', Budget: 15 });

    // Postgres then changes the budget too, before any pull: the same field changed on both sides.
    await h.db.pool.query(`UPDATE ${name} SET budget = 20 WHERE id = 1`);
    const next = await push();
    const { rows: conflicts } = await h.db.pool.query(
      `SELECT c.outcome FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1`,
      [name],
    );
    const { rows } = await h.db.pool.query(`SELECT budget FROM ${name} WHERE id = 1`);
    expect({
      conflicts: next.conflicts,
      recorded: conflicts.length,
      spBudget: (await h.items(name))[0].fields.Budget,
      pgBudget: rows[0].budget,
    }).toEqual({ conflicts: 1, recorded: 1, spBudget: 15, pgBudget: '15.00' });
  });

  it('a SharePoint edit of an item adopted after a lost create answer is still a conflict for the next push', async () => {
    const name = 'r5cre';
    await defineOneRow(name);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    // The create is applied but its answer is lost; the look-up by hidden key that settles it is slow, and
    // meanwhile a user changes the new item's budget.
    h.emulator.control.clearRequestLog();
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '/items$', count: 1, drop: 'after' });
    h.emulator.control.injectFault({ method: 'GET', pathPattern: '/items$', count: 1, latencyMs: 1000 });
    const running = push();
    const [created] = await eventually('the create applied and its answer dropped', async () => {
      const items = await h.items(name);
      return items.length > 0 &&
        h.emulator.control.requestLog().some((e) => e.method === 'POST' && e.dropped === 'after')
        ? items
        : undefined;
    });
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${created.id}/fields`, {
      Budget: 15,
    });
    expect(edit.status).toBe(200);
    expect(await running).toMatchObject({ created: 1, failed: 0 });
    expect(await h.items(name)).toHaveLength(1);

    await h.db.pool.query(`UPDATE ${name} SET budget = 20 WHERE id = 1`);
    const next = await push();
    const { rows } = await h.db.pool.query(`SELECT budget FROM ${name} WHERE id = 1`);
    expect({
      conflicts: next.conflicts,
      spBudget: (await h.items(name))[0].fields.Budget,
      pgBudget: rows[0].budget,
    }).toEqual({ conflicts: 1, spBudget: 15, pgBudget: '15.00' });
  });

  it('a pull write-back settled by reading the item back does not take a SharePoint edit made meanwhile for ours', async () => {
    const name = 'r7wb';
    await defineOneRow(name);
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(h.ctx, name, { trigger: 'test' });
    const itemId = (await h.items(name))[0].id;

    // Postgres renames the row (not pushed yet) and a user changes the budget: the pull writes the budget to
    // Postgres and the new name back to the item. That PATCH applies but its answer is lost; the read that settles
    // it is slow, and meanwhile the user changes the budget again.
    await h.db.pool.query(`UPDATE ${name} SET name = 'renamed' WHERE id = 1`);
    const first = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, {
      Budget: 15,
    });
    expect(first.status).toBe(200);
    h.emulator.control.clearRequestLog();
    dropPatchAnswer();
    slowRead(itemId, 1000);
    const running = runPull(h.ctx, name, { trigger: 'test' });
    await eventually('the write-back applied and its answer dropped', () =>
      h.emulator.control.requestLog().some((e) => e.method === 'PATCH' && e.dropped === 'after'),
    );
    const second = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, {
      Budget: 17,
    });
    expect(second.status).toBe(200);
    expect(await running).toMatchObject({ failed: 0 });
    expect((await h.items(name))[0].fields).toMatchObject({ Title: 'renamed', Budget: 17 });

    // Postgres then changes the budget too, before any pull: the same field changed on both sides, and
    // SharePoint wins (DESTINATION_WINS). Today the push's If-Match on the read-back eTag succeeds and 17 is lost.
    await h.db.pool.query(`UPDATE ${name} SET budget = 20 WHERE id = 1`);
    const next = await runPush(h.ctx, name, { trigger: 'test' });
    const { rows } = await h.db.pool.query(`SELECT budget FROM ${name} WHERE id = 1`);
    expect({
      conflicts: next.conflicts,
      spBudget: (await h.items(name))[0].fields.Budget,
      pgBudget: rows[0].budget,
    }).toEqual({ conflicts: 1, spBudget: 17, pgBudget: '17.00' });
  });

  it('a write after a 412, settled by reading the item back, does not take a SharePoint edit made meanwhile for ours', async () => {
    const name = 'r7set';
    await defineOneRow(name);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ created: 1 });
    await runPull(h.ctx, name, { trigger: 'test' });
    const itemId = (await h.items(name))[0].id;
    const userEdit = async (fields: Record<string, unknown>) =>
      expect(
        (await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, fields)).status,
      ).toBe(200);

    // A user renames the item, Postgres changes the budget: the push's If-Match write meets a 412, the item is read
    // and the budget written again. That PATCH applies but its answer is lost; the read that settles it is slow,
    // and meanwhile the user renames the item again.
    await userEdit({ Title: 'renamed' });
    await h.db.pool.query(`UPDATE ${name} SET budget = 12 WHERE id = 1`);
    h.emulator.control.clearRequestLog();
    // The settle's read of the item is slow enough to arm the next faults once the 412 is seen.
    slowRead(itemId, 700);
    const running = push();
    await eventually('the If-Match write met a 412', () =>
      h.emulator.control.requestLog().some((e) => e.method === 'PATCH' && e.status === 412),
    );
    dropPatchAnswer();
    slowRead(itemId, 1000);
    await eventually('the settled write applied and its answer dropped', () =>
      h.emulator.control.requestLog().some((e) => e.method === 'PATCH' && e.dropped === 'after'),
    );
    await userEdit({ Title: 'renamed again' });
    expect(await running).toMatchObject({ failed: 0 });
    expect((await h.items(name))[0].fields).toMatchObject({ Title: 'renamed again', Budget: 12 });

    // Postgres renames the row before any pull: both sides changed the name, and SharePoint wins.
    await h.db.pool.query(`UPDATE ${name} SET name = 'pg name' WHERE id = 1`);
    const next = await push();
    const { rows } = await h.db.pool.query(`SELECT name FROM ${name} WHERE id = 1`);
    expect({
      conflicts: next.conflicts,
      spTitle: (await h.items(name))[0].fields.Title,
      pgName: rows[0].name,
    }).toEqual({ conflicts: 1, spTitle: 'renamed again', pgName: 'renamed again' });
  });
});

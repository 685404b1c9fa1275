import { runPush } from '../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';
import { eventually } from '../../support/eventually';

/**
 * Review r5: an update whose answer is lost (the connection dropped after SharePoint applied it) is settled by the
 * batch writer reading the item back (target/sharepoint/batchWriter.ts reconcile): when the item holds the values
 * written, the outcome is `updated` with the eTag read. That eTag also covers any edit a user made to the item's
 * other fields between the write and the read; the pair records it with the old synced values for those fields
 * (push/rows.ts, case 'updated'). The next push's If-Match write of such a field then succeeds: the SharePoint edit
 * is overwritten without a conflict (I7), and here, under DESTINATION_WINS, against the policy.
 */
describe('I6/I7 an update settled by reading the item back does not take a user edit for ours', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('a SharePoint edit made while the lost answer was checked is still a conflict for the next push', async () => {
    const name = 'r5upd';
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
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    const itemId = (await h.items(name))[0].id;

    // Postgres renames the row; the push's PATCH is applied but its answer is lost, and the read that settles it
    // is slow: meanwhile a user changes the budget in SharePoint.
    await h.db.pool.query(`UPDATE ${name} SET name = 'renamed' WHERE id = 1`);
    h.emulator.control.clearRequestLog();
    h.emulator.control.injectFault({ method: 'PATCH', pathPattern: '/fields$', count: 1, drop: 'after' });
    h.emulator.control.injectFault({
      method: 'GET',
      pathPattern: `/items/${itemId}$`,
      count: 1,
      latencyMs: 1000,
    });
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
});

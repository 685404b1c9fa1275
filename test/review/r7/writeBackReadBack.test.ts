import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';
import { eventually } from '../../support/eventually';

/**
 * review r7: the read-back eTag fix (push/page.ts writtenETag, review r5) covers the push's creates and updates, but
 * a pull's write-back (pull/writeBacks.ts) records the eTag of an item read back after a lost answer as well. A
 * user's edit made between the write and that read is then taken for ours: a Postgres change of the same field
 * before the next pull is written over it with that eTag, without a conflict, against the policy.
 */
describe('review r7: a pull write-back settled by reading the item back', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('does not take a SharePoint edit made meanwhile for ours: the next push meets it as a conflict', async () => {
    const name = 'r7wb';
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
    h.emulator.control.injectFault({ method: 'PATCH', pathPattern: '/fields$', count: 1, drop: 'after' });
    h.emulator.control.injectFault({
      method: 'GET',
      pathPattern: `/items/${itemId}$`,
      count: 1,
      latencyMs: 1000,
    });
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
});

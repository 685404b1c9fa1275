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
 * review r7: the read-back eTag fix (push/page.ts writtenETag, review r5) covers rows.ts's creates and updates, but
 * the write a push sends after settling a 412 (push/conflicts.ts settleConflicts) records `o.eTag` as it came: an
 * answer lost and settled by reading the item back carries a user's edit made meanwhile, which is then taken for
 * ours and overwritten by the next push without a conflict.
 */
describe('review r7: a 412-settled write settled by reading the item back', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('does not take a SharePoint edit made meanwhile for ours: the next push meets it as a conflict', async () => {
    const name = 'r7set';
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
    h.emulator.control.injectFault({
      method: 'GET',
      pathPattern: `/items/${itemId}$`,
      count: 1,
      latencyMs: 700,
    });
    const running = push();
    await eventually('the If-Match write met a 412', () =>
      h.emulator.control.requestLog().some((e) => e.method === 'PATCH' && e.status === 412),
    );
    h.emulator.control.injectFault({ method: 'PATCH', pathPattern: '/fields$', count: 1, drop: 'after' });
    h.emulator.control.injectFault({
      method: 'GET',
      pathPattern: `/items/${itemId}$`,
      count: 1,
      latencyMs: 1000,
    });
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

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
 * Review r5: a push whose update meets a 412 settles it (push/conflicts.ts settleConflicts): it reads the item,
 * decides, writes Postgres, then writes the item with If-Match. When the item is deleted in SharePoint between that
 * read and that write, the update answers 404 (`not_found`), and the settle takes it as a delete that applied: it
 * counts the row deleted and removes its ledger entry, though the row is still in Postgres. With no entry, a later
 * pull ignores the item's delete (it names no pair); a push re-reading the row inside its overlap window creates a
 * new item (the SharePoint delete undone without a conflict, whatever the policy); past the window the row is never
 * synced again until it is edited.
 */
describe('I7/I8 an item deleted while a 412 is settled', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('is a delete-against-edit conflict decided by the policy, not a delete that applied', async () => {
    const name = 'r5cwg';
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
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    await pull();
    const itemId = (await h.items(name))[0].id;

    // Postgres renames the row; in SharePoint someone saves the item unchanged (a new version, a new eTag): the push's
    // update meets a 412, and the settle finds only Postgres changed, so it writes SharePoint alone.
    await h.db.pool.query(`UPDATE ${name} SET name = 'renamed' WHERE id = 1`);
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, {
      Title: 'one',
    });
    expect(edit.status).toBe(200);
    // The settle's own write (the second PATCH) is slow; the item is deleted in SharePoint meanwhile.
    h.emulator.control.injectFault({ method: 'PATCH', pathPattern: '/fields$', count: 1, latencyMs: 0 });
    h.emulator.control.injectFault({ method: 'PATCH', pathPattern: '/fields$', count: 1, latencyMs: 1500 });
    h.emulator.control.clearRequestLog();
    const running = push();
    // The settle read the item (its update met the 412 before): its own write follows.
    await eventually('the settle read the item', () =>
      h.emulator.control
        .requestLog()
        .some((e) => e.method === 'GET' && e.identity === 'app' && e.path.endsWith(`/items/${itemId}`)),
    );
    const del = await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${itemId}`);
    expect(del.status).toBe(204);
    const run = await running;

    await pull();
    await push();
    await pull();
    const { rows } = await h.db.pool.query(`SELECT id FROM ${name}`);
    const { rows: conflicts } = await h.db.pool.query(
      `SELECT c.outcome FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1`,
      [name],
    );
    // Deleted in SharePoint, edited in Postgres: a conflict (I8), which DESTINATION_WINS decides for the delete.
    expect({
      deletedReported: run.deleted,
      conflicts: conflicts.map((c) => c.outcome),
      rows: rows.length,
      items: (await h.items(name)).length,
    }).toEqual({ deletedReported: 0, conflicts: ['TAKE_SHAREPOINT'], rows: 0, items: 0 });
  });
});

import { runPush } from '../../../src/core/engine/push';
import { resolveConflict } from '../../../src/core/engine/resolve';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/**
 * Review r5: under MANUAL, a row deleted in Postgres whose item was edited in SharePoint is parked by the push as an
 * OPEN conflict (push/conflicts.ts settleDeleteConflict, Postgres side null). `resolve` is the only way to close it
 * (docs/cli.md), but it refuses every choice because the Postgres row is gone (engine/resolve.ts resolveInRun:
 * ConflictTargetGoneError before the choice is looked at): neither confirming the delete (take postgres) nor bringing
 * the row back (take sharepoint) is possible, so the pair stays held for ever.
 */
describe('I7/I8 a MANUAL delete-against-edit conflict can be resolved', () => {
  let h: Harness;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  async function heldDelete() {
    n++;
    const name = `r5md${n}`;
    await createProjectsTable(h.db, name);
    await h.define(
      projectsDefinition(
        {
          name,
          source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          conflictPolicy: 'MANUAL',
        },
        name,
      ),
    );
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    const itemId = (await h.items(name))[0].id;
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, {
      Budget: 15,
    });
    expect(res.status).toBe(200);
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    expect(await push()).toMatchObject({ conflicts: 1 });
    const { rows } = await h.db.pool.query<{ id: string }>(
      `SELECT c.id FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1 AND c.status = 'OPEN'`,
      [name],
    );
    expect(rows).toHaveLength(1);
    const status = async () =>
      (await h.db.pool.query('SELECT status FROM arcore.sync_conflicts WHERE id = $1', [rows[0].id])).rows[0]
        .status as string;
    return { name, itemId, conflictId: rows[0].id, push, status };
  }

  it('take postgres confirms the delete: the item goes and the conflict is resolved', async () => {
    const c = await heldDelete();
    const outcome = await resolveConflict(h.ctx, c.conflictId, { take: 'postgres' }, 'test').then(
      () => 'resolved',
      (err: Error) => err.message,
    );
    expect(outcome).toBe('resolved');
    expect(await c.status()).toBe('RESOLVED');
    await c.push();
    expect(await h.items(c.name)).toEqual([]);
  });

  it('take sharepoint brings the row back with the item values', async () => {
    const c = await heldDelete();
    const outcome = await resolveConflict(h.ctx, c.conflictId, { take: 'sharepoint' }, 'test').then(
      () => 'resolved',
      (err: Error) => err.message,
    );
    expect(outcome).toBe('resolved');
    const { rows } = await h.db.pool.query(`SELECT name, budget FROM ${c.name} WHERE id = 1`);
    expect(rows).toEqual([{ name: 'one', budget: '15.00' }]);
  });
});

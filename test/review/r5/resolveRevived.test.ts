import { runPush } from '../../../src/core/engine/push';
import { resolveConflict } from '../../../src/core/engine/resolve';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/**
 * Review r5: under deletes.push SOFT a deleted row's item is flagged and its entry ORPHANED; the row back, the push
 * revives the pair and clears the flag (push/writes.ts revivedFields, I8). When SharePoint edited the same field
 * while the row was gone, the revive meets a 412 and, under MANUAL, is parked as an open conflict. `resolve` then
 * writes only the chosen values (engine/resolve.ts): it never clears the flag, yet saves the pair SYNCED, so the
 * item keeps saying it is deleted while its row is back, and no later push clears it (the pair is no longer
 * ORPHANED).
 */
describe('I8 resolving the conflict of a revived SOFT-deleted pair clears the item flag', () => {
  let h: Harness;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  async function revivedConflict() {
    n++;
    const name = `r5rv${n}`;
    await createProjectsTable(h.db, name);
    await h.define(
      projectsDefinition(
        {
          name,
          source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          conflictPolicy: 'MANUAL',
          deletes: { push: 'SOFT', pushSoftColumn: 'ArcoreDeleted' } as never,
        },
        name,
      ),
    );
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    const itemId = (await h.items(name))[0].id;

    // The row is deleted: its item is flagged.
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    await push();
    expect((await h.items(name))[0].fields.ArcoreDeleted).toBe(true);
    // SharePoint renames the item meanwhile; the row comes back with another name: a conflict, held (MANUAL).
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, {
      Title: 'sp',
    });
    expect(edit.status).toBe(200);
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'pg', 10)`);
    expect(await push()).toMatchObject({ conflicts: 1 });
    const { rows } = await h.db.pool.query<{ id: string }>(
      `SELECT c.id FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1 AND c.status = 'OPEN'`,
      [name],
    );
    expect(rows).toHaveLength(1);
    return { name, conflictId: rows[0].id, push };
  }

  it.each([['sharepoint' as const], ['postgres' as const]])(
    'take %s: the row is back, so the item is no longer flagged deleted',
    async (take) => {
      const c = await revivedConflict();
      await resolveConflict(h.ctx, c.conflictId, { take }, 'test');
      await c.push();
      const [item] = await h.items(c.name);
      expect({ title: item.fields.Title, flagged: item.fields.ArcoreDeleted }).toEqual({
        title: take === 'sharepoint' ? 'sp' : 'pg',
        flagged: false,
      });
    },
  );
});

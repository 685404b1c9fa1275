import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { pendingCreateEntry } from '../../../src/core/engine/push/pendingCreates';
import { resolveConflict } from '../../../src/core/engine/resolve';
import { LedgerStore } from '../../../src/core/store/ledger';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/**
 * review r7: resolving a conflict whose Postgres row is gone (resolve.ts resolveRowGone) while the pair's entry is
 * PENDING_CREATE (an earlier resolve's re-create whose answer was lost: its item may have landed). The item is looked
 * for by the conflict's old item id only, not by the row's hidden key, and the pending create is not waited for:
 * `--take postgres` drops the pair and leaves the landed item in SharePoint, unpaired: the row's delete never reaches
 * it (resolveInRun, for a row that exists, finds such an item by the hidden key or refuses while it may land).
 */
describe('review r7: resolve of a row-gone conflict while a re-create may have landed', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('--take postgres does not leave the landed item unpaired', async () => {
    const name = 'r7gone';
    const list = 'R7gone';
    await createProjectsTable(h.db, name);
    await h.define(
      projectsDefinition(
        {
          name,
          source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          conflictPolicy: 'MANUAL',
        },
        list,
      ),
    );
    await h.db.pool.query(`INSERT INTO ${name} (id, name) VALUES (1, 'T0')`);
    await runPush(h.ctx, name, { trigger: 'test' });
    await runPull(h.ctx, name, { trigger: 'test' });
    const [item] = await h.items(list);
    await h.db.pool.query(`UPDATE ${name} SET name = 'pg' WHERE id = 1`);
    await h.asUser('PATCH', `/sites/${h.siteId}/lists/${list}/items/${item.id}/fields`, { Title: 'sp' });
    expect((await runPull(h.ctx, name, { trigger: 'test' })).conflicts).toBe(1);
    const { rows } = await h.db.pool.query<{ id: string; h: string; d: string; list: string }>(
      `SELECT c.id, c.source_identity_hash AS h, c.definition_id AS d, l.sp_list_id AS list
         FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
         JOIN arcore.sync_ledger l ON l.definition_id = c.definition_id
        WHERE d.name = $1 AND c.status = 'OPEN'`,
      [name],
    );
    const [c] = rows;
    // The item is deleted in SharePoint; a resolve's re-create of it landed but its answer was lost: the entry is
    // pending (its wait running) and an item carries the row's hidden key.
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${list}/items/${item.id}`)).status).toBe(204);
    const landed = await h.asUser('POST', `/sites/${h.siteId}/lists/${list}/items`, {
      fields: { Title: 'pg', ArcoreKey: c.h },
    });
    expect(landed.status).toBe(201);
    await new LedgerStore(c.d, 'PRIMARY_KEY', 'default').save(h.db.pool, [
      pendingCreateEntry({
        identityHash: c.h,
        identity: { id: 1 },
        listId: c.list,
        sent: {},
        lastSourceTs: null,
      }),
    ]);
    await h.db.pool.query(
      'UPDATE arcore.sync_ledger SET pending_checked_at = now() WHERE definition_id = $1',
      [c.d],
    );

    // Then the row is deleted in Postgres, and the user confirms the delete.
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    const outcome = await resolveConflict(h.ctx, c.id, { take: 'postgres' }, 'test').then(
      () => 'resolved',
      (e: unknown) => (e as Error).name,
    );
    const keyed = (await h.items(list)).filter((i) => i.fields.ArcoreKey === c.h);
    const { rows: pairs } = await h.db.pool.query(
      'SELECT state FROM arcore.sync_ledger WHERE definition_id = $1',
      [c.d],
    );
    // Either the landed item is deleted with the row, or the pair keeps it (refused while it may land).
    expect({ outcome, unpairedItems: pairs.length === 0 ? keyed.length : 0 }).toMatchObject({
      unpairedItems: 0,
    });
  });
});

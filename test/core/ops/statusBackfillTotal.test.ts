import { definitionStatus } from '../../../src/core/ops';
import type { TestDatabase } from '../../support/db';
import { defineStored, metaDatabase } from '../../functions/support/metaFixtures';

/**
 * records.ts: UnfinishedBackfill.total is "the definition's ledger rows now: what the whole backfill examines".
 * A backfill examines every ledger row (LedgerStore.batchAfter has no state filter), PENDING_CREATE ones too, and
 * its own progress total is count(*) of the ledger (backfill/run.ts ledgerRows). status.ts computes the total
 * as ledger_size + unrouted_rows, and ledger_size no longer counts PENDING_CREATE (68fa7e1).
 */
describe('status: an unfinished backfill counts every ledger row it examines', () => {
  let db: TestDatabase;
  afterAll(() => db.drop());

  /**
   * I8 (docs/design.md): a row kept by deletes.pull IGNORE after its item was deleted in SharePoint (ITEM_DELETED)
   * is no synced pair; status counted it in ledgerSize, printed as "ledger: N synced pairs" (found by review r9).
   */
  it('total includes pending creates and rows whose item was deleted; ledgerSize counts only synced pairs', async () => {
    db = await metaDatabase();
    const id = await defineStored(db.pool, 'orders');
    for (const [i, hash] of ['h1', 'h2'].entries())
      await db.pool.query(
        `INSERT INTO arcore.sync_ledger (definition_id, source_identity_hash, source_identity, source_key_strategy,
           source_connection, sp_list_id, sp_item_id) VALUES ($1, $2, '{}', 'PRIMARY_KEY', 'default', 'list', $3)`,
        [id, hash, String(i + 1)],
      );
    await db.pool.query(
      `INSERT INTO arcore.sync_ledger (definition_id, source_identity_hash, source_identity, source_key_strategy,
         source_connection, sp_list_id, state) VALUES ($1, 'h3', '{}', 'PRIMARY_KEY', 'default', 'list', 'PENDING_CREATE')`,
      [id],
    );
    await db.pool.query(
      `INSERT INTO arcore.sync_ledger (definition_id, source_identity_hash, source_identity, source_key_strategy,
         source_connection, sp_list_id, sp_item_id, state)
       VALUES ($1, 'h4', '{}', 'PRIMARY_KEY', 'default', 'list', '4', 'ITEM_DELETED')`,
      [id],
    );
    // A backfill stopped after examining three rows of four (the pending one included).
    await db.pool.query(
      `INSERT INTO arcore.sync_backfills (definition_id, fields, strategy, direction, position, status, examined, runs)
       VALUES ($1, '{Title}', 'update_only', 'push', 'h3', 'RUNNING', 3, 1)`,
      [id],
    );
    const [orders] = await definitionStatus(db.pool, 'orders');
    expect({ ledgerSize: orders.ledgerSize, itemDeletedRows: orders.itemDeletedRows }).toEqual({
      ledgerSize: 2,
      itemDeletedRows: 1,
    });
    expect(orders.backfill).toMatchObject({ done: 3, total: 4 });
  });
});

/**
 * Ledger state ITEM_DELETED: the item was deleted in SharePoint and `deletes.pull` IGNORE kept the row (I8). The
 * entry keeps the item's id and the last synced values: the push leaves the row alone instead of creating the
 * item again (which would undo the delete), a row deleted in Postgres takes the entry with it, and an item
 * restored from the recycle bin (same id) or re-created by `backfill --strategy full_resync` pairs again. Before
 * this state the pair was dropped and the row's next edit re-created the item.
 */
export const name = 'item_deleted_state';

export const sql = `
ALTER TABLE arcore.sync_ledger DROP CONSTRAINT sync_ledger_state_check;
ALTER TABLE arcore.sync_ledger ADD CONSTRAINT sync_ledger_state_check
  CHECK (state IN ('SYNCED', 'PENDING_CREATE', 'ORPHANED', 'UNROUTED', 'ITEM_DELETED'));
`;

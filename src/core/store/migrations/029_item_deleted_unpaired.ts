/**
 * 029: an ITEM_DELETED entry may name no item. Its item was deleted in SharePoint and `deletes.pull` IGNORE kept
 * the row (027); when the list is then replaced and relinked, the old item's id names nothing (or another item) in
 * the new list, so relink keeps the entry on the new list with no item id: the push still leaves the row alone (I8),
 * an item of the new list carrying its hidden key is adopted by the pull, and `backfill --strategy full_resync`
 * creates it again on request.
 */
export const name = 'item_deleted_unpaired';

export const sql = `
ALTER TABLE arcore.sync_ledger DROP CONSTRAINT sync_ledger_check;
ALTER TABLE arcore.sync_ledger ADD CONSTRAINT sync_ledger_check
  CHECK (state IN ('PENDING_CREATE', 'UNROUTED', 'ITEM_DELETED') OR sp_item_id IS NOT NULL);
`;

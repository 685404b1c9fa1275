/**
 * A create another run left pending (PENDING_CREATE, I6) may still be in flight when the next run starts: a run
 * killed or stopped by its lost lock sent it, and SharePoint may apply it seconds later. `pending_checked_at` is
 * when a later run first looked for its item and did not find it; only once that is PENDING_CREATE_SETTLE_SECONDS
 * ago may a run conclude that the create never landed and create the item again. NULL: not looked for since the
 * entry was saved (every save clears it). `sync_moves.checked_at` is the same for the create of a move in flight.
 */
export const name = 'pending_create_checked';

export const sql = `
ALTER TABLE arcore.sync_ledger ADD COLUMN pending_checked_at timestamptz;
ALTER TABLE arcore.sync_moves ADD COLUMN checked_at timestamptz;
`;

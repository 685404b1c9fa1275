/**
 * `sync_moves.sent_values`: the canonical values a move's create sent (of the fields the moved pair syncs). A
 * rerun that finishes the move (push/moves.ts, settlePendingMoves) takes them as the pair's base, as a pending
 * create's entry does (I6, I7): an edit made to the new item while the move waited is then a change since the
 * sync, weighed by the next push or pull, not overwritten. NULL: a move recorded before this column, finished
 * with the item's own values as before.
 */
export const name = 'move_sent_values';

export const sql = `
ALTER TABLE arcore.sync_moves ADD COLUMN sent_values jsonb;
`;

/**
 * Routing moves (issue #21 gaps): whether a move in flight may have sent the delete of its old item. A rerun
 * after a crash, and the pull of the old list, read a missing old item as the move's own delete only then;
 * before it, the item was deleted by someone else. Moves recorded before this migration keep the old reading
 * (the delete may have been sent).
 */
export const name = 'move_phase';

export const sql = `
ALTER TABLE arcore.sync_moves ADD COLUMN delete_sent boolean NOT NULL DEFAULT true;
ALTER TABLE arcore.sync_moves ALTER COLUMN delete_sent SET DEFAULT false;
`;

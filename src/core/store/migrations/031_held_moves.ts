/**
 * 031: a parked row may be a held move rather than a failure. A move of a routed row whose two items were both
 * edited in SharePoint while it waited is held until the user deletes the item whose edits they do not want
 * (src/core/engine/push/moves.ts): nothing failed, and the row's park carries the reason and the next step.
 * `held_move` marks such a park, so that `status`, run summaries and the ops API count it as a held move and not
 * as a parked failure. Any later park of the row (the move settled, or a real failure) clears it.
 */
export const name = 'held_moves';

export const sql = `
ALTER TABLE arcore.sync_failures ADD COLUMN held_move boolean NOT NULL DEFAULT false;
`;

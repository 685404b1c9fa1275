/**
 * A full comparison of the ledger with the table (for deletes) that is owed: after a switch from LSN, a load, or
 * a delete without key (TRUNCATE, install-cursor's request). Non-null means owed; the value is the last identity
 * hash compared ('' from the start), so a comparison stopped by its time budget or a crash resumes there and is
 * never forgotten.
 */
export const name = 'owed_delete_comparison';

export const sql = `
ALTER TABLE arcore.sync_cursors ADD COLUMN deletes_full_position text;
`;

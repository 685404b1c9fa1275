/**
 * The idle push path (issue 23): where the fallback delete sweep continues from, and indexes for what an idle
 * cycle reads.
 */
export const name = 'idle_path';

export const sql = `
ALTER TABLE arcore.sync_cursors ADD COLUMN deletes_position text;
`;

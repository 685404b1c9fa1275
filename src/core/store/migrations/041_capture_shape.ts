/**
 * 041: `sync_cursors.capture_shape`: what an LSN definition's slot cannot show of its table, as capture started
 * (src/core/capture/lsn/storage.ts): the publication's membership row of the table, and a partitioned table's leaf
 * partitions with their storage. The push reads the table again in full when it changed. Null for cursors written
 * before it: the next run records it.
 */
export const name = 'capture_shape';

export const sql = `
ALTER TABLE arcore.sync_cursors ADD COLUMN capture_shape text;
`;

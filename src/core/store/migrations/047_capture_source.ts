/**
 * 047: `sync_cursors.capture_source`: where an LSN definition's replication slot was created (its connection name,
 * the server's system identifier, the database's oid and name; src/core/capture/lsn/source.ts). A definition
 * re-pointed at another server or database starts capture there; the slot left on the old one would keep that
 * server's WAL for nobody, so the push drops it there, or says where it is and how to drop it. Null for cursors
 * written before it: recorded when capture next starts.
 */
export const name = 'capture_source';

export const sql = `
ALTER TABLE arcore.sync_cursors ADD COLUMN capture_source jsonb;
`;

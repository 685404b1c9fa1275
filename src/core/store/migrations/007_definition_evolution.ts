/**
 * I14/I15: what a definition's state was built from.
 * - `sync_definitions.list_id`: the id of the list the ledger was built on, bound by the first run. A run that
 *   resolves another id (the list was deleted and re-created, or replaced by one of the same name) refuses until
 *   `relink`.
 * - `sync_cursors.fingerprint`: for the TARGET cursor, the list and the fields the stored delta link selects. A
 *   link that does not carry every mapped field would read a newly mapped field as empty, so the pull re-reads
 *   the list once instead of using it.
 */
export const name = 'definition_evolution';

export const sql = `
ALTER TABLE arcore.sync_definitions ADD COLUMN list_id text;
ALTER TABLE arcore.sync_cursors ADD COLUMN fingerprint jsonb;
`;

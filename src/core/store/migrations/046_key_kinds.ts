/**
 * 046: `sync_definitions.key_kinds`: how each key column was rendered into the identity hashes the ledger holds
 * (engine/keyKinds.ts), recorded by the first run. A key column retyped in Postgres (integer → text) renders
 * its values otherwise: every row would look new. Null until the next run records it.
 */
export const name = 'key_kinds';

export const sql = `
ALTER TABLE arcore.sync_definitions ADD COLUMN key_kinds jsonb;
`;

/**
 * 046: what the ledger's values were read under, recorded by the first run:
 * - `sync_definitions.key_kinds`: how each key column was rendered into the identity hashes the ledger holds
 *   (engine/keyKinds.ts). A key column retyped in Postgres (integer → text) renders its values otherwise: every row
 *   would look new, so runs refuse it.
 * - `sync_definitions.column_types`: the type (and enum labels) of each column whose values flow to SharePoint
 *   (engine/columnTypes.ts). ALTER … TYPE and a renamed enum label change stored values without a row trigger, so
 *   the cursor never moves for them: the next push reads every row again.
 * Null until the next run records them.
 */
export const name = 'key_kinds';

export const sql = `
ALTER TABLE arcore.sync_definitions ADD COLUMN key_kinds jsonb;
ALTER TABLE arcore.sync_definitions ADD COLUMN column_types jsonb;
`;

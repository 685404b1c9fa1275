/**
 * 013: `sync_ledger.synced_source_values` — for fields with a transform pipeline, the value each side held at
 * the last sync: `{ "<target>": { "sp": <SharePoint value>, "pg": <Postgres input> } }`. A transformed field's
 * two sides hold different values, so the SharePoint-side synced value alone cannot tell an unchanged Postgres
 * value from an edit; with both, an echo is recognised whatever the pipeline does (I3, I4). A pair counts only
 * while its `sp` equals the entry's synced value, so an entry saved without refreshing it is never misread.
 */
export const name = 'synced_source_values';

export const sql = `
ALTER TABLE arcore.sync_ledger ADD COLUMN synced_source_values jsonb;
`;

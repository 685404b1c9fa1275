/**
 * 028: what a backfill in progress was started under, so that running it again continues only what is still
 * the same backfill. `pipelines`: per chosen field (SharePoint internal name), the stamp of the pipeline the
 * backfill's direction runs (engine/transform.ts PipelineStamps); a rerun after a chosen field's pipeline changed
 * starts again from the first ledger row (the rows done so far were written under the older one). NULL: a
 * backfill started before this column, taken as made under no pipeline. `waiting`: identity hashes of rows the
 * backfill passed while they had an open conflict (MANUAL: neither side changes until it is resolved); the
 * backfill stays RUNNING until each is re-examined once its conflict is resolved.
 */
export const name = 'backfill_pipelines';

export const sql = `
ALTER TABLE arcore.sync_backfills ADD COLUMN pipelines jsonb;
ALTER TABLE arcore.sync_backfills ADD COLUMN waiting text[] NOT NULL DEFAULT '{}';
`;

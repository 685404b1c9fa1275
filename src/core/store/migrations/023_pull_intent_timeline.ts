/**
 * Pull insert intents (migrations 021, 022) also record the timeline their transaction id was taken on (the
 * timeline of the WAL being written, from the current WAL file's name): a promoted standby after a failover that lost transactions, or a backup
 * restored to a point in time, keeps the server's system identifier but starts a new timeline, on which the ids
 * the old one handed out after the branch point name other transactions, or none. An intent recorded on another
 * timeline than the source's now is settled by the rows, as one taken on another server. NULL where the role may
 * not read it, and in intents recorded before. `inserted_values` is added again where it is missing: the first
 * version of migration 022, on main for an hour before it was amended, did not have it.
 */
export const name = 'pull_intent_timeline';

export const sql = `
ALTER TABLE arcore.pull_insert_intents
  ADD COLUMN source_timeline bigint,
  ADD COLUMN IF NOT EXISTS inserted_values jsonb;
`;

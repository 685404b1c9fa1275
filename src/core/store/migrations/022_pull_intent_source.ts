/**
 * Pull insert intents (migration 021) name the source transaction by its id, which only the server it was taken on
 * can tell: another server (a definition's connection re-pointed, a server replaced behind its name) may use the
 * same number for another transaction, and another database of the same server holds other rows. Each intent now
 * records where it was taken: `source_system_id` (pg_control_system().system_identifier, set at initdb and kept by
 * physical copies; NULL where the role may not read it), the database's oid and name. An intent recorded elsewhere
 * than the current source is settled by the rows, not by txid_status. Rows from before this migration have NULL in
 * all three and settle as they did (but by the rows where the source is the metadata database now: pages there
 * record no intent, so theirs were taken elsewhere). `inserted_values` holds the row the page inserted, as its
 * INSERT … RETURNING read it (column → that value's JSON text, kept as text so jsonb does not reorder it): the
 * rows of another database settle an intent only when the one row holding its key also holds these values (a
 * serial key there names another row of the same id). NULL in rows from before: the one row alone decides.
 */
export const name = 'pull_intent_source';

export const sql = `
ALTER TABLE arcore.pull_insert_intents
  ADD COLUMN source_system_id     text,
  ADD COLUMN source_database_oid  bigint,
  ADD COLUMN source_database_name text,
  ADD COLUMN inserted_values      jsonb;
`;

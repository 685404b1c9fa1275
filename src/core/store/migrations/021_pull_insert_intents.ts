/**
 * Pull insert intents (I6): when the source table lives in another database than the metadata store, a pull page
 * commits its rows (source) and its ledger entries (metadata) in two transactions. Before the source commits, each
 * new item whose row the page inserted is recorded here (committed on its own); the page's metadata transaction
 * deletes these records, so they vanish exactly when the ledger entries commit. One left behind names a row the
 * source may have committed without its ledger entry: the next pull or push pairs it (or finds it never
 * committed) before reading anything, so the item is not inserted a second time. `entry` is the ledger entry the
 * page would have saved; `source_xid` the source transaction's id (txid_current), whose status tells whether the
 * row committed.
 */
export const name = 'pull_insert_intents';

export const sql = `
CREATE TABLE arcore.pull_insert_intents (
  definition_id bigint NOT NULL REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  list_id       text NOT NULL,
  item_id       text NOT NULL,
  identity      jsonb NOT NULL,
  identity_hash text NOT NULL,
  entry         jsonb NOT NULL,
  source_xid    bigint NOT NULL,
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (definition_id, list_id, item_id)
);
`;

/**
 * Routing (one table, several lists, issue #21):
 * - `sync_list_cursors`: the delta link of each routed list (a single-list definition keeps its TARGET row in
 *   `sync_cursors`, so existing rows keep working).
 * - `sync_definition_lists`: the list id each routed list name resolved to on its first run (I15, per list; a
 *   single-list definition keeps `sync_definitions.list_id`).
 * - `sync_moves`: a move in flight (I6): recorded before the item is created in its new list, removed in the
 *   transaction that points the ledger at the new item. A rerun finds the new item by the hidden key column and
 *   finishes or undoes the move.
 * - ledger state UNROUTED: a row no route matches, never synced (no list, no item). It keeps the ledger's count
 *   equal to the table's, so the push's delete check (which compares the two counts) still sees deletes.
 * - `sync_runs.moved` / `unrouted`: run outcomes (processed = created + updated + deleted + moved + skipped +
 *   conflicts + failed + unrouted).
 */
export const name = 'routing';

export const sql = `
CREATE TABLE arcore.sync_list_cursors (
  definition_id bigint NOT NULL REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  list_id       text NOT NULL,
  value         text,
  progress      text,
  fingerprint   jsonb,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (definition_id, list_id)
);

CREATE TABLE arcore.sync_definition_lists (
  definition_id bigint NOT NULL REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  list_name     text NOT NULL,
  list_id       text NOT NULL,
  bound_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (definition_id, list_name)
);

CREATE TABLE arcore.sync_moves (
  definition_id        bigint NOT NULL REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  source_identity_hash text NOT NULL,
  from_list_id         text NOT NULL,
  from_item_id         text NOT NULL,
  to_list_id           text NOT NULL,
  run_id               bigint,
  created_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (definition_id, source_identity_hash)
);

ALTER TABLE arcore.sync_ledger DROP CONSTRAINT sync_ledger_state_check;
ALTER TABLE arcore.sync_ledger ADD CONSTRAINT sync_ledger_state_check
  CHECK (state IN ('SYNCED', 'PENDING_CREATE', 'ORPHANED', 'UNROUTED'));
ALTER TABLE arcore.sync_ledger DROP CONSTRAINT sync_ledger_check;
ALTER TABLE arcore.sync_ledger ADD CONSTRAINT sync_ledger_check
  CHECK (state IN ('PENDING_CREATE', 'UNROUTED') OR sp_item_id IS NOT NULL);

ALTER TABLE arcore.sync_runs ADD COLUMN moved integer NOT NULL DEFAULT 0;
ALTER TABLE arcore.sync_runs ADD COLUMN unrouted integer NOT NULL DEFAULT 0;
`;

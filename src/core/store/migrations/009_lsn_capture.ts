/**
 * Change data capture (LSN cursor):
 * - `installation`: one row holding a random id of this metadata database. Replication slots and origins are
 *   cluster-wide; their names carry this id so two metadata databases on one server never share one
 *   (src/core/capture/lsn/names.ts).
 * - `capture_truncates`: TRUNCATEs of an LSN definition's table met by a push. Under deletes.truncate PARK the
 *   definition's pushes stop at an undecided row until an operator decides PROPAGATE or IGNORE.
 */
export const name = 'lsn_capture';

export const sql = `
CREATE TABLE arcore.installation (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  id         text NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', ''),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO arcore.installation DEFAULT VALUES;

CREATE TABLE arcore.capture_truncates (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  definition_id bigint NOT NULL REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  lsn           pg_lsn NOT NULL,
  detected_at   timestamptz NOT NULL DEFAULT now(),
  run_id        bigint,
  decision      text CHECK (decision IN ('PROPAGATE', 'IGNORE')),
  decided_at    timestamptz,
  decided_by    text,
  applied_at    timestamptz,
  UNIQUE (definition_id, lsn)
);
CREATE INDEX capture_truncates_open ON arcore.capture_truncates (definition_id) WHERE applied_at IS NULL;
`;

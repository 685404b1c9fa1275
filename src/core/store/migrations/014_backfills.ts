/**
 * Backfills (issue #22): one row per definition holds the backfill in progress or the last one finished, so a
 * backfill stopped by a crash or its time budget continues where it stopped. `position` is the last ledger
 * identity hash processed (ledger rows are visited in identity-hash order); counts add up over every run of the
 * backfill. Backfill runs are recorded in sync_runs as run type BACKFILL.
 */
export const name = 'backfills';

export const sql = `
CREATE TABLE arcore.sync_backfills (
  definition_id bigint PRIMARY KEY REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  fields        text[] NOT NULL,
  strategy      text NOT NULL CHECK (strategy IN ('update_only', 'full_resync')),
  direction     text NOT NULL CHECK (direction IN ('push', 'pull')),
  position      text NOT NULL DEFAULT '',
  status        text NOT NULL CHECK (status IN ('RUNNING', 'COMPLETED')),
  examined      integer NOT NULL DEFAULT 0,
  updated       integer NOT NULL DEFAULT 0,
  equal         integer NOT NULL DEFAULT 0,
  skipped       integer NOT NULL DEFAULT 0,
  created       integer NOT NULL DEFAULT 0,
  conflicts     integer NOT NULL DEFAULT 0,
  failed        integer NOT NULL DEFAULT 0,
  runs          integer NOT NULL DEFAULT 0,
  started_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);

ALTER TABLE arcore.sync_runs DROP CONSTRAINT sync_runs_run_type_check;
ALTER TABLE arcore.sync_runs ADD CONSTRAINT sync_runs_run_type_check
  CHECK (run_type IN ('PUSH', 'PULL', 'INGRESS', 'CDC', 'BACKFILL'));
`;

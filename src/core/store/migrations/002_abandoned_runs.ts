/**
 * I6: a run whose process died (SIGKILL, crash, lost Postgres connection) is marked ABANDONED by the next
 * run of its definition or by `status`, instead of showing as RUNNING forever. The partial index keeps
 * finding those rows cheap however long the run history grows.
 */
export const name = 'abandoned_runs';

export const sql = `
ALTER TABLE arcore.sync_runs DROP CONSTRAINT sync_runs_status_check;
ALTER TABLE arcore.sync_runs ADD CONSTRAINT sync_runs_status_check
  CHECK (status IN ('RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED', 'SKIPPED', 'ABANDONED'));
CREATE INDEX sync_runs_running ON arcore.sync_runs (definition_id) WHERE status = 'RUNNING';
`;

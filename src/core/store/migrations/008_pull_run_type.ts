/**
 * Pulls are recorded as run type PULL (they were INGRESS). Rows written before stay INGRESS; every reader shows
 * them as PULL (src/core/ops/runs.ts RUN_COLUMNS), so the history is not rewritten.
 */
export const name = 'pull_run_type';

export const sql = `
ALTER TABLE arcore.sync_runs DROP CONSTRAINT sync_runs_run_type_check;
ALTER TABLE arcore.sync_runs ADD CONSTRAINT sync_runs_run_type_check
  CHECK (run_type IN ('PUSH', 'PULL', 'INGRESS', 'CDC'));
`;

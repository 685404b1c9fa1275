import type { Pool } from 'pg';
import type { RunCounts, RunStatus, RunTrigger, RunType } from '../engine/types';
import { definitionLockHeldSql } from './locks';

export async function startRun(
  meta: Pool,
  definitionId: string,
  runType: RunType,
  trigger: RunTrigger,
): Promise<string> {
  const { rows } = await meta.query<{ id: string }>(
    `INSERT INTO arcore.sync_runs (definition_id, run_type, trigger, status) VALUES ($1, $2, $3, 'RUNNING') RETURNING id`,
    [definitionId, runType, trigger],
  );
  return rows[0].id;
}

export interface RunFinish extends RunCounts {
  status: RunStatus;
  throttleWaitMs: number;
  graphRequests: number;
  resourceUnits: number;
  error: string | null;
  details?: Record<string, unknown>;
}

export async function finishRun(meta: Pool, runId: string, f: RunFinish): Promise<void> {
  await meta.query(
    `UPDATE arcore.sync_runs SET status = $2, finished_at = now(), processed = $3, created = $4, updated = $5,
       deleted = $6, skipped = $7, conflicts = $8, failed = $9, throttle_wait_ms = $10, graph_requests = $11,
       resource_units = $12, error = $13, details = $14, moved = $15, unrouted = $16 WHERE id = $1`,
    [
      runId,
      f.status,
      f.processed,
      f.created,
      f.updated,
      f.deleted,
      f.skipped,
      f.conflicts,
      f.failed,
      Math.round(f.throttleWaitMs),
      f.graphRequests,
      f.resourceUnits,
      f.error,
      f.details ? JSON.stringify(f.details) : null,
      f.moved,
      f.unrouted,
    ],
  );
}

/** Records a run that never got to start its work (e.g. a poison queue message). */
export async function recordFailedRun(
  meta: Pool,
  definitionId: string,
  runType: RunType,
  trigger: RunTrigger,
  error: string,
): Promise<string> {
  const { rows } = await meta.query<{ id: string }>(
    `INSERT INTO arcore.sync_runs (definition_id, run_type, trigger, status, finished_at, error)
     VALUES ($1, $2, $3, 'FAILED', now(), $4) RETURNING id`,
    [definitionId, runType, trigger, error],
  );
  return rows[0].id;
}

/**
 * Two select-list columns, `f` (parked failures) and `m` (held moves: parks of rows whose move waits for a user,
 * migration 031), of the definition whose id is the SQL expression `definitionId`.
 */
export const PARKED_COUNTS_SQL = (definitionId: string): string =>
  `(SELECT count(*) FROM arcore.sync_failures
     WHERE definition_id = ${definitionId} AND status = 'PARKED' AND NOT held_move) AS f,
   (SELECT count(*) FROM arcore.sync_failures
     WHERE definition_id = ${definitionId} AND status = 'PARKED' AND held_move) AS m`;

export async function backlogCounts(
  meta: Pool,
  definitionId: string,
): Promise<{ parkedFailures: number; openConflicts: number; heldMoves: number }> {
  const { rows } = await meta.query<{ f: string; c: string; m: string }>(
    `SELECT ${PARKED_COUNTS_SQL('$1')},
            (SELECT count(*) FROM arcore.sync_conflicts WHERE definition_id = $1 AND status = 'OPEN') AS c`,
    [definitionId],
  );
  return {
    parkedFailures: Number(rows[0].f),
    openConflicts: Number(rows[0].c),
    heldMoves: Number(rows[0].m),
  };
}

/** Recorded on a run marked ABANDONED. */
export const ABANDONED_ERROR =
  'abandoned: the process running it stopped (killed, crashed or lost its Postgres connection) without recording an outcome';

/**
 * I6/I11: marks the definition's RUNNING runs ABANDONED. Only for a caller that holds the definition's lock:
 * then no live run of it exists anywhere, so every RUNNING row is one whose process died. Returns their ids.
 */
export async function markAbandonedRuns(meta: Pool, definitionId: string): Promise<string[]> {
  const { rows } = await meta.query<{ id: string }>(
    `UPDATE arcore.sync_runs SET status = 'ABANDONED', finished_at = now(), error = $2
     WHERE definition_id = $1 AND status = 'RUNNING' RETURNING id::text AS id`,
    [definitionId, ABANDONED_ERROR],
  );
  return rows.map((r) => r.id);
}

/**
 * For readers that hold no lock (`status`, the ops API): marks ABANDONED the RUNNING runs of definitions
 * whose lock no session holds, in one statement. A run takes its lock before it records itself as RUNNING
 * and records its outcome before it lets go, so a RUNNING row this statement can see belongs to a live run
 * exactly when its definition's lock is held. Returns the ids marked.
 */
export async function reapAbandonedRuns(meta: Pool, definitionId?: string): Promise<string[]> {
  const { rows } = await meta.query<{ id: string }>(
    `UPDATE arcore.sync_runs r SET status = 'ABANDONED', finished_at = now(), error = $2
     WHERE r.status = 'RUNNING' AND ($1::bigint IS NULL OR r.definition_id = $1::bigint)
       AND NOT ${definitionLockHeldSql('r.definition_id')}
     RETURNING r.id::text AS id`,
    [definitionId ?? null, ABANDONED_ERROR],
  );
  return rows.map((r) => r.id);
}

/**
 * SQL true when a create (or move) recorded at `recordedAtSql` by definition `definitionIdSql` may still land: the
 * push or backfill that recorded it (the last one started by then; runs of a definition hold one lock, so one at a
 * time) never finished (RUNNING: its process may still be sending, its lock lost; ABANDONED: killed), or had
 * finished before it (who recorded it is unknown), or there is none. A run that finished awaited every request it
 * sent before recording its end. `resolve` runs as a push. One index probe: (definition_id, started_at DESC).
 */
export function mayStillLandSql(definitionIdSql: string, recordedAtSql: string): string {
  return `COALESCE((SELECT r.status IN ('RUNNING', 'ABANDONED') OR r.finished_at < ${recordedAtSql}
      FROM arcore.sync_runs r
     WHERE r.definition_id = ${definitionIdSql} AND r.run_type IN ('PUSH', 'BACKFILL')
       AND r.started_at <= ${recordedAtSql}
     ORDER BY r.started_at DESC LIMIT 1), true)`;
}

import type { Pool } from 'pg';
import { definitionIdByName } from './definitionIds';
import { reapAbandonedRuns } from '../store/runs';
import type { RunRecord } from './records';

export interface RunRow {
  id: string;
  definition: string;
  run_type: RunRecord['runType'];
  trigger: string;
  status: RunRecord['status'];
  started_at: Date;
  finished_at: Date | null;
  processed: number;
  created: number;
  updated: number;
  deleted: number;
  skipped: number;
  conflicts: number;
  failed: number;
  moved: number;
  unrouted: number;
  throttle_wait_ms: string;
  graph_requests: number;
  resource_units: number;
  error: string | null;
}

/** The run type of sync_runs alias `alias` as shown: rows written before migration 008 say INGRESS for PULL. */
export function runTypeOf(alias: string): string {
  return `(CASE ${alias}.run_type WHEN 'INGRESS' THEN 'PULL' ELSE ${alias}.run_type END)`;
}

/** Columns of `arcore.sync_runs r` joined with `arcore.sync_definitions d`, matching RunRow. */
export const RUN_COLUMNS = `r.id::text AS id, d.name AS definition, ${runTypeOf('r')} AS run_type, r.trigger, r.status, r.started_at,
  r.finished_at, r.processed, r.created, r.updated, r.deleted, r.skipped, r.conflicts, r.failed,
  r.moved, r.unrouted,
  r.throttle_wait_ms::text AS throttle_wait_ms, r.graph_requests, r.resource_units, r.error`;

export function toRunRecord(row: RunRow): RunRecord {
  return {
    runId: row.id,
    definition: row.definition,
    runType: row.run_type,
    trigger: row.trigger,
    status: row.status,
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at ? row.finished_at.toISOString() : null,
    durationMs: row.finished_at ? row.finished_at.getTime() - row.started_at.getTime() : null,
    processed: row.processed,
    created: row.created,
    updated: row.updated,
    deleted: row.deleted,
    skipped: row.skipped,
    conflicts: row.conflicts,
    failed: row.failed,
    moved: row.moved,
    unrouted: row.unrouted,
    throttleWaitMs: Number(row.throttle_wait_ms),
    graphRequests: row.graph_requests,
    resourceUnits: row.resource_units,
    error: row.error,
  };
}

export const MAX_RUNS_LISTED = 1000;

/** The most recent runs of a definition, newest first (at most MAX_RUNS_LISTED). */
/**
 * The id of the definition's newest run ('0' when none): an enqueued push or pull is served by the first run of
 * its type after it (a run records its row as it starts, so one running already has a lower id).
 */
export async function newestRunId(meta: Pool, definitionId: string): Promise<string> {
  const { rows } = await meta.query<{ id: string }>(
    'SELECT coalesce(max(id), 0)::text AS id FROM arcore.sync_runs WHERE definition_id = $1',
    [definitionId],
  );
  return rows[0].id;
}

export async function listRuns(meta: Pool, name: string, limit = 20): Promise<RunRecord[]> {
  const definitionId = await definitionIdByName(meta, name);
  await reapAbandonedRuns(meta, definitionId); // a dead run is shown ABANDONED, not RUNNING (I6)
  const bounded = Math.max(1, Math.min(MAX_RUNS_LISTED, Math.floor(limit)));
  const { rows } = await meta.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM arcore.sync_runs r JOIN arcore.sync_definitions d ON d.id = r.definition_id
     WHERE r.definition_id = $1 ORDER BY r.started_at DESC, r.id DESC LIMIT $2`,
    [definitionId, bounded],
  );
  return rows.map(toRunRecord);
}

/**
 * Records a run that never started because its queue message was poisoned (the host gave up after its
 * attempts), so the failure shows in `status` and in the run history instead of only in a poison queue.
 */
export async function recordPoisonedRun(
  meta: Pool,
  definitionId: string,
  runType: 'PUSH' | 'PULL',
  error: string,
): Promise<RunRecord> {
  const { rows } = await meta.query<{ id: string }>(
    `INSERT INTO arcore.sync_runs (definition_id, run_type, trigger, status, finished_at, error)
     VALUES ($1, $2, 'queue', 'FAILED', now(), $3) RETURNING id::text AS id`,
    [definitionId, runType, error.slice(0, 4000)],
  );
  const run = await meta.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM arcore.sync_runs r JOIN arcore.sync_definitions d ON d.id = r.definition_id
     WHERE r.id = $1`,
    [rows[0].id],
  );
  return toRunRecord(run.rows[0]);
}

export interface RunFilter {
  definition?: string;
  status?: RunRecord['status'];
  runType?: RunRecord['runType'];
  limit?: number;
}

/** Runs across every definition, newest first, optionally filtered (the console's run history). */
export async function listAllRuns(meta: Pool, filter: RunFilter = {}): Promise<RunRecord[]> {
  const bounded = Math.max(1, Math.min(MAX_RUNS_LISTED, Math.floor(filter.limit ?? 100)));
  const definitionId = filter.definition ? await definitionIdByName(meta, filter.definition) : null;
  await reapAbandonedRuns(meta, definitionId ?? undefined); // dead runs show as ABANDONED (I6)
  const { rows } = await meta.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM arcore.sync_runs r JOIN arcore.sync_definitions d ON d.id = r.definition_id
     WHERE ($1::bigint IS NULL OR r.definition_id = $1) AND ($2::text IS NULL OR r.status = $2)
       AND ($3::text IS NULL OR ${runTypeOf('r')} = $3)
     ORDER BY r.started_at DESC, r.id DESC LIMIT $4`,
    [definitionId, filter.status ?? null, filter.runType ?? null, bounded],
  );
  return rows.map(toRunRecord);
}

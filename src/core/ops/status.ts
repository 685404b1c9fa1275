import { captureLoadOf } from './captureLoad';
import { healthIssuesOf, type HealthInputs } from './health';
import type { Pool } from 'pg';
import { UnknownDefinitionError } from '../store/definitions';
import { reapAbandonedRuns } from '../store/runs';
import type { SlotPolicy } from '../engine/types';
import {
  BACKFILL_COUNT_KEYS,
  emptyBackfillCounts,
  type BackfillCounts,
  type BackfillDirection,
  type BackfillStrategy,
} from '../store/backfills';
import type { DeletePolicy } from '../definition/schema';
import { heldMovesNextStep, itemDeletedAdvice, withoutOpenConflict } from './heldRows';
import type { DefinitionStatus, ListProblem, UnfinishedBackfill } from './records';
import { slotStatuses, type SlotStatus, type SourcePoolOf } from './slotHealth';
import { RUN_COLUMNS, runTypeOf, toRunRecord, type RunRow } from './runs';

interface StatusRow {
  id: string;
  name: string;
  enabled: boolean;
  pull_enabled: boolean;
  conflict_policy: string;
  schedule: string;
  source_schema: string;
  source_table: string;
  target_site: string;
  target_list: string;
  source_value: string | null;
  deletes_owed: boolean | null;
  deletes_waiting: string | null;
  source_updated_at: Date | null;
  idle_checked_at: Date | null;
  pull_idle_checked_at: Date | null;
  target_present: boolean | null;
  target_updated_at: Date | null;
  last_push: RunRow | null;
  last_pull: RunRow | null;
  ledger_size: string;
  unrouted_rows: string;
  item_deleted_rows: string;
  pending_creates: string;
  parked_failures: string;
  held_moves: string;
  held_move_rows: HeldMoveJson[] | null;
  deletes_pull: DeletePolicy | null;
  push_fields: string | null;
  open_conflicts: string;
  pending_pull: boolean;
  subscription_id: string | null;
  subscription_expiration: Date | null;
  subscription_state: string | null;
  backfill: BackfillJson | null;
  planned: PlannedJson | null;
  source_warnings: string[] | null;
}

/** A parked row whose move waits for the user (migration 031), as json_build_object gives it. */
interface HeldMoveJson {
  failureId: string;
  identity: Record<string, unknown> | null;
  reason: string;
  since: string;
}

/** How many held moves `status` lists with their reasons (all are counted; `failures NAME` lists every one). */
export const HELD_MOVES_LISTED = 10;

/** The last run that planned the definition's lists (its details carry `warnings`), as json_build_object gives it. */
interface PlannedJson {
  runId: string;
  startedAt: string;
  problems: { list: string; problem: string }[] | null;
}

/** The next step a list problem ends with (src/core/engine/routing.ts, listProblem). */
function nextStepOf(problem: string): string | null {
  const at = problem.lastIndexOf('Next step: ');
  return at < 0 ? null : problem.slice(at + 'Next step: '.length);
}

function listProblemsOf(planned: PlannedJson | null): ListProblem[] {
  if (!planned?.problems) return [];
  const seenAt = new Date(planned.startedAt).toISOString();
  return planned.problems.map((p) => ({
    list: p.list,
    problem: p.problem,
    nextStep: nextStepOf(p.problem),
    runId: planned.runId,
    seenAt,
  }));
}

/** An unfinished sync_backfills row as row_to_json gives it (timestamps as text). */
interface BackfillJson extends BackfillCounts {
  fields: string[];
  strategy: BackfillStrategy;
  direction: BackfillDirection;
  runs: number;
  started_at: string;
  updated_at: string;
  /** Migration 027; absent before it. */
  waiting?: string[];
}

function unfinishedBackfill(name: string, b: BackfillJson, total: number): UnfinishedBackfill {
  const counts = emptyBackfillCounts();
  for (const k of BACKFILL_COUNT_KEYS) counts[k] = b[k];
  const command = `arcore-sync backfill ${name} --fields ${b.fields.join(',')} --strategy ${b.strategy} --direction ${b.direction}`;
  return {
    fields: b.fields,
    strategy: b.strategy,
    direction: b.direction,
    done: b.examined,
    total,
    counts,
    runs: b.runs,
    startedAt: new Date(b.started_at).toISOString(),
    lastProgressAt: new Date(b.updated_at).toISOString(),
    waiting: b.waiting?.length ?? 0,
    resume: command,
    restart: `${command} --restart`,
  };
}

/** json_build_object loses Date types: restore them so one converter serves both paths. */
function runFromJson(json: RunRow | null): RunRow | null {
  if (!json) return null;
  return {
    ...json,
    started_at: new Date(json.started_at),
    finished_at: json.finished_at ? new Date(json.finished_at) : null,
    throttle_wait_ms: String(json.throttle_wait_ms),
  };
}

const lastRun = (runType: string) => `(
  SELECT row_to_json(x) FROM (
    SELECT ${RUN_COLUMNS} FROM arcore.sync_runs r JOIN arcore.sync_definitions d ON d.id = r.definition_id
    WHERE r.definition_id = def.id AND ${runTypeOf('r')} = '${runType}' AND r.status <> 'SKIPPED'
    ORDER BY r.started_at DESC, r.id DESC LIMIT 1) x)`;

/** How `status` reads the replication slots of LSN definitions on their source servers. */
export interface SlotReading {
  sourcePool: SourcePoolOf;
  policy: SlotPolicy;
}

/**
 * What an operator needs to know about each definition at a glance: enabled, policy, where push and
 * pull stand, the last runs, and what waits for a human (parked failures, open conflicts), and, with
 * `slots`, the replication slot of each LSN definition (retained WAL, lag; unhealthy over the threshold), and whether
 * it is healthy: `healthIssues` says why not, each with its next step (health.ts).
 * With `name`, exactly that definition (UnknownDefinitionError when there is none).
 */
export async function definitionStatus(
  meta: Pool,
  name?: string,
  slots?: SlotReading,
): Promise<DefinitionStatus[]> {
  // A run whose process died shows as ABANDONED, not as running forever (I6).
  await reapAbandonedRuns(meta);
  const { rows } = await meta.query<StatusRow>(
    `SELECT def.id::text AS id, def.name, def.enabled,
       COALESCE((def.document -> 'pull' ->> 'enabled')::boolean, true) AS pull_enabled,
       def.conflict_policy, def.schedule, def.source_schema, def.source_table, def.target_site, def.target_list,
       src.value AS source_value, src.updated_at AS source_updated_at, src.idle_checked_at,
       def.pull_idle_checked_at,
       src.deletes_full_position IS NOT NULL AS deletes_owed,
       -- Deleted rows the last push left for the next (its time, or its share of it for deletes, spent).
       (SELECT r.details ->> 'deletesWaiting' FROM arcore.sync_runs r
         WHERE r.definition_id = def.id AND ${runTypeOf('r')} = 'PUSH' AND r.status <> 'SKIPPED'
         ORDER BY r.started_at DESC, r.id DESC LIMIT 1) AS deletes_waiting,
       (tgt.value IS NOT NULL AND tgt.value <> '') AS target_present, tgt.updated_at AS target_updated_at,
       ${lastRun('PUSH')} AS last_push,
       ${lastRun('PULL')} AS last_pull,
       (SELECT count(*) FROM arcore.sync_ledger l
         WHERE l.definition_id = def.id AND l.state NOT IN ('UNROUTED', 'PENDING_CREATE', 'ITEM_DELETED'))
         AS ledger_size,
       (SELECT count(*) FROM arcore.sync_ledger l WHERE l.definition_id = def.id AND l.state = 'UNROUTED')
         AS unrouted_rows,
       (SELECT count(*) FROM arcore.sync_ledger l WHERE l.definition_id = def.id AND l.state = 'ITEM_DELETED'
           AND ${withoutOpenConflict('l')})
         AS item_deleted_rows,
       (SELECT count(*) FROM arcore.sync_ledger l WHERE l.definition_id = def.id AND l.state = 'PENDING_CREATE')
         AS pending_creates,
       (SELECT count(*) FROM arcore.sync_failures f
         WHERE f.definition_id = def.id AND f.status = 'PARKED' AND NOT f.held_move) AS parked_failures,
       (SELECT count(*) FROM arcore.sync_failures f
         WHERE f.definition_id = def.id AND f.status = 'PARKED' AND f.held_move) AS held_moves,
       (SELECT json_agg(json_build_object('failureId', h.id::text, 'identity', h.source_identity,
                 'reason', h.last_error, 'since', h.first_failed_at) ORDER BY h.id)
          FROM (SELECT f.id, f.source_identity, f.last_error, f.first_failed_at FROM arcore.sync_failures f
                 WHERE f.definition_id = def.id AND f.status = 'PARKED' AND f.held_move
                 ORDER BY f.id LIMIT ${HELD_MOVES_LISTED}) h) AS held_move_rows,
       COALESCE(def.document -> 'deletes' ->> 'pull', 'PROPAGATE') AS deletes_pull,
       (SELECT string_agg(f ->> 'target', ',') FROM jsonb_array_elements(def.document -> 'fields') f
         WHERE COALESCE(f ->> 'direction', 'BIDIRECTIONAL') <> 'PULL_ONLY') AS push_fields,
       (SELECT count(*) FROM arcore.sync_conflicts c WHERE c.definition_id = def.id AND c.status = 'OPEN')
         AS open_conflicts,
       EXISTS (SELECT 1 FROM arcore.pending_pulls p WHERE p.definition_id = def.id) AS pending_pull,
       sub.subscription_id, sub.expiration AS subscription_expiration, sub.state AS subscription_state,
       (SELECT row_to_json(b) FROM arcore.sync_backfills b WHERE b.definition_id = def.id AND b.status = 'RUNNING')
         AS backfill,
       -- Every run that opened its scope planned each list (details.warnings); the newest says which lists it
       -- skipped (details.listProblems). A run that failed before planning says nothing either way.
       (SELECT json_build_object('runId', r.id::text, 'startedAt', r.started_at, 'problems', r.details -> 'listProblems')
          FROM arcore.sync_runs r WHERE r.definition_id = def.id AND r.details ? 'warnings'
          ORDER BY r.started_at DESC, r.id DESC LIMIT 1) AS planned,
       -- The last push that read the table's triggers (TIMESTAMP: every push that reached its deletes).
       (SELECT r.details -> 'sourceWarnings' FROM arcore.sync_runs r
          WHERE r.definition_id = def.id AND r.run_type = 'PUSH' AND r.details ? 'deleteDetection'
          ORDER BY r.started_at DESC, r.id DESC LIMIT 1) AS source_warnings
     FROM arcore.sync_definitions def
     LEFT JOIN arcore.sync_cursors src ON src.definition_id = def.id AND src.scope = 'SOURCE'
     LEFT JOIN arcore.sync_cursors tgt ON tgt.definition_id = def.id AND tgt.scope = 'TARGET'
     LEFT JOIN LATERAL (
       SELECT s.subscription_id, s.expiration, s.state FROM arcore.graph_subscriptions s
       WHERE s.definition_id = def.id AND s.state <> 'REMOVED' ORDER BY s.expiration DESC LIMIT 1) sub ON true
     WHERE $1::text IS NULL OR def.name = $1
     ORDER BY def.name`,
    [name ?? null],
  );
  if (name !== undefined && rows.length === 0) throw new UnknownDefinitionError(name);
  const slotById = slots
    ? await slotStatuses(meta, slots.sourcePool, slots.policy, name)
    : new Map<string, SlotStatus>();
  return rows.map((row) => {
    const slot = slotById.get(row.id) ?? null;
    const lastPush = runFromJson(row.last_push);
    const lastPull = runFromJson(row.last_pull);
    const status: HealthInputs = {
      id: row.id,
      name: row.name,
      enabled: row.enabled,
      pullEnabled: row.pull_enabled,
      conflictPolicy: row.conflict_policy,
      schedule: row.schedule,
      table: `${row.source_schema}.${row.source_table}`,
      list: `${row.target_site} / ${row.target_list}`,
      cursors: {
        source: row.source_updated_at
          ? { value: row.source_value, updatedAt: row.source_updated_at.toISOString() }
          : null,
        target: row.target_updated_at
          ? { linkPresent: row.target_present === true, updatedAt: row.target_updated_at.toISOString() }
          : null,
      },
      lastPush: lastPush ? toRunRecord(lastPush) : null,
      lastPull: lastPull ? toRunRecord(lastPull) : null,
      ledgerSize: Number(row.ledger_size),
      unroutedRows: Number(row.unrouted_rows),
      itemDeletedRows: Number(row.item_deleted_rows),
      pendingCreates: Number(row.pending_creates),
      parkedFailures: Number(row.parked_failures),
      heldMoves: Number(row.held_moves),
      heldMoveAdvice:
        Number(row.held_moves) > 0
          ? {
              rows: (row.held_move_rows ?? []).map((h) => ({
                failureId: h.failureId,
                sourceIdentity: h.identity,
                reason: h.reason,
                since: new Date(h.since).toISOString(),
              })),
              nextStep: heldMovesNextStep(row.name),
            }
          : null,
      itemDeletedAdvice:
        Number(row.item_deleted_rows) > 0
          ? {
              deletesPull: row.deletes_pull ?? 'PROPAGATE',
              ...itemDeletedAdvice(
                row.name,
                Number(row.item_deleted_rows),
                row.deletes_pull ?? 'PROPAGATE',
                row.push_fields ? row.push_fields.split(',') : [],
              ),
            }
          : null,
      openConflicts: Number(row.open_conflicts),
      pendingPull: row.pending_pull,
      idleCheckedAt: row.idle_checked_at?.toISOString() ?? null,
      pullIdleCheckedAt: row.pull_idle_checked_at?.toISOString() ?? null,
      listProblems: listProblemsOf(row.planned),
      sourceWarnings: row.source_warnings ?? [],
      subscription: row.subscription_id
        ? {
            id: row.subscription_id,
            expiration: (row.subscription_expiration as Date).toISOString(),
            state: row.subscription_state ?? 'ACTIVE',
          }
        : null,
      slot,
      captureLoad: captureLoadOf(row.source_value),
      deletesComparisonOwed: row.deletes_owed === true,
      deletesWaiting: row.deletes_waiting === null ? 0 : Number(row.deletes_waiting),
      backfill: row.backfill
        ? unfinishedBackfill(
            row.name,
            row.backfill,
            // Every ledger row the backfill examines, pending creates and rows without their item included.
            Number(row.ledger_size) +
              Number(row.unrouted_rows) +
              Number(row.pending_creates) +
              Number(row.item_deleted_rows),
          )
        : null,
    };
    const healthIssues = healthIssuesOf(status);
    return { ...status, healthy: healthIssues.length === 0, healthIssues };
  });
}

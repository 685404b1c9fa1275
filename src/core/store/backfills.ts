import type { Pool, PoolClient } from 'pg';

type Db = Pool | PoolClient;

export type BackfillStrategy = 'update_only' | 'full_resync';
export type BackfillDirection = 'push' | 'pull';

/** What a backfill re-syncs: chosen fields (SharePoint internal names), how, and which way. */
export interface BackfillSpec {
  fields: string[];
  strategy: BackfillStrategy;
  direction: BackfillDirection;
}

/** Per-pair outcomes of a backfill; every examined ledger row lands in exactly one of the others. */
export interface BackfillCounts {
  examined: number;
  updated: number;
  equal: number;
  skipped: number;
  created: number;
  conflicts: number;
  failed: number;
}

export const BACKFILL_COUNT_KEYS = [
  'examined',
  'updated',
  'equal',
  'skipped',
  'created',
  'conflicts',
  'failed',
] as const satisfies readonly (keyof BackfillCounts)[];

export function emptyBackfillCounts(): BackfillCounts {
  return { examined: 0, updated: 0, equal: 0, skipped: 0, created: 0, conflicts: 0, failed: 0 };
}

/** The stored backfill of a definition (migration 014): the one in progress, or the last one finished. */
export interface StoredBackfill extends BackfillSpec {
  /** The last ledger identity hash processed ('' before the first). */
  position: string;
  status: 'RUNNING' | 'COMPLETED';
  /** Summed over every run of this backfill. */
  counts: BackfillCounts;
  runs: number;
  startedAt: string;
  finishedAt: string | null;
  /**
   * Per chosen field, the stamp of the pipeline the backfill's direction ran when it started (migration 028);
   * null for a backfill started before it.
   */
  pipelines: Record<string, string> | null;
  /** Identity hashes of rows passed while they had an open conflict: re-examined once it is resolved. */
  waiting: string[];
}

/** A row of arcore.sync_backfills: the spec, and one column per count. */
interface BackfillRow extends BackfillSpec, BackfillCounts {
  position: string;
  status: 'RUNNING' | 'COMPLETED';
  runs: number;
  started_at: Date;
  finished_at: Date | null;
  pipelines: Record<string, string> | null;
  waiting: string[];
}

export async function readBackfill(db: Db, definitionId: string): Promise<StoredBackfill | null> {
  const { rows } = await db.query<BackfillRow>(
    'SELECT * FROM arcore.sync_backfills WHERE definition_id = $1',
    [definitionId],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    fields: r.fields,
    strategy: r.strategy,
    direction: r.direction,
    position: r.position,
    status: r.status,
    counts: {
      examined: r.examined,
      updated: r.updated,
      equal: r.equal,
      skipped: r.skipped,
      created: r.created,
      conflicts: r.conflicts,
      failed: r.failed,
    },
    runs: r.runs,
    startedAt: r.started_at.toISOString(),
    finishedAt: r.finished_at?.toISOString() ?? null,
    pipelines: r.pipelines,
    waiting: r.waiting,
  };
}

/**
 * Starts a backfill afresh (from the first ledger row), replacing whatever the definition had stored.
 * `pipelines`: per chosen field, the stamp of the pipeline the backfill's direction runs now.
 */
export async function startBackfill(
  db: Db,
  definitionId: string,
  spec: BackfillSpec,
  pipelines: Record<string, string>,
): Promise<void> {
  await db.query(
    `INSERT INTO arcore.sync_backfills (definition_id, fields, strategy, direction, position, status, runs, pipelines)
     VALUES ($1, $2, $3, $4, '', 'RUNNING', 1, $5)
     ON CONFLICT (definition_id) DO UPDATE SET fields = EXCLUDED.fields, strategy = EXCLUDED.strategy,
       direction = EXCLUDED.direction, position = '', status = 'RUNNING', examined = 0, updated = 0, equal = 0,
       skipped = 0, created = 0, conflicts = 0, failed = 0, runs = 1, started_at = now(), updated_at = now(),
       finished_at = NULL, pipelines = EXCLUDED.pipelines, waiting = '{}'`,
    [definitionId, spec.fields, spec.strategy, spec.direction, JSON.stringify(pipelines)],
  );
}

/** Counts one more run of the stored backfill, which continues from its position. */
export async function resumeBackfill(db: Db, definitionId: string): Promise<void> {
  await db.query(
    'UPDATE arcore.sync_backfills SET runs = runs + 1, updated_at = now() WHERE definition_id = $1',
    [definitionId],
  );
}

/**
 * Moves the position past a processed batch and adds its counts (in the batch's metadata transaction). Of the
 * rows the batch `examined`, those in `waiting` (passed for an open conflict) are the ones left waiting.
 */
export async function advanceBackfill(
  db: Db,
  definitionId: string,
  position: string,
  add: BackfillCounts,
  rows: { examined: string[]; waiting: string[] },
): Promise<void> {
  await db.query(
    `UPDATE arcore.sync_backfills SET position = $2, examined = examined + $3, updated = updated + $4,
       equal = equal + $5, skipped = skipped + $6, created = created + $7, conflicts = conflicts + $8,
       failed = failed + $9, updated_at = now(),
       waiting = ARRAY(SELECT w FROM unnest(waiting) w WHERE w <> ALL ($10::text[]) UNION SELECT unnest($11::text[]))
     WHERE definition_id = $1`,
    [
      definitionId,
      position,
      add.examined,
      add.updated,
      add.equal,
      add.skipped,
      add.created,
      add.conflicts,
      add.failed,
      rows.examined,
      rows.waiting,
    ],
  );
}

export async function completeBackfill(db: Db, definitionId: string): Promise<void> {
  await db.query(
    `UPDATE arcore.sync_backfills SET status = 'COMPLETED', finished_at = now(), updated_at = now()
     WHERE definition_id = $1`,
    [definitionId],
  );
}

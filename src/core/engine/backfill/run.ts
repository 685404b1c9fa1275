import { timestampReaders } from '../../ops/deleteCapture';
import { getDefinition } from '../../store/definitions';
import { openConflictIdentities } from '../../store/conflicts';
import {
  advanceBackfill,
  BACKFILL_COUNT_KEYS,
  completeBackfill,
  emptyBackfillCounts,
  readBackfill,
  resumeBackfill,
  startBackfill,
  type BackfillCounts,
  type BackfillDirection,
  type BackfillSpec,
  type BackfillStrategy,
} from '../../store/backfills';
import { DryRun, type PlannedChange } from '../dryRun';
import { withRun, type RunScope } from '../runner';
import type { LedgerEntry } from '../../store/ledger';
import type { EngineContext, RunSummary, RunTrigger } from '../types';
import { backfillBatch, type BackfillJob, type MissingRow } from './batch';
import { planOnly } from './decide';
import {
  assertFlowsInPlan,
  BackfillInProgressError,
  backfillPipelines,
  changedPipelines,
  resolveBackfillFields,
  sameSpec,
} from './fields';

export interface BackfillOptions {
  /** SharePoint field names or source columns of the definition. */
  fields: string[];
  strategy?: BackfillStrategy;
  direction?: BackfillDirection;
  /** Read as the backfill would, write nothing (no ledger, position, conflict or run record either). */
  dryRun?: boolean;
  /** Start over even though a backfill of other fields (or the same ones) is unfinished. */
  restart?: boolean;
  /** Time budget of this run in seconds (default RUN_MAX_SECONDS); a rerun continues where it stopped. */
  maxSeconds?: number;
  trigger: RunTrigger;
  sampleSize?: number;
}

/** The outcome of one backfill run, as `backfill --json` and the ops API print it. */
export interface BackfillSummary extends BackfillCounts {
  definition: string;
  /** null for a dry run, or when another run held the definition's lock (status SKIPPED). */
  runId: string | null;
  runType: 'BACKFILL';
  status: RunSummary['status'];
  /** False when the run stopped at its time budget (or was SKIPPED): run the same backfill again to continue. */
  complete: boolean;
  dryRun: boolean;
  fields: string[];
  strategy: BackfillStrategy;
  direction: BackfillDirection;
  /** This run continued a backfill an earlier run had started. */
  resumed: boolean;
  /**
   * Why this run started the unfinished backfill again from the first ledger row instead of continuing it (a
   * chosen field's pipeline changed since it started); null when it did not.
   */
  restarted: string | null;
  /**
   * Ledger rows of the definition when the run started, or `overall.examined` when more (rows created past the
   * position meanwhile): what the whole backfill examines.
   */
  total: number;
  /** Counts summed over every run of this backfill, this one included, each ledger row once (countedOnce). */
  overall: BackfillCounts;
  /** Rows whose cursor column a trigger moved although the backfill asked it not to (re-run install-cursor). */
  cursorMoved: number;
  /** The first rows that failed, with why. */
  failures: { key: Record<string, unknown>; error: string }[];
  /**
   * full_resync pulling: the first rows gone from Postgres left to the push's delete policy (not re-created),
   * each with what happens next.
   */
  missingRows: MissingRow[];
  /**
   * The first rows the backfill passed while they had an open conflict (MANUAL), each with what to do: the
   * backfill stays unfinished (complete: false) until a run after their resolution re-examines them.
   */
  waitingRows: MissingRow[];
  startedAt: string;
  durationMs: number;
  graphRequests: number;
  resourceUnits: number;
  throttleWaitMs: number;
  paceWaitMs: number;
  resumeAfter: string | null;
  parkedFailures: number;
  openConflicts: number;
  error: string | null;
  errorKind?: RunSummary['errorKind'];
  errorHint?: string;
  /** Dry run: writes the backfill would send or apply, and the first of them. */
  planned?: number;
  sample?: PlannedChange[];
}

const MAX_BATCH = 200;
const MAX_WAITING_SHOWN = 20;

function addCounts(a: BackfillCounts, b: BackfillCounts): BackfillCounts {
  const out = emptyBackfillCounts();
  for (const k of BACKFILL_COUNT_KEYS) out[k] = a[k] + b[k];
  return out;
}

async function ledgerRows(scope: RunScope): Promise<number> {
  const { rows } = await scope.ctx.meta.query<{ n: string }>(
    'SELECT count(*) AS n FROM arcore.sync_ledger WHERE definition_id = $1',
    [scope.definitionId],
  );
  return Number(rows[0].n);
}

/**
 * `backfill NAME --fields …`: re-syncs the chosen fields of every ledger row, in identity-hash order, without
 * touching the push or pull cursors or the rows' cursor column (issue #22). Runs under the definition's lock as
 * run type BACKFILL; its position and counts are stored per definition (arcore.sync_backfills) batch by batch,
 * so a run stopped by a crash or its time budget is continued by running the same backfill again.
 */
export async function runBackfill(
  ctx: EngineContext,
  definitionName: string,
  opts: BackfillOptions,
): Promise<BackfillSummary> {
  const stored = await getDefinition(ctx.meta, definitionName);
  const direction = opts.direction ?? 'push';
  const strategy = opts.strategy ?? 'update_only';
  const spec: BackfillSpec = {
    fields: resolveBackfillFields(stored.definition, opts.fields, direction),
    strategy,
    direction,
  };
  // Checked before the run so bad input records no failed run; checked again under the lock below.
  const before = opts.dryRun ? null : await readBackfill(ctx.meta, stored.id);
  if (before?.status === 'RUNNING' && !sameSpec(before, spec) && !opts.restart)
    throw new BackfillInProgressError(definitionName, before);

  const dry = opts.dryRun ? new DryRun(opts.sampleSize) : undefined;
  const counts = emptyBackfillCounts();
  // What this run added to the backfill's counts: `counts` less the rows it examined again (countedOnce).
  const added = emptyBackfillCounts();
  let earlier = emptyBackfillCounts();
  let resumed = false;
  let restarted: string | null = null;
  let total = 0;
  let job: BackfillJob | null = null;
  let waitingRows: MissingRow[] = [];
  const summary = await withRun(
    ctx,
    definitionName,
    'BACKFILL',
    { trigger: opts.trigger, maxSeconds: opts.maxSeconds, dryRun: dry },
    async (scope) => {
      assertFlowsInPlan(scope.def, scope.plan, spec.fields, direction);
      let position = '';
      if (!scope.dryRun) {
        const current = await readBackfill(ctx.meta, scope.definitionId);
        const pipelines = backfillPipelines(scope.plan, spec);
        const changed = current ? changedPipelines(current.pipelines, pipelines) : [];
        if (current?.status === 'RUNNING' && !opts.restart && changed.length === 0) {
          if (!sameSpec(current, spec)) throw new BackfillInProgressError(definitionName, current);
          position = current.position;
          earlier = current.counts;
          resumed = true;
          await resumeBackfill(ctx.meta, scope.definitionId);
        } else {
          if (current?.status === 'RUNNING' && !opts.restart) {
            if (!sameSpec(current, spec)) throw new BackfillInProgressError(definitionName, current);
            // The rows done so far were written under the older pipeline: continuing would leave them so (I14).
            restarted =
              `the pipeline of ${changed.join(', ')} changed since this backfill started ` +
              `(${current.counts.examined} ledger rows examined then): it started again from the first row`;
            ctx.log.info(`${definitionName}: backfill: ${restarted}`);
          }
          await startBackfill(ctx.meta, scope.definitionId, spec, pipelines);
        }
      }
      total = await ledgerRows(scope);
      const { source } = scope.def;
      // Another definition's push finds the rows this one writes only by their cursor column (I5): moved for it.
      const sharedWith = await timestampReaders(ctx.meta, scope.definitionId, source);
      if (sharedWith.length > 0)
        ctx.log.info(
          `${definitionName}: backfill: ${sharedWith.join(', ')} also read ${source.schema}.${source.table}: ` +
            'the rows written here get a new cursor value, so that their pushes carry the values written',
        );
      const current: BackfillJob = {
        scope,
        spec,
        plan: planOnly(scope.plan, spec.fields),
        keepCursor: sharedWith.length === 0,
        cursorMoved: 0,
        failures: [],
        missingRows: [],
      };
      job = current;
      scope.details.backfill = {
        ...spec,
        resumed,
        from: position || null,
        ...(restarted ? { restarted } : {}),
        ...(sharedWith.length > 0 ? { cursorMovedFor: sharedWith } : {}),
      };
      const batchSize = Math.min(scope.def.source.pageSize, MAX_BATCH);
      const passedNow = new Set<string>();
      for (;;) {
        const entries = await scope.ledger.batchAfter(ctx.meta, position, batchSize);
        if (entries.length === 0) break;
        const done = await backfillBatch(current, entries);
        for (const k of BACKFILL_COUNT_KEYS) {
          counts[k] += done[k];
          added[k] += done.added[k];
        }
        for (const h of done.waiting) passedNow.add(h);
        position = entries[entries.length - 1].identityHash;
        mirrorCounts(scope, counts);
        ctx.onProgress?.({
          runType: 'BACKFILL',
          definition: definitionName,
          done: earlier.examined + added.examined,
          total,
          throttleWaitMs: scope.target.stats().throttleWaitMs,
        });
        if (entries.length < batchSize) break;
        // The batch and the position after it are committed: out of time, stop here (I16).
        if (scope.timeLeft() <= 0) {
          scope.stopIncomplete('time budget spent');
          scope.details.backfill = { ...spec, resumed, stoppedAt: position };
          return;
        }
      }
      if (!scope.dryRun) {
        const left = await reexamineWaiting(current, position, batchSize, passedNow, counts, added);
        mirrorCounts(scope, counts);
        if (left.length === 0) await completeBackfill(ctx.meta, scope.definitionId);
        else {
          waitingRows = await describeWaiting(scope, left, definitionName);
          // Done but for rows MANUAL parks (unfinished, so that they are backfilled once resolved, I7, I14), or rows
          // changed in Postgres each time the backfill came to write them.
          const held = await openConflictIdentities(ctx.meta, scope.definitionId, left);
          const busy = left.length - held.size;
          scope.stopIncomplete(
            [
              held.size > 0
                ? `${held.size} row(s) have an open conflict: resolve them (arcore-sync conflicts ${definitionName})`
                : '',
              busy > 0 ? `${busy} row(s) changed in Postgres each time the backfill came to write them` : '',
            ]
              .filter(Boolean)
              .join('; ') + ', then run the same backfill again',
          );
        }
      }
      if (current.cursorMoved > 0) {
        ctx.log.warn(
          `${definitionName}: the trigger on ${scope.def.source.table} moved the cursor column of ` +
            `${current.cursorMoved} row(s) the backfill wrote (it predates backfills); run ` +
            `"arcore-sync install-cursor ${definitionName}" to replace it (the next push sees those rows as echoes)`,
        );
      }
    },
  );
  const finished = job as BackfillJob | null;
  return {
    definition: definitionName,
    runId: summary.runId,
    runType: 'BACKFILL',
    status: summary.status,
    complete: summary.complete,
    dryRun: Boolean(dry),
    ...spec,
    resumed,
    restarted,
    // Rows created past the position while the backfill ran are examined too: the total grows by them.
    total: Math.max(total, earlier.examined + added.examined),
    ...counts,
    overall: addCounts(earlier, added),
    cursorMoved: finished?.cursorMoved ?? 0,
    failures: finished?.failures ?? [],
    missingRows: finished?.missingRows ?? [],
    waitingRows,
    startedAt: summary.startedAt,
    durationMs: summary.durationMs,
    graphRequests: summary.graphRequests,
    resourceUnits: summary.resourceUnits,
    throttleWaitMs: summary.throttleWaitMs,
    paceWaitMs: summary.paceWaitMs,
    resumeAfter: summary.resumeAfter,
    parkedFailures: summary.parkedFailures,
    openConflicts: summary.openConflicts,
    error: summary.error,
    ...(summary.errorKind ? { errorKind: summary.errorKind, errorHint: summary.errorHint } : {}),
    ...(dry ? { planned: dry.planned, sample: dry.sample } : {}),
  };
}

/**
 * Rows an earlier pass left for an open conflict, re-examined once the pass is done (those this run passed are
 * still open: not again): in this run's `counts`, and in what it `added` to the backfill's as outcomes replaced.
 * Returns the identity hashes still waiting.
 */
async function reexamineWaiting(
  job: BackfillJob,
  position: string,
  batchSize: number,
  passedNow: ReadonlySet<string>,
  counts: BackfillCounts,
  added: BackfillCounts,
): Promise<string[]> {
  const { scope } = job;
  const { meta } = scope.ctx;
  const waiting = (await readBackfill(meta, scope.definitionId))?.waiting ?? [];
  const due = waiting.filter((h) => !passedNow.has(h));
  if (due.length === 0) return waiting;
  const found = await scope.ledger.byIdentities(meta, due);
  const gone = due.filter((h) => !found.has(h));
  // A pair forgotten meanwhile (its conflict resolved by a delete): nothing left to backfill.
  if (gone.length > 0) {
    scope.assertLockHeld();
    await advanceBackfill(meta, scope.definitionId, position, emptyBackfillCounts(), {
      examined: gone,
      waiting: [],
    });
  }
  const entries = [...found.values()].sort((a, b) => (a.identityHash < b.identityHash ? -1 : 1));
  for (let i = 0; i < entries.length; i += batchSize) {
    if (scope.timeLeft() <= 0) {
      scope.stopIncomplete('time budget spent');
      break;
    }
    const done = await backfillBatch(job, entries.slice(i, i + batchSize), position);
    for (const k of BACKFILL_COUNT_KEYS) {
      counts[k] += done[k];
      added[k] += done.added[k];
    }
  }
  return (await readBackfill(meta, scope.definitionId))?.waiting ?? [];
}

/** The first waiting rows, for the summary. */
async function describeWaiting(scope: RunScope, hashes: string[], name: string): Promise<MissingRow[]> {
  const entries = await scope.ledger.byIdentities(scope.ctx.meta, hashes.slice(0, MAX_WAITING_SHOWN));
  return [...entries.values()].map((e: LedgerEntry) => ({
    key: e.identity,
    itemId: e.itemId ?? '',
    next: `it has an open conflict: resolve it (arcore-sync conflicts ${name}), then run the same backfill again`,
  }));
}

/** The run record's counts (sync_runs): processed = examined; skipped = equal + skipped. */
function mirrorCounts(scope: RunScope, c: BackfillCounts): void {
  Object.assign(scope.counts, {
    processed: c.examined,
    created: c.created,
    updated: c.updated,
    deleted: 0,
    skipped: c.equal + c.skipped,
    conflicts: c.conflicts,
    failed: c.failed,
  });
}

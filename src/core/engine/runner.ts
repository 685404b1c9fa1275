import type { Pool } from 'pg';
import { RunTimeBudgetError } from '../budget/errors';
import type { SpColumnInfo } from '../canonical';
import type { SyncDefinition } from '../definition/schema';
import { readSourceTable } from '../source/postgres/catalog';
import { readColumnShape } from '../source/postgres/shape';
import { assertKeyIdentifies, isUnindexable } from '../source/postgres/keys';
import { errorKindOf, hintFor } from '../errors/classify';
import type { ErrorKind } from '../errors/kind';
import { PostgresSource, quoteIdent } from '../source/postgres/PostgresSource';
import { bindListId, getDefinition, type StoredDefinition } from '../store/definitions';
import { LedgerStore } from '../store/ledger';
import { tryLockDefinition, type DefinitionLock } from '../store/locks';
import type { CursorSession } from '../capture/lsn/peek';
import { backlogCounts, finishRun, markAbandonedRuns, startRun } from '../store/runs';
import type { DryRun } from './dryRun';
import { checkListIdentity, claimLists, refuseShared } from './listIdentity';
import { checkKeyKinds } from './keyKinds';
import { checkColumnTypes, shapeColumns } from './columnTypes';
import { listsToBind, refuseUnclaimedItems } from './unclaimedItems';
import {
  checkRoutedListIdentity,
  listProblems,
  planLists,
  routerOf,
  wasRouted,
  type Router,
  type ScopeList,
} from './routing';
import type { SharePointTarget } from '../target/sharepoint';
import type { FieldPlan } from './plan';
import {
  runVerb,
  type EngineContext,
  type RunCounts,
  type RunSummary,
  type RunTrigger,
  type RunType,
  type RunWait,
} from './types';
import { isListId, isRouted, singleListOf, targetListLabel, targetLists } from '../routing/lists';
import { pipelineColumns } from './transform';

/** Graph answered 404 for the definition's site or list (any other failure keeps its own error and kind). */
export class ListNotFoundError extends Error {
  readonly errorKind: ErrorKind = 'not_found';
  readonly hint: string;

  constructor(
    readonly definition: string,
    readonly site: string,
    readonly list: string,
    cause: unknown,
    readonly missing: 'site' | 'list' = 'list',
  ) {
    super(
      missing === 'site'
        ? `Definition "${definition}": site "${site}" not found (${(cause as Error).message}).`
        : `Definition "${definition}": list "${list}" not found on site "${site}" (${(cause as Error).message}).`,
      { cause },
    );
    this.name = 'ListNotFoundError';
    this.hint =
      missing === 'site'
        ? 'check target.site: host name and server-relative path, e.g. contoso.sharepoint.com:/sites/ops'
        : isListId(list)
          ? 'no list has this id on the site: check the GUID in target.list (list settings show it), or give ' +
            `the list's display name, which "arcore-sync provision ${definition}" creates when it is missing`
          : `check the display name or GUID in target.list, or create the list with "arcore-sync provision ${definition}"`;
  }
}

/** The list lacks the hidden key column push and pull identify items by: it was not provisioned. */
export class KeyColumnMissingError extends Error {
  readonly errorKind: ErrorKind = 'invalid_definition';
  readonly hint: string;

  constructor(
    readonly definition: string,
    readonly list: string,
    readonly keyColumn: string,
  ) {
    super(
      `Definition "${definition}": list "${list}" has no column "${keyColumn}" (target.keyColumn, the hidden ` +
        'key every synced item carries); nothing was written',
    );
    this.name = 'KeyColumnMissingError';
    this.hint = `add the column with "arcore-sync provision ${definition}", then run again`;
  }
}

export class SourceTableNotFoundError extends Error {
  readonly errorKind: ErrorKind = 'not_found';

  constructor(
    readonly definition: string,
    readonly table: string,
  ) {
    super(`Definition "${definition}": source table "${table}" does not exist`);
    this.name = 'SourceTableNotFoundError';
  }
}

/** Everything one run of one definition works with, resolved once at its start. */
export interface RunScope {
  ctx: EngineContext;
  stored: StoredDefinition;
  def: SyncDefinition;
  definitionId: string;
  runId: string;
  target: SharePointTarget;
  siteId: string;
  /**
   * The list this part of the run works on: the definition's list, or for a routed definition the first
   * routed list (push writes each row to its own list; the pull reads each list under `forList`).
   */
  listId: string;
  spColumns: SpColumnInfo[];
  /** Every list of the definition: one, or each routed list in route order. */
  lists: ScopeList[];
  /**
   * Routed definitions: the list a row belongs to, from its canonical values by target field (what push and pull
   * compare), or null when no route matches (the row is unrouted). Null for a single-list definition.
   */
  route: Router | null;
  plan: FieldPlan;
  source: PostgresSource;
  sourcePool: Pool;
  /**
   * True when nothing in the source can enforce the key (a view, a foreign table): each push page then asks the
   * relation whether its keys are held by other rows (I13). False for a table, whose unique index was checked.
   */
  keyUnenforced: boolean;
  /** True when the source table lives in the metadata database: page writes then share one transaction. */
  sameDatabase: boolean;
  ledger: LedgerStore;
  counts: RunCounts;
  details: Record<string, unknown>;
  /** Push: whether the list was read once with every mapped field (I14); looked up when first needed. */
  listReadWithAllFields?: boolean;
  /** Set for `--dry-run`: read as the run would, write nothing (see dryRun.ts). */
  dryRun?: DryRun | null;
  /** Throws LockLostError once the definition's lock is gone (I11): call before every write step. */
  assertLockHeld(): void;
  /**
   * The lock's own connection when it is on the source's database (sameDatabase, not a dry run): the slot peek's
   * cursor lives there instead of on a connection more than PG_POOL_MAX.
   */
  lockSession: CursorSession | null;
  /**
   * Milliseconds left of the run's time budget (I16). Page loops stop when it is spent, after committing
   * the page, and call `stopIncomplete`.
   */
  timeLeft(): number;
  /** Marks the run as stopped with work left (its summary says `complete: false`). */
  stopIncomplete(reason: string): void;
  /**
   * Set while an LSN definition's full comparison runs: called after a chunk found rows gone and before their items
   * are deleted; throws when the table was truncated or rewritten since the slot was last looked at for TRUNCATEs
   * (capture/lsn/push.ts), so a TRUNCATE is decided by deletes.truncate and not taken for deletes.
   */
  comparisonGuard?: () => Promise<void>;
}

/** Options of one push or pull run. */
export interface RunOptions {
  trigger: RunTrigger;
  /** Time budget in seconds (CLI --max-seconds); default the context's RUN_MAX_SECONDS. */
  maxSeconds?: number;
  /** `--dry-run`: read as the run would, write nothing (dryRun.ts). */
  dryRun?: DryRun;
  /** Push and pull: run in full even when the idle probe would find nothing to do (idle.ts, idlePull.ts). */
  full?: boolean;
  /**
   * `--import-existing-items`: a routed list this run binds may hold items without a hidden key (made before the
   * sync): take them in rather than refuse (unclaimedItems.ts, ListHoldsUnsyncedItemsError).
   */
  importExistingItems?: boolean;
}

export function emptyCounts(): RunCounts {
  return {
    processed: 0,
    created: 0,
    updated: 0,
    deleted: 0,
    moved: 0,
    skipped: 0,
    conflicts: 0,
    failed: 0,
    unrouted: 0,
  };
}

export async function resolveSharePoint(
  target: SharePointTarget,
  def: SyncDefinition,
  listName: string = singleListOf(def, 'resolving the list of a run'),
): Promise<{ siteId: string; listId: string }> {
  // Only a 404 means "not there": unreachable, TLS, credential and permission failures keep their kind.
  let siteId: string;
  try {
    siteId = (await target.resolveSite(def.target.site)).id;
  } catch (err) {
    if (errorKindOf(err) !== 'not_found') throw err;
    throw new ListNotFoundError(def.name, def.target.site, targetListLabel(def), err, 'site');
  }
  try {
    const list = await target.resolveList(siteId, listName);
    return { siteId, listId: list.id };
  } catch (err) {
    if (errorKindOf(err) !== 'not_found') throw err;
    throw new ListNotFoundError(def.name, def.target.site, listName, err);
  }
}

/**
 * Site, list and columns resolved by earlier runs of this process, so an idle run spends no Graph requests on
 * them (I10). Entries expire after RESOLUTION_TTL_MS, and a run that meets an unknown-column error drops them.
 */
const RESOLUTION_TTL_MS = 10 * 60 * 1000;
interface Resolution {
  siteId: string;
  listId: string;
  spColumns: SpColumnInfo[];
  at: number;
}
const resolutions = new WeakMap<EngineContext, Map<string, Resolution>>();

export function forgetResolution(ctx: EngineContext, def: SyncDefinition): void {
  for (const name of targetLists(def)) resolutions.get(ctx)?.delete(`${def.target.site}|${name}`);
}

async function resolveCached(
  ctx: EngineContext,
  target: SharePointTarget,
  def: SyncDefinition,
  listName: string,
): Promise<Resolution> {
  let cache = resolutions.get(ctx);
  if (!cache) resolutions.set(ctx, (cache = new Map()));
  const key = `${def.target.site}|${listName}`;
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < RESOLUTION_TTL_MS) return hit;
  const { siteId, listId } = await resolveSharePoint(target, def, listName);
  const spColumns = await target.getColumns(siteId, listId);
  const fresh = { siteId, listId, spColumns, at: Date.now() };
  cache.set(key, fresh);
  return fresh;
}

interface RunClock {
  deadline: number;
  stopped: string | null;
}

/**
 * After `target.siteTimeZone` changed (apply set `realign_date_only`, 040): the synced values of the fields that are
 * date-only in any of the definition's lists are forgotten, so each pair's date is compared afresh (I2), and the flag
 * is cleared in the same statement (a crash leaves both or neither). Other fields keep their synced values.
 */
async function realignDateOnlyFields(meta: Pool, definitionId: string, lists: ScopeList[]): Promise<void> {
  const fields = [
    ...new Set(
      lists.flatMap((l) => (l.plan?.fields ?? []).filter((f) => f.kind === 'dateOnly').map((f) => f.target)),
    ),
  ];
  await meta.query(
    `WITH flag AS (
       UPDATE arcore.sync_definitions SET realign_date_only = false WHERE id = $1 AND realign_date_only RETURNING id)
     UPDATE arcore.sync_ledger l SET synced_values = l.synced_values - $2::text[], content_hash = NULL
       FROM flag WHERE l.definition_id = flag.id AND l.synced_values ?| $2::text[]`,
    [definitionId, fields],
  );
}

async function openScope(
  ctx: EngineContext,
  stored: StoredDefinition,
  runId: string,
  target: SharePointTarget,
  lock: DefinitionLock | null,
  clock: RunClock,
  importExisting: boolean,
): Promise<RunScope> {
  const def = stored.definition;
  let siteId = '';
  const lists: ScopeList[] = [];
  for (const name of targetLists(def)) {
    const resolved = await resolveCached(ctx, target, def, name);
    siteId = resolved.siteId;
    lists.push({ name, listId: resolved.listId, spColumns: resolved.spColumns });
  }
  // A definition switched back from routes to one list may still have items in its former routed lists: every
  // row then routes to the one list, so the push moves them there.
  const routedBefore = !isRouted(def) && (await wasRouted(ctx.meta, stored.id));
  for (const list of lists) {
    // Without the hidden key every row would be parked one by one, each costing Graph requests: refuse at once
    // (a routed list without it is left out of the run by planLists, the other lists sync).
    if (!isRouted(def) && !list.spColumns.some((c) => c.name === def.target.keyColumn)) {
      throw new KeyColumnMissingError(def.name, list.name, def.target.keyColumn);
    }
    target.primeColumns(siteId, list.listId, list.spColumns);
  }
  // I15: a single-list definition keeps its one binding; a routed one binds each list by name. No other
  // definition may hold any of them (checked and bound atomically across instances).
  const bound = !isRouted(def) && !routedBefore && stored.listId === lists[0].listId;
  // I15: a list bound for the first time may hold an earlier sync's items (the definition removed and added back):
  // without their pairs every row would get a second item. Refused, naming relink (after a list another definition
  // holds, which is refused as such). A routed list's items made before the sync are refused too, unless this run
  // is told to import them: the push would move away each whose row routes elsewhere.
  if (!bound && !routedBefore) {
    const binding = await listsToBind(ctx.meta, stored, lists, isRouted(def));
    if (binding.length > 0) {
      await refuseShared(ctx.meta, stored, binding);
      const routed = isRouted(def) ? { importExisting } : null;
      await refuseUnclaimedItems(ctx.meta, target, stored, siteId, binding, routed);
    }
  }
  await claimLists(
    ctx.meta,
    stored,
    lists,
    bound
      ? null
      : async (db) => {
          if (isRouted(def)) await checkRoutedListIdentity(db, stored, lists);
          else if (routedBefore) await bindListId(db, stored.id, lists[0].listId);
          else await checkListIdentity(db, stored, lists[0].listId);
        },
  );
  const { listId, spColumns } = lists[0];
  const sourcePool = ctx.sourcePool(def.source.connection);
  const qualified = `${quoteIdent(def.source.schema)}.${quoteIdent(def.source.table)}`;
  // Read before the columns (columnTypes.ts): a change between the two reads leaves the recorded shape stale, so
  // the next idle probe lets a run record it, rather than trusting columns it never saw.
  const shape = await readColumnShape(sourcePool, qualified, shapeColumns(def));
  const table = await readSourceTable(sourcePool, def.source.schema, def.source.table);
  if (!table) throw new SourceTableNotFoundError(def.name, `${def.source.schema}.${def.source.table}`);
  // I13: the catalog read that finds the table also lists its unique indexes: the check costs no query.
  assertKeyIdentifies(def.name, table, def.source.schema, def.source.table, def.source.key);
  // I1, I14: a key column retyped since the ledger was built (integer → text) would make every row look new.
  await checkKeyKinds(ctx.meta, stored, table.columns, qualified, runId === DRY_RUN_ID);
  // I5, I14: a column retyped (or an enum label renamed) changed stored values no cursor saw: read every row again.
  // A mapped column dropped and added again holds none of the synced values: its fields are aligned afresh.
  const reshaped = await checkColumnTypes(ctx.meta, stored, table, shape, runId === DRY_RUN_ID);
  if (reshaped.retyped.length > 0)
    ctx.log.warn(
      `${def.name}: the type of ${reshaped.retyped.map((c) => `"${c}"`).join(', ')} changed in Postgres: the push ` +
        'reads every row again for the values the change gave them',
    );
  const pgColumns = table.columns;
  // Routed: each list is checked on its own columns; a list that does not fit waits, the others sync.
  const plan = planLists(def, pgColumns, lists, !isRouted(def));
  // Recorded with the run (details.warnings) as well as logged: the run after it no longer finds the change.
  const warnings = [...plan.warnings, ...reshaped.recreated.map((r) => r.message)];
  for (const w of warnings) ctx.log.warn(`${def.name}: ${w}`);
  const problems = listProblems(lists);
  for (const p of problems) ctx.log.error(`${def.name}: ${p.problem}`);
  const route = routedBefore ? () => lists[0] : routerOf(def, plan, lists);
  const wanted = new Set([
    ...def.source.key,
    ...(def.source.cursor.column === undefined ? [] : [def.source.cursor.column]),
    ...def.fields.map((f) => f.source),
    ...pipelineColumns(def.fields),
    ...(def.deletes.pullSoftColumn ? [def.deletes.pullSoftColumn] : []),
  ]);
  const source = new PostgresSource(sourcePool, {
    schema: def.source.schema,
    table: def.source.table,
    key: def.source.key,
    cursorColumn: def.source.cursor.column ?? null,
    rowVersion: def.source.cursor.type === 'LSN',
    columns: pgColumns.filter((c) => wanted.has(c.name)),
  });
  return {
    ctx,
    stored,
    def,
    definitionId: stored.id,
    runId,
    target,
    siteId,
    listId,
    spColumns,
    lists,
    route,
    plan,
    source,
    sourcePool,
    keyUnenforced: isUnindexable(table),
    sameDatabase: sourcePool === ctx.meta,
    ledger: new LedgerStore(
      stored.id,
      def.source.key.length > 1 ? 'COMPOSITE_COLUMNS' : 'PRIMARY_KEY',
      def.source.connection,
    ),
    counts: emptyCounts(),
    details: { warnings, ...(problems.length ? { listProblems: problems } : {}) },
    assertLockHeld: () => lock?.assertHeld(),
    lockSession: lock && sourcePool === ctx.meta ? lock : null,
    timeLeft: () => clock.deadline - Date.now(),
    stopIncomplete(reason: string) {
      clock.stopped ??= reason;
    },
  };
}

/** The run id a dry run works under: never a real run's (ids start at 1), and never recorded. */
const DRY_RUN_ID = '0';

function waitLine(definition: string, runType: RunType, wait: RunWait): string {
  const what = runVerb(runType);
  const seconds = Math.ceil(wait.ms / 1000);
  if (wait.reason === 'pacing')
    return `${definition}: ${what} waited ${seconds} s for its share of the resource-unit budget`;
  if (wait.reason === 'dailyBudget')
    return (
      `${definition}: ${what} waited ${seconds} s for the app's daily resource-unit budget (GRAPH_RU_PER_DAY) ` +
      'to refill'
    );
  const asked =
    wait.askedMs !== undefined ? ` (Graph asked for ${Math.round(wait.askedMs / 1000)} s; capped)` : '';
  return `${definition}: ${what} waiting ${seconds} s until ${wait.until}: Graph throttled this app (429/503)${asked}`;
}

/**
 * Runs `work` as one recorded run of a definition: under its advisory lock (I11), with a sync_runs row,
 * counts, Graph usage and errors. A run that finds the lock taken is SKIPPED, not queued. The run has a
 * time budget (I16): page loops stop when it is spent, and a 429 block that would outlast it stops the run
 * before sending; either way what was done is committed and the summary says `complete: false`. A dry run
 * records nothing (its summary has runId null) and takes no lock but an LSN definition's; it works on wrapped
 * adapters (dryRun.ts).
 */
export async function withRun(
  ctx: EngineContext,
  definitionName: string,
  runType: RunType,
  runOptions: RunTrigger | RunOptions,
  work: (scope: RunScope) => Promise<void>,
): Promise<RunSummary> {
  const options: RunOptions = typeof runOptions === 'string' ? { trigger: runOptions } : runOptions;
  const { trigger, dryRun = null } = options;
  let stored = await getDefinition(ctx.meta, definitionName);
  const started = Date.now();
  const maxSeconds = options.maxSeconds ?? ctx.runMaxSeconds;
  const clock: RunClock = {
    deadline: maxSeconds === undefined ? Number.POSITIVE_INFINITY : started + maxSeconds * 1000,
    stopped: null,
  };
  const startedAt = new Date(started).toISOString();
  // A dry run writes nothing, so it records no run (dryRun.ts) and takes no lock, except for an LSN definition: its
  // replication slot serves one reader at a time, and a dry run's peek beside a run's made one of them fail.
  const needsLock = !dryRun || stored.definition.source.cursor.type === 'LSN';
  const lock = needsLock ? await tryLockDefinition(ctx.meta, stored.id) : null;
  if (needsLock && !lock) {
    const backlog = await backlogCounts(ctx.meta, stored.id);
    ctx.log.info(`${definitionName}: another run holds the lock; ${runType} skipped`);
    return {
      runId: null,
      definition: definitionName,
      runType,
      status: 'SKIPPED',
      startedAt,
      durationMs: 0,
      throttleWaitMs: 0,
      paceWaitMs: 0,
      graphRequests: 0,
      resourceUnits: 0,
      complete: false,
      resumeAfter: null,
      ...emptyCounts(),
      ...backlog,
      error: null,
    };
  }
  let scope: RunScope | null = null;
  let runId: string = DRY_RUN_ID;
  if (lock && !dryRun) {
    try {
      // Read again under the lock: an `apply` that held it until just now (a new source, new routes, realigned
      // fields) has reset what the run reads from; the definition read before it would undo that (I14).
      const current = await getDefinition(ctx.meta, definitionName);
      if (current.id !== stored.id) {
        // Removed and created again meanwhile: this lock is the old definition's.
        await lock.release();
        return withRun(ctx, definitionName, runType, runOptions, work);
      }
      stored = current;
      // Holding the lock, no live run of this definition exists: a RUNNING row is a dead process's (I6).
      await markAbandonedRuns(ctx.meta, stored.id);
      runId = await startRun(ctx.meta, stored.id, runType, trigger);
    } catch (err) {
      await lock.release();
      throw err;
    }
    ctx.onRunStarted?.({ runId, definition: definitionName, runType, trigger, startedAt });
  }
  let error: string | null = null;
  let failure: { errorKind: ErrorKind; errorHint: string } | undefined;
  let resumeAfter: string | null = null;
  const runTarget = ctx.target({
    runDeadline: Number.isFinite(clock.deadline) ? clock.deadline : undefined,
    // A backfill is bulk work: it paces as a push does (budget class bulk once past its priority share).
    runKind: runType === 'PULL' ? 'pull' : 'push',
    // A batch queued behind those in flight does not leave once the lock is known lost (I11).
    beforeWrite: () => lock?.assertHeld(),
    onWait: (notice) => {
      const wait: RunWait = {
        reason: notice.reason,
        ms: notice.ms,
        until: new Date(notice.until).toISOString(),
        ...(notice.askedMs !== undefined ? { askedMs: notice.askedMs } : {}),
      };
      const line = waitLine(definitionName, runType, wait);
      if (wait.reason === 'throttled') ctx.log.warn(line, { runId, definition: definitionName, wait });
      else ctx.log.info(line, { runId, definition: definitionName, wait });
      ctx.onProgress?.({
        runType,
        definition: definitionName,
        done: scope?.counts.processed ?? 0,
        total: null,
        throttleWaitMs: 0,
        wait,
      });
    },
    onTrace: (trace) => {
      if (!ctx.onProgress) return;
      const stats = runTarget.stats();
      ctx.onProgress({
        runType,
        definition: definitionName,
        done: scope?.counts.processed ?? 0,
        total: null,
        throttleWaitMs: stats.throttleWaitMs,
        paceWaitMs: stats.paceWaitMs,
        resourceUnits: stats.resourceUnits,
        ruPerMinute: ctx.ruPerMinute ?? 0,
        trace,
      });
    },
  });
  const target = dryRun ? dryRun.wrapTarget(runTarget, stored.definition.target.keyColumn) : runTarget;
  try {
    scope = await openScope(ctx, stored, runId, target, lock, clock, options.importExistingItems === true);
    if (stored.realignDateOnly && !dryRun) await realignDateOnlyFields(ctx.meta, stored.id, scope.lists);
    if (dryRun) scope = dryRun.adopt(scope);
    await work(scope);
  } catch (err) {
    if (err instanceof RunTimeBudgetError) {
      // Not a failure: nothing was sent for the request that would have waited; pages done are committed.
      clock.stopped ??= err.message;
      resumeAfter = new Date(err.resumeAt).toISOString();
      ctx.log.warn(`${definitionName}: ${runType} run ${runId} stopped: ${err.message}`, {
        runId,
        definition: definitionName,
      });
    } else {
      error = (err as Error).message;
      const errorKind = errorKindOf(err);
      failure = { errorKind, errorHint: hintFor(err, errorKind) };
      // The list may have changed shape (a column renamed or removed): resolve it afresh next time.
      forgetResolution(ctx, stored.definition);
      ctx.log.error(`${definitionName}: ${runType} run ${runId} failed: ${error}`, {
        runId,
        definition: definitionName,
        errorKind,
      });
    }
  }
  const stats = target.stats();
  const counts = scope?.counts ?? emptyCounts();
  const status = error ? 'FAILED' : counts.failed > 0 ? 'PARTIAL' : 'SUCCEEDED';
  const complete = error === null && clock.stopped === null;
  const details = {
    ...(scope?.details ?? {}),
    ...(clock.stopped !== null ? { incomplete: clock.stopped, resumeAfter } : {}),
    paceWaitMs: stats.paceWaitMs,
  };
  try {
    await target.close();
    if (lock && !dryRun) {
      await finishRun(ctx.meta, runId, {
        ...counts,
        status,
        throttleWaitMs: stats.throttleWaitMs,
        graphRequests: stats.requests,
        resourceUnits: stats.resourceUnits,
        error,
        details,
      });
    }
  } finally {
    // Let go only once the outcome is recorded: a RUNNING row whose lock is free then means a dead run.
    await lock?.release();
  }
  const summary: RunSummary = {
    runId: dryRun ? null : runId,
    definition: definitionName,
    runType,
    status,
    startedAt,
    durationMs: Date.now() - started,
    throttleWaitMs: stats.throttleWaitMs,
    paceWaitMs: stats.paceWaitMs,
    graphRequests: stats.requests,
    resourceUnits: stats.resourceUnits,
    complete,
    resumeAfter,
    ...counts,
    ...(await backlogCounts(ctx.meta, stored.id)),
    error,
    ...(Array.isArray(scope?.details.sourceWarnings)
      ? { warnings: scope.details.sourceWarnings as string[] }
      : {}),
    ...failure,
  };
  if (!dryRun) ctx.onRunFinished?.(summary);
  return summary;
}

import { z } from 'zod';
import type { ResolutionChoice } from '../../core/engine/resolve';
import {
  decideParkedTruncate,
  definitionStatus,
  differingFields,
  discardFailures,
  getConflict,
  listConflicts,
  listFailures,
  listRuns,
  resetCursor,
  retryFailures,
  type ConflictRecord,
  type CursorResetScope,
  type DefinitionStatus,
  type RunRecord,
} from '../../core/ops';
import type { ListProblem, UnfinishedBackfill } from '../../core/ops/records';
import { formatBytes, type SlotStatus } from '../../core/ops/slotHealth';
import { CliUsageError } from '../failures';
import { budgetLines, budgetView, loadLines } from './budgetStatus';
import { formatTable, printJson } from '../output';
import type { CliRuntime } from '../runtime';

interface JsonOption {
  json?: boolean;
}

/** What `failures` shows of an error: the refusal after its prefix (`SharePoint rejected the write (400 …): `). */
const LAST_ERROR_WIDTH = 200;

function clip(text: string | null, width: number): string | null {
  if (text === null) return null;
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length <= width ? oneLine : `${oneLine.slice(0, width - 1)}…`;
}

function runLine(run: RunRecord | null): string {
  if (!run) return 'never';
  const duration = run.durationMs === null ? 'running' : `${(run.durationMs / 1000).toFixed(1)}s`;
  return (
    `run ${run.runId} ${run.status} at ${run.startedAt} (${duration}, ${run.trigger}): processed ${run.processed}, ` +
    `created ${run.created}, updated ${run.updated}, deleted ${run.deleted}, skipped ${run.skipped}, ` +
    `conflicts ${run.conflicts}, failed ${run.failed}` +
    (run.moved > 0 ? `, moved ${run.moved}` : '') +
    (run.unrouted > 0 ? `, unrouted ${run.unrouted} (rows no route matches: not synced)` : '') +
    (run.error ? `; error: ${clip(run.error, 200)}` : '')
  );
}

/** One definition as `status` prints it. */
export function statusBlock(s: DefinitionStatus): string {
  const source = s.cursors.source;
  const target = s.cursors.target;
  return [
    `${s.name}: ${s.enabled ? 'enabled' : 'disabled'}, ${s.table} ⇄ list "${s.list}", policy ${s.conflictPolicy}, ` +
      `schedule "${s.schedule}"${s.pullEnabled ? '' : ', pull disabled'}${s.healthy ? '' : ', UNHEALTHY'}`,
    `  push cursor: ${source ? `${source.value ?? '(start)'} (moved ${source.updatedAt})` : 'none yet (next push reads the whole table)'}`,
    `  pull cursor: ${target ? `${target.linkPresent ? 'delta link held' : 'no delta link'} (moved ${target.updatedAt})` : 'none yet (next pull enumerates the list)'}`,
    `  ledger: ${s.ledgerSize} synced pairs${s.unroutedRows > 0 ? ` (${s.unroutedRows} rows no route matches: not synced)` : ''}; parked failures: ${s.parkedFailures}; ` +
      `${s.heldMoves > 0 ? `held moves: ${s.heldMoves}; ` : ''}open conflicts: ${s.openConflicts}; ` +
      `pull pending: ${s.pendingPull ? 'yes' : 'no'}`,
    ...heldMoveLines(s),
    ...(s.itemDeletedAdvice
      ? [
          `  item deleted in SharePoint: ${s.itemDeletedAdvice.reason}`,
          `    next step: ${s.itemDeletedAdvice.nextStep}`,
        ]
      : []),
    ...(s.pendingCreates > 0
      ? [
          `  creates not yet confirmed: ${s.pendingCreates} (in flight, or sent by a run that stopped; a push adopts ` +
            'each item, or creates it once PENDING_CREATE_SETTLE_SECONDS have passed)',
        ]
      : []),
    `  last push: ${runLine(s.lastPush)}`,
    ...(s.idleCheckedAt && (!s.lastPush || s.idleCheckedAt > s.lastPush.startedAt)
      ? [`  last idle check: ${s.idleCheckedAt} (nothing to push since the last push; no run recorded)`]
      : []),
    `  last pull: ${runLine(s.lastPull)}`,
    ...(s.pullIdleCheckedAt && (!s.lastPull || s.pullIdleCheckedAt > s.lastPull.startedAt)
      ? [
          `  last idle check (pull): ${s.pullIdleCheckedAt} (nothing to pull since the last pull; no run recorded)`,
        ]
      : []),
    `  subscription: ${s.subscription ? `${s.subscription.id} ${s.subscription.state}, expires ${s.subscription.expiration}` : 'none'}`,
    ...(s.slot ? [slotLine(s.slot)] : []),
    ...(s.captureLoad ? [`  ${s.captureLoad.message}`] : []),
    ...(s.deletesComparisonOwed
      ? ['  deletes: a full comparison of the ledger with the table is under way; the next push continues it']
      : []),
    ...(s.deletesWaiting > 0
      ? [
          `  deletes not yet checked: ${s.deletesWaiting} row(s) deleted in Postgres whose tombstones the last ` +
            'push ran out of time to read; the next push reads them first and deletes their SharePoint items',
        ]
      : []),
    ...(s.backfill ? backfillLines(s.backfill) : []),
    ...listProblemLines(s.listProblems),
    ...s.sourceWarnings.map((w) => `  warning: ${w}`),
    ...(s.healthIssues.length > 0
      ? ['  UNHEALTHY because:', ...s.healthIssues.map((issue) => `    - ${issue}`)]
      : []),
  ].join('\n');
}

/** Moves held for the user: each row's reason (it names both items), and what releases them. */
function heldMoveLines(s: DefinitionStatus): string[] {
  if (!s.heldMoveAdvice) return [];
  const { rows, nextStep } = s.heldMoveAdvice;
  const more = s.heldMoves - rows.length;
  return [
    `  held moves: ${s.heldMoves} row${s.heldMoves === 1 ? '' : 's'} moving between lists wait${s.heldMoves === 1 ? 's' : ''} ` +
      'for you (not failures: each push checks them again and settles each once you act):',
    ...rows.map(
      (h) =>
        `    row ${JSON.stringify(h.sourceIdentity)} (failure ${h.failureId}, since ${h.since}): ${h.reason}`,
    ),
    ...(more > 0 ? [`    … and ${more} more (arcore-sync failures ${s.name})`] : []),
    `    next step: ${nextStep}`,
  ];
}

function listProblemLines(problems: ListProblem[]): string[] {
  if (problems.length === 0) return [];
  const { runId, seenAt } = problems[0];
  const lists = problems.length === 1 ? '1 routed list' : `${problems.length} routed lists`;
  return [
    `  list problems: ${lists} skipped by run ${runId} at ${seenAt} (its rows wait, parked; the other lists sync):`,
    ...problems.map((p) => `    list "${p.list}": ${p.problem}`),
  ];
}

function backfillLines(b: UnfinishedBackfill): string[] {
  const percent = b.total > 0 ? ` (${Math.min(100, Math.floor((100 * b.done) / b.total))}%)` : '';
  return [
    `  backfill unfinished: ${b.fields.join(', ')} (${b.strategy}, ${b.direction}), ${b.done}/${b.total} rows` +
      `${percent}, ${b.runs} run(s) since ${b.startedAt}, last progress ${b.lastProgressAt}`,
    ...(b.waiting > 0
      ? [`    waiting: ${b.waiting} row(s) with an open conflict: resolve them, then continue`]
      : []),
    `    continue: ${b.resume}`,
    `    start over: ${b.restart}`,
  ];
}

function slotLine(slot: SlotStatus): string {
  const figures = slot.exists
    ? `${slot.slot} ${slot.active ? 'active' : 'idle'}, wal_status ${slot.walStatus ?? 'unknown'}, retained WAL ` +
      `${slot.retainedWalBytes === null ? 'unknown' : formatBytes(slot.retainedWalBytes)} (warning above ` +
      `${formatBytes(slot.warnBytes)}), lag ${slot.lagBytes === null ? 'unknown' : formatBytes(slot.lagBytes)}`
    : 'none';
  return `  replication slot: ${slot.healthy ? '' : 'UNHEALTHY: '}${figures}${slot.message ? `; ${slot.message}` : ''}`;
}

export async function runStatusCommand(
  rt: CliRuntime,
  name: string | undefined,
  opts: JsonOption,
): Promise<void> {
  const meta = await rt.metaPool();
  const settings = rt.settings();
  const statuses = await definitionStatus(meta, name, {
    sourcePool: (connection) => rt.sourcePool(connection),
    policy: {
      warnBytes: settings.SLOT_WAL_WARN_BYTES,
      dropAfterDisabledHours: settings.SLOT_DROP_AFTER_DISABLED_HOURS,
    },
  });
  const view = await budgetView(
    meta,
    statuses.map((s) => s.id),
  );
  const withLoads = statuses.map((s) => ({ ...s, unfinished: view.loads.get(s.id) ?? [] }));
  if (opts.json) {
    printJson(
      rt.io,
      name === undefined
        ? { definitions: withLoads, budget: view.budget }
        : { ...withLoads[0], budget: view.budget },
    );
    return;
  }
  if (statuses.length === 0) {
    rt.io.out('no definitions saved yet: run "arcore-sync apply FILE"');
    return;
  }
  const blocks = withLoads.map((s) => [statusBlock(s), ...loadLines(s.unfinished)].join('\n'));
  rt.io.out([...blocks, ...budgetLines(view.budget)].join('\n\n'));
}

export async function runRunsCommand(
  rt: CliRuntime,
  name: string,
  opts: JsonOption & { limit: string },
): Promise<void> {
  const runs = await listRuns(await rt.metaPool(), name, parseLimit(opts.limit));
  if (opts.json) {
    printJson(rt.io, { definition: name, runs });
    return;
  }
  if (runs.length === 0) {
    rt.io.out(`${name}: no runs yet`);
    return;
  }
  rt.io.out(
    formatTable(
      [
        'RUN',
        'TYPE',
        'TRIGGER',
        'STATUS',
        'STARTED',
        'SECONDS',
        'PROCESSED',
        'CREATED',
        'UPDATED',
        'DELETED',
        'SKIPPED',
        'CONFLICTS',
        'FAILED',
        'ERROR',
      ],
      runs.map((r) => [
        r.runId,
        r.runType,
        r.trigger,
        r.status,
        r.startedAt,
        r.durationMs === null ? null : (r.durationMs / 1000).toFixed(1),
        r.processed,
        r.created,
        r.updated,
        r.deleted,
        r.skipped,
        r.conflicts,
        r.failed,
        clip(r.error, 60),
      ]),
    ),
  );
}

export async function runConflictsCommand(
  rt: CliRuntime,
  name: string,
  opts: JsonOption & { all?: boolean; limit: string },
): Promise<void> {
  const conflicts = (await listConflicts(await rt.metaPool(), name, opts.all ? undefined : 'OPEN')).slice(
    0,
    parseLimit(opts.limit),
  );
  if (opts.json) {
    printJson(rt.io, { definition: name, conflicts });
    return;
  }
  if (conflicts.length === 0) {
    rt.io.out(`${name}: no ${opts.all ? '' : 'open '}conflicts`);
    return;
  }
  rt.io.out(
    formatTable(
      ['ID', 'STATUS', 'DETECTED BY', 'POLICY', 'OUTCOME', 'ROW', 'ITEM', 'FIELDS', 'CREATED', 'REASON'],
      conflicts.map((c) => [
        c.conflictId,
        c.status,
        c.detectedBy,
        c.policy,
        c.outcome,
        JSON.stringify(c.sourceIdentity),
        c.spItemId,
        differingFields(c)
          .map((f) => f.field)
          .join(','),
        c.createdAt,
        clip(c.reason, 60),
      ]),
    ),
  );
  if (conflicts.some((c) => c.status === 'OPEN')) {
    rt.io.out(
      'see the values of one with: arcore-sync conflicts show ID; resolve one with: arcore-sync resolve ID ' +
        '--take postgres|sharepoint',
    );
  }
}

/** A value as one table cell: strings bare, everything else as JSON, absent as "-". */
function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  return clip(typeof value === 'string' ? value : JSON.stringify(value), 60) ?? '-';
}

/** What a delete standing does to the other side, under the definition's policy (docs/cli.md resolve). */
const STANDING_DELETE = {
  POSTGRES: {
    PROPAGATE: (item: string) => `${item} is deleted in SharePoint (deletes.push PROPAGATE)`,
    SOFT: (item: string) => `${item} is flagged deleted in SharePoint (deletes.push SOFT)`,
    IGNORE: (item: string) => `${item} stays in SharePoint with its values (deletes.push IGNORE)`,
  },
  SHAREPOINT: {
    PROPAGATE: () => 'the row is deleted in Postgres (deletes.pull PROPAGATE)',
    SOFT: () => 'the row is flagged deleted in Postgres (deletes.pull SOFT)',
    IGNORE: () => 'the row stays in Postgres and is not pushed again (deletes.pull IGNORE)',
  },
} as const;

/** A delete against an edit: which side deleted, and what each `--take` does (the one side deletes, the other re-creates). */
function deleteLines(c: ConflictRecord): { said: string; choices: string[] } | null {
  if (!c.deleted) return null;
  const item = c.spItemId ? `item ${c.spItemId}` : 'the item';
  const rowGone = c.deleted === 'POSTGRES';
  const policy = (rowGone ? c.deletes.push : c.deletes.pull) as keyof typeof STANDING_DELETE.POSTGRES;
  const standing =
    STANDING_DELETE[c.deleted][policy]?.(item) ?? `${rowGone ? 'deletes.push' : 'deletes.pull'} ${policy}`;
  const resolve = `arcore-sync resolve ${c.conflictId}`;
  return {
    said: rowGone
      ? `  the row was deleted in Postgres; ${item} was edited in SharePoint`
      : `  ${item} was deleted in SharePoint; the row was edited in Postgres`,
    choices: [
      `  ${resolve} --take ${rowGone ? 'postgres' : 'sharepoint'}: the delete stands: ${standing}`,
      rowGone
        ? `  ${resolve} --take sharepoint (or --values JSON): the row is inserted again with the item's values`
        : `  ${resolve} --take postgres (or --values JSON): the item is created again with the row's values`,
    ],
  };
}

/** `conflicts show ID`: one conflict, with base / Postgres / SharePoint values of the fields that differ. */
export async function runConflictShowCommand(rt: CliRuntime, id: string, opts: JsonOption): Promise<void> {
  if (!/^[1-9][0-9]{0,18}$/.test(id)) {
    throw new CliUsageError(
      `conflict id must be a positive integer, got "${id}" (see "arcore-sync conflicts NAME")`,
    );
  }
  const c = await getConflict(await rt.metaPool(), id);
  if (opts.json) {
    printJson(rt.io, c);
    return;
  }
  const fields = differingFields(c);
  const deleted = deleteLines(c);
  // A deleted side has no values: "(deleted)", not the "-" of a NULL value.
  const side = (gone: boolean, value: unknown) => (gone ? '(deleted)' : cell(value));
  rt.io.out(
    [
      `conflict ${c.conflictId} of ${c.definition}: ${c.status} (${c.kind}, detected by ${c.detectedBy}, ` +
        `policy ${c.policy}, outcome ${c.outcome}, ${c.createdAt})`,
      `  row ${JSON.stringify(c.sourceIdentity)}, item ${c.spItemId ?? '-'}`,
      // Records from before the reason named the delete (it now does, conflict/resolve.ts) still say it.
      ...(deleted && !c.reason?.startsWith('deleted in') ? [deleted.said] : []),
      ...(c.reason ? [`  ${c.reason}`] : []),
      '',
      fields.length === 0
        ? 'no field differs'
        : formatTable(
            ['FIELD', 'BASE', 'POSTGRES', 'SHAREPOINT'],
            fields.map((f) => [
              f.field,
              cell(f.base),
              side(c.deleted === 'POSTGRES', f.postgres),
              side(c.deleted === 'SHAREPOINT', f.sharepoint),
            ]),
          ),
    ].join('\n'),
  );
  if (c.status === 'OPEN') {
    rt.io.out(
      deleted
        ? ['resolve it with one of:', ...deleted.choices].join('\n')
        : `resolve it with: arcore-sync resolve ${c.conflictId} --take postgres (or --take sharepoint)`,
    );
  }
}

const valuesSchema = z.record(z.string(), z.unknown());

/** `--take` or `--values`: exactly one. Values are SharePoint internal column names → values. */
function resolutionChoice(opts: { take?: 'postgres' | 'sharepoint'; values?: string }): ResolutionChoice {
  if (opts.take !== undefined && opts.values !== undefined) {
    throw new CliUsageError('give either --take or --values, not both');
  }
  if (opts.take !== undefined) return { take: opts.take };
  if (opts.values === undefined)
    throw new CliUsageError('say which values win: --take postgres|sharepoint or --values JSON');
  let json: unknown;
  try {
    json = JSON.parse(opts.values);
  } catch (error) {
    throw new CliUsageError(`--values is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = valuesSchema.safeParse(json);
  if (!parsed.success) throw new CliUsageError('--values must be a JSON object of column → value');
  return { values: parsed.data };
}

export async function runResolveCommand(
  rt: CliRuntime,
  conflictId: string,
  opts: JsonOption & { take?: 'postgres' | 'sharepoint'; values?: string; by: string },
): Promise<void> {
  if (!/^[1-9][0-9]{0,18}$/.test(conflictId)) {
    throw new CliUsageError(`conflict id must be a positive integer, got "${conflictId}"`);
  }
  const choice = resolutionChoice(opts);
  const { resolveConflict } = await import('../../core/engine/resolve.js');
  const ctx = await rt.engineContext();
  const result = await resolveConflict(ctx, conflictId, choice, opts.by);
  if (opts.json) {
    printJson(rt.io, { ...result, choice, resolvedBy: opts.by });
    return;
  }
  rt.io.out(`conflict ${result.conflictId} ${result.status}: ${result.summary}`);
}

export async function runFailuresCommand(
  rt: CliRuntime,
  name: string,
  ids: string[],
  opts: JsonOption & { retry?: boolean; discard?: boolean; all?: boolean; limit: string },
): Promise<void> {
  const meta = await rt.metaPool();
  const chosen = ids.length === 0 ? undefined : ids;
  if (opts.retry || opts.discard) {
    const change = opts.retry
      ? await retryFailures(meta, name, chosen)
      : await discardFailures(meta, name, chosen);
    const verb = opts.retry ? 'retry' : 'discard';
    if (opts.json) {
      printJson(rt.io, { action: verb, ...change });
      return;
    }
    rt.io.out(
      change.failureIds.length === 0
        ? `${name}: no parked failures to ${verb}`
        : opts.retry
          ? `${name}: ${change.failureIds.length} failure(s) due now (${change.failureIds.join(', ')}); the next run retries them`
          : `${name}: ${change.failureIds.length} failure(s) discarded (${change.failureIds.join(', ')}); their changes are dropped`,
    );
    const held = change.heldMovesKept;
    if (held)
      rt.io.out(
        `${name}: ${held.failureIds.length} held move(s) kept (${held.failureIds.join(', ')}): they are not ` +
          `failures and are not discarded; to release one: ${held.nextStep}`,
      );
    return;
  }
  if (ids.length > 0) throw new CliUsageError('failure ids are only used with --retry or --discard');
  const failures = (await listFailures(meta, name, opts.all ? 'ALL' : 'PARKED')).slice(
    0,
    parseLimit(opts.limit),
  );
  if (opts.json) {
    printJson(rt.io, { definition: name, failures });
    return;
  }
  if (failures.length === 0) {
    rt.io.out(`${name}: no ${opts.all ? '' : 'parked '}failures`);
    return;
  }
  rt.io.out(
    formatTable(
      ['ID', 'STATUS', 'DIRECTION', 'ROW', 'ITEM', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST ERROR'],
      failures.map((f) => [
        f.failureId,
        f.status === 'PARKED' && f.heldMove ? 'PARKED (held move)' : f.status,
        f.direction,
        // The row's key, as conflicts shows it; a push entry's item key is only the hash of it.
        f.sourceIdentity ? JSON.stringify(f.sourceIdentity) : clip(f.itemKey, 30),
        f.spItemId,
        f.attempts,
        f.status === 'PARKED' ? f.nextAttemptAt : null,
        // The last column: room for the refusal itself after SharePoint's or Postgres's prefix.
        clip(f.lastError, LAST_ERROR_WIDTH),
      ]),
    ),
  );
}

export async function runResetCursorCommand(
  rt: CliRuntime,
  name: string,
  opts: JsonOption & { scope: CursorResetScope },
): Promise<void> {
  const reset = await resetCursor(await rt.metaPool(), name, opts.scope);
  if (opts.json) {
    printJson(rt.io, { ...reset, scope: opts.scope });
    return;
  }
  const what = reset.removed.map((s) => (s === 'SOURCE' ? 'push (source)' : 'pull (target)'));
  rt.io.out(
    what.length === 0
      ? `${name}: no ${opts.scope === 'all' ? '' : `${opts.scope} `}cursor was set; nothing to reset`
      : `${name}: ${what.join(' and ')} cursor reset; the next run re-reads everything (the ledger prevents duplicates)`,
  );
}

/** `--limit` values: positive integers. */
export function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new CliUsageError(`--limit must be a positive integer, got "${value}"`);
  return n;
}

/** `truncate-decide NAME --propagate|--ignore`: the decision on a TRUNCATE parked under deletes.truncate PARK. */
export async function runTruncateDecideCommand(
  rt: CliRuntime,
  name: string,
  opts: JsonOption & { propagate?: boolean; ignore?: boolean; by: string },
): Promise<void> {
  if (!opts.propagate === !opts.ignore)
    throw new CliUsageError('give exactly one of --propagate or --ignore');
  const decided = await decideParkedTruncate(
    await rt.metaPool(),
    name,
    opts.propagate ? 'PROPAGATE' : 'IGNORE',
    opts.by,
  );
  if (opts.json) {
    printJson(rt.io, decided);
    return;
  }
  rt.io.out(
    `${name}: TRUNCATE at ${decided.truncate.lsn} decided ${decided.truncate.decision}; the next push ` +
      (decided.truncate.decision === 'PROPAGATE'
        ? 'handles the items of rows not in the table now under deletes.push, then goes on'
        : 'keeps the items and goes on'),
  );
}

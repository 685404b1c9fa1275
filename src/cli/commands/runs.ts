import { provisionList, typedByTransformLine } from '../../core/engine/provision';
import { runPull } from '../../core/engine/pull';
import { runPush } from '../../core/engine/push';
import { previewPull, previewPush, type DryRunSummary, type PlannedChange } from '../../core/engine/dryRun';
import type { RunSummary } from '../../core/engine/types';
import { CliUsageError, RunFailedError } from '../failures';
import { combineSync, formatRunSummary, printJson, type SyncSummary } from '../output';
import type { CliRuntime } from '../runtime';

export interface RunCommandOptions {
  json?: boolean;
  /** Read both sides as the run would and write nothing (see src/core/engine/dryRun.ts). */
  dryRun?: boolean;
  /** `--max-seconds N`: the run's time budget (default RUN_MAX_SECONDS). */
  maxSeconds?: string;
  /** `--full` (push, pull, sync): run even when the idle probe finds nothing to do. */
  full?: boolean;
  /** `--import-existing-items` (push, pull, sync): take in the items a routed list holds when first bound. */
  importExistingItems?: boolean;
}

/** The run options a command line asks for: its trigger and, with --max-seconds, its time budget. */
export function runOptions(opts: Pick<RunCommandOptions, 'maxSeconds' | 'full' | 'importExistingItems'>): {
  trigger: 'cli';
  maxSeconds?: number;
  full?: boolean;
  importExistingItems?: boolean;
} {
  const full = {
    ...(opts.full ? { full: true } : {}),
    ...(opts.importExistingItems ? { importExistingItems: true } : {}),
  };
  if (opts.maxSeconds === undefined) return { trigger: 'cli', ...full };
  const n = Number(opts.maxSeconds);
  if (!Number.isInteger(n) || n <= 0)
    throw new CliUsageError(`--max-seconds must be a positive integer, got "${opts.maxSeconds}"`);
  return { trigger: 'cli', maxSeconds: n, ...full };
}

/** A dry run's options: what it reads is read as the run asked for would. */
function dryOptions(opts: RunCommandOptions): { trigger: 'cli'; importExistingItems?: boolean } {
  return { trigger: 'cli', ...(opts.importExistingItems ? { importExistingItems: true } : {}) };
}

/** A FAILED run: its summary is printed with the error by the CLI's failure handler (once, with a hint). */
function failIfFailed(summary: RunSummary, shown: RunSummary | SyncSummary = summary): void {
  if (summary.status === 'FAILED') {
    throw new RunFailedError(
      summary.definition,
      summary.runType,
      summary.error ?? 'no error recorded',
      summary,
      {
        run: shown,
      },
    );
  }
}

function report(rt: CliRuntime, summary: RunSummary, opts: RunCommandOptions): void {
  rt.reporter.finish();
  // With --json a failed run's summary goes out inside the one failure object instead.
  if (opts.json && summary.status !== 'FAILED') printJson(rt.io, summary);
  else if (!opts.json) rt.io.out(formatRunSummary(summary));
}

export async function runPushCommand(rt: CliRuntime, name: string, opts: RunCommandOptions): Promise<void> {
  const run = runOptions(opts);
  const ctx = await rt.engineContext();
  if (opts.dryRun) return reportDryRun(rt, await previewPush(ctx, name, dryOptions(opts)), opts);
  const summary = await runPush(ctx, name, run);
  report(rt, summary, opts);
  failIfFailed(summary);
}

export async function runPullCommand(rt: CliRuntime, name: string, opts: RunCommandOptions): Promise<void> {
  const run = runOptions(opts);
  const ctx = await rt.engineContext();
  if (opts.dryRun) return reportDryRun(rt, await previewPull(ctx, name, dryOptions(opts)), opts);
  const summary = await runPull(ctx, name, run);
  report(rt, summary, opts);
  failIfFailed(summary);
}

/** One pull, then one push: SharePoint edits land first, so the push compares against fresh values. */
export async function runSyncCommand(rt: CliRuntime, name: string, opts: RunCommandOptions): Promise<void> {
  const run = runOptions(opts);
  const ctx = await rt.engineContext();
  if (opts.dryRun) return dryRunSync(rt, name, opts);
  const started = Date.now();
  const pull = await runPull(ctx, name, run);
  // A failed pull (Graph or Postgres unreachable) would fail the push the same way: stop there. The push
  // gets what is left of the time budget.
  const left =
    run.maxSeconds === undefined
      ? undefined
      : Math.max(1, run.maxSeconds - Math.floor((Date.now() - started) / 1000));
  const push =
    pull.status === 'FAILED'
      ? null
      : await runPush(ctx, name, left === undefined ? run : { ...run, maxSeconds: left });
  rt.reporter.finish();
  const combined = combineSync(pull, push);
  const failed = pull.status === 'FAILED' || push?.status === 'FAILED';
  if (opts.json) {
    if (!failed) printJson(rt.io, combined);
  } else {
    // The push's note counts parked failures and open conflicts after both runs; the pull's would repeat it.
    rt.io.out(formatRunSummary(pull, { attention: push === null }));
    if (push) rt.io.out(formatRunSummary(push));
    else rt.io.out(`push ${name}: not run because the pull failed`);
  }
  failIfFailed(pull, combined);
  if (push) failIfFailed(push, combined);
}

export async function runProvisionCommand(
  rt: CliRuntime,
  name: string,
  opts: RunCommandOptions,
): Promise<void> {
  const ctx = await rt.engineContext();
  const result = await provisionList(ctx, name);
  if (opts.json) {
    printJson(rt.io, { definition: name, ...result });
    return;
  }
  for (const list of result.lists) {
    rt.io.out(
      `${name}: list ${result.lists.length > 1 ? `"${list.list}" ` : ''}${list.listId} ` +
        `${list.listCreated ? 'created' : 'already existed'}; ` +
        (list.columnsAdded.length === 0
          ? 'no columns added'
          : `columns added: ${list.columnsAdded.join(', ')}`),
    );
    for (const t of list.typedByTransform ?? []) rt.io.out(`  ${typedByTransformLine(t)}`);
  }
}

const DRY_RUN_NOTE = 'dry run: nothing was written; the counts are what this run would report now';

function plannedLine(c: PlannedChange): string {
  const where = c.side === 'sharepoint' ? `SharePoint item${c.itemId ? ` ${c.itemId}` : ''}` : 'Postgres row';
  const row = c.key ? ` ${c.side === 'sharepoint' ? 'of row ' : ''}${JSON.stringify(c.key)}` : '';
  return `    ${c.kind} ${where}${row}${c.fields.length ? `: ${c.fields.join(', ')}` : ''}`;
}

function plannedLines(planned: number, sample: PlannedChange[]): string[] {
  if (planned === 0) return ['  planned changes: none'];
  return [
    `  planned changes: ${planned}${planned > sample.length ? ` (first ${sample.length})` : ''}`,
    ...sample.map(plannedLine),
  ];
}

/** Routed definitions: the items the run would move between lists. */
function moveLines(summary: DryRunSummary): string[] {
  if (summary.moved === 0) return [];
  return [
    `  moves: ${summary.moved}${summary.moved > summary.moves.length ? ` (first ${summary.moves.length})` : ''}`,
    ...summary.moves.map(
      (m) =>
        `    move item${m.itemId ? ` ${m.itemId}` : ''} of row ${JSON.stringify(m.key)}: ${m.from} → ${m.to}`,
    ),
  ];
}

function reportDryRun(rt: CliRuntime, summary: DryRunSummary, opts: RunCommandOptions): void {
  rt.reporter.finish();
  if (opts.json) printJson(rt.io, summary);
  else
    rt.io.out(
      [
        DRY_RUN_NOTE,
        formatRunSummary(summary),
        ...plannedLines(summary.planned, summary.sample),
        ...moveLines(summary),
      ].join('\n'),
    );
  failIfFailed(summary);
}

/** `sync --dry-run`: each run previewed against the current state (the push does not see the pull's writes). */
async function dryRunSync(rt: CliRuntime, name: string, opts: RunCommandOptions): Promise<void> {
  const ctx = await rt.engineContext();
  const pull = await previewPull(ctx, name, dryOptions(opts));
  const push = pull.status === 'FAILED' ? null : await previewPush(ctx, name, dryOptions(opts));
  rt.reporter.finish();
  const runs = push ? [pull, push] : [pull];
  const planned = runs.reduce((n, r) => n + r.planned, 0);
  const sample = runs.flatMap((r) => r.sample).slice(0, 10);
  if (opts.json) {
    printJson(rt.io, { ...combineSync(pull, push), dryRun: true, planned, sample });
  } else {
    rt.io.out(DRY_RUN_NOTE);
    rt.io.out(
      [formatRunSummary(pull, { attention: push === null }), ...plannedLines(pull.planned, pull.sample)].join(
        '\n',
      ),
    );
    if (push) rt.io.out([formatRunSummary(push), ...plannedLines(push.planned, push.sample)].join('\n'));
    else rt.io.out(`push ${name}: not previewed because the pull failed`);
  }
  failIfFailed(pull);
  if (push) failIfFailed(push);
}

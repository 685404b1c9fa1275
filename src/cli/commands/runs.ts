import { provisionList } from '../../core/engine/provision';
import { runPull } from '../../core/engine/pull';
import { runPush } from '../../core/engine/push';
import type { RunSummary } from '../../core/engine/types';
import { CliUsageError, RunFailedError } from '../failures';
import { combineSync, formatRunSummary, printJson } from '../output';
import type { CliRuntime } from '../runtime';

export interface RunCommandOptions {
  json?: boolean;
  /** `--max-seconds N`: the run's time budget (default RUN_MAX_SECONDS). */
  maxSeconds?: string;
}

/** The run options a command line asks for: its trigger and, with --max-seconds, its time budget. */
function runOptions(opts: RunCommandOptions): { trigger: 'cli'; maxSeconds?: number } {
  if (opts.maxSeconds === undefined) return { trigger: 'cli' };
  const n = Number(opts.maxSeconds);
  if (!Number.isInteger(n) || n <= 0)
    throw new CliUsageError(`--max-seconds must be a positive integer, got "${opts.maxSeconds}"`);
  return { trigger: 'cli', maxSeconds: n };
}

function failIfFailed(summary: RunSummary): void {
  if (summary.status === 'FAILED') {
    throw new RunFailedError(summary.definition, summary.runType, summary.error ?? 'no error recorded');
  }
}

function report(rt: CliRuntime, summary: RunSummary, opts: RunCommandOptions): void {
  rt.reporter.finish();
  if (opts.json) printJson(rt.io, summary);
  else rt.io.out(formatRunSummary(summary));
}

export async function runPushCommand(rt: CliRuntime, name: string, opts: RunCommandOptions): Promise<void> {
  const run = runOptions(opts);
  const ctx = await rt.engineContext();
  const summary = await runPush(ctx, name, run);
  report(rt, summary, opts);
  failIfFailed(summary);
}

export async function runPullCommand(rt: CliRuntime, name: string, opts: RunCommandOptions): Promise<void> {
  const run = runOptions(opts);
  const ctx = await rt.engineContext();
  const summary = await runPull(ctx, name, run);
  report(rt, summary, opts);
  failIfFailed(summary);
}

/** One pull, then one push: SharePoint edits land first, so the push compares against fresh values. */
export async function runSyncCommand(rt: CliRuntime, name: string, opts: RunCommandOptions): Promise<void> {
  const run = runOptions(opts);
  const ctx = await rt.engineContext();
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
  if (opts.json) {
    printJson(rt.io, combined);
  } else {
    // The push's note counts parked failures and open conflicts after both runs; the pull's would repeat it.
    rt.io.out(formatRunSummary(pull, { attention: push === null }));
    if (push) rt.io.out(formatRunSummary(push));
    else rt.io.out(`push ${name}: not run because the pull failed`);
  }
  failIfFailed(pull);
  if (push) failIfFailed(push);
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
  rt.io.out(
    `${name}: list ${result.listId} ${result.listCreated ? 'created' : 'already existed'}; ` +
      (result.columnsAdded.length === 0
        ? 'no columns added'
        : `columns added: ${result.columnsAdded.join(', ')}`),
  );
}

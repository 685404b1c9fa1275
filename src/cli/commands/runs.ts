import { provisionList } from '../../core/engine/provision';
import { runPull } from '../../core/engine/pull';
import { runPush } from '../../core/engine/push';
import type { RunSummary } from '../../core/engine/types';
import { RunFailedError } from '../failures';
import { combineSync, formatRunSummary, printJson, type SyncSummary } from '../output';
import type { CliRuntime } from '../runtime';

export interface RunCommandOptions {
  json?: boolean;
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
  const ctx = await rt.engineContext();
  const summary = await runPush(ctx, name, { trigger: 'cli' });
  report(rt, summary, opts);
  failIfFailed(summary);
}

export async function runPullCommand(rt: CliRuntime, name: string, opts: RunCommandOptions): Promise<void> {
  const ctx = await rt.engineContext();
  const summary = await runPull(ctx, name, { trigger: 'cli' });
  report(rt, summary, opts);
  failIfFailed(summary);
}

/** One pull, then one push: SharePoint edits land first, so the push compares against fresh values. */
export async function runSyncCommand(rt: CliRuntime, name: string, opts: RunCommandOptions): Promise<void> {
  const ctx = await rt.engineContext();
  const pull = await runPull(ctx, name, { trigger: 'cli' });
  // A failed pull (Graph or Postgres unreachable) would fail the push the same way: stop there.
  const push = pull.status === 'FAILED' ? null : await runPush(ctx, name, { trigger: 'cli' });
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
  rt.io.out(
    `${name}: list ${result.listId} ${result.listCreated ? 'created' : 'already existed'}; ` +
      (result.columnsAdded.length === 0
        ? 'no columns added'
        : `columns added: ${result.columnsAdded.join(', ')}`),
  );
}

import { runBackfill, type BackfillSummary } from '../../core/engine/backfill';
import type { BackfillDirection, BackfillStrategy } from '../../core/store/backfills';
import { RunFailedError } from '../failures';
import { printJson } from '../output';
import type { CliRuntime } from '../runtime';
import { runOptions } from './runs';

export interface BackfillCommandOptions {
  fields: string;
  strategy: BackfillStrategy;
  direction: BackfillDirection;
  dryRun?: boolean;
  restart?: boolean;
  json?: boolean;
  maxSeconds?: string;
}

const COUNT_LINE = ['examined', 'updated', 'equal', 'skipped', 'created', 'conflicts', 'failed'] as const;

/** The human summary of a backfill run. */
export function formatBackfillSummary(s: BackfillSummary): string {
  const what = `backfill ${s.definition} (${s.fields.join(', ')}; ${s.strategy}, ${s.direction})`;
  if (s.status === 'SKIPPED')
    return `${what}: SKIPPED (another run of this definition holds the lock; nothing was done)`;
  const lines = [
    ...(s.dryRun ? ['dry run: nothing was written; the counts are what this backfill would report now'] : []),
    `${what}: ${s.status} in ${(s.durationMs / 1000).toFixed(1)}s` +
      (s.runId === null ? '' : ` (run ${s.runId})`) +
      (s.resumed ? ', continuing an earlier run' : ''),
    ...(s.restarted ? [`  started again: ${s.restarted}`] : []),
    `  ${COUNT_LINE.map((k) => `${k} ${s[k]}`).join('  ')}`,
  ];
  if (s.resumed)
    lines.push(
      `  overall: ${COUNT_LINE.map((k) => `${k} ${s.overall[k]}`).join('  ')} (of ${s.total} ledger rows)`,
    );
  lines.push(
    `  Graph: ${s.graphRequests} requests, ${s.resourceUnits} resource units, ` +
      `${(s.throttleWaitMs / 1000).toFixed(1)}s waiting on throttling`,
  );
  for (const f of s.failures) lines.push(`  failed: row ${JSON.stringify(f.key)}: ${f.error}`);
  for (const w of s.waitingRows)
    lines.push(`  waiting: row ${JSON.stringify(w.key)} (item ${w.itemId}): ${w.next}`);
  for (const m of s.missingRows)
    lines.push(`  not re-created: row ${JSON.stringify(m.key)} (item ${m.itemId}): ${m.next}`);
  if (s.cursorMoved > 0)
    lines.push(
      `  note: an older trigger moved the cursor column of ${s.cursorMoved} row(s): run "arcore-sync install-cursor ${s.definition}" to replace it`,
    );
  if (s.openConflicts > 0)
    lines.push(`  attention: ${s.openConflicts} conflict(s) open (arcore-sync conflicts ${s.definition})`);
  if (!s.complete && s.status !== 'FAILED') {
    lines.push(
      s.dryRun
        ? '  incomplete: the time budget was spent before every row was previewed'
        : '  incomplete: stopped with rows left; what was done is kept: run the same command again to continue',
    );
  }
  if (s.dryRun && s.planned !== undefined) {
    lines.push(`  planned changes: ${s.planned}`);
    for (const c of s.sample ?? [])
      lines.push(
        `    ${c.kind} ${c.side === 'sharepoint' ? `SharePoint item ${c.itemId ?? ''}`.trimEnd() : 'Postgres row'}` +
          `${c.key ? ` ${JSON.stringify(c.key)}` : ''}: ${c.fields.join(', ')}`,
      );
  }
  return lines.join('\n');
}

/** `arcore-sync backfill NAME --fields A,B …`: see src/core/engine/backfill/run.ts. */
export async function runBackfillCommand(
  rt: CliRuntime,
  name: string,
  opts: BackfillCommandOptions,
): Promise<void> {
  const { maxSeconds } = runOptions(opts);
  const ctx = await rt.engineContext();
  const summary = await runBackfill(ctx, name, {
    fields: opts.fields.split(','),
    strategy: opts.strategy,
    direction: opts.direction,
    dryRun: Boolean(opts.dryRun),
    restart: Boolean(opts.restart),
    maxSeconds,
    trigger: 'cli',
  });
  rt.reporter.finish();
  if (summary.status === 'FAILED') {
    throw new RunFailedError(name, 'BACKFILL', summary.error ?? 'no error recorded', summary, {
      run: summary,
    });
  }
  if (opts.json) printJson(rt.io, summary);
  else rt.io.out(formatBackfillSummary(summary));
}

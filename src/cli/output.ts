import { runVerb, type Logger, type RunStatus, type RunSummary } from '../core/engine/types';
import type { ProgressReporter } from './progress';

/** Where a command writes: results to `out` (stdout), diagnostics to `err` (stderr). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

export function printJson(io: CliIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

/** A plain text table: columns padded to their widest cell, numbers right-aligned. */
export function formatTable(headers: string[], rows: (string | number | null)[][]): string {
  const cells = rows.map((row) => row.map((c) => (c === null ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const line = (row: string[]) =>
    row
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function dataSuffix(data?: Record<string, unknown>): string {
  if (!data || Object.keys(data).length === 0) return '';
  return ` ${JSON.stringify(data)}`;
}

/**
 * The engine's logger for a CLI process: warnings and errors always, info with --verbose; all on stderr.
 * `runFailuresPrinted`: the command prints a failed run itself (push, pull, sync), so the engine's log line
 * for it (marked by its errorKind) would repeat the error; a long-lived `serve` keeps those lines.
 */
export function cliLogger(reporter: ProgressReporter, verbose: boolean, runFailuresPrinted = false): Logger {
  return {
    info(message, data) {
      if (verbose) reporter.log(`info: ${message}${dataSuffix(data)}`);
    },
    warn(message, data) {
      reporter.log(`warning: ${message}${dataSuffix(data)}`);
    },
    error(message, data) {
      // A failed run (its log line carries errorKind) is reported once by the command, with its hint.
      if (runFailuresPrinted && data?.errorKind !== undefined && !verbose) return;
      reporter.log(`error: ${message}${dataSuffix(data)}`);
    },
  };
}

const COUNT_KEYS = ['processed', 'created', 'updated', 'deleted', 'skipped', 'conflicts', 'failed'] as const;

/** Routed definitions only: the moves and unrouted rows of a run, when there were any. */
function routingCounts(summary: RunSummary): string {
  return (['moved', 'unrouted'] as const)
    .filter((k) => summary[k] > 0)
    .map((k) => `  ${k} ${summary[k]}`)
    .join('');
}

/** What `--json` prints for a run: the RunSummary as the engine recorded it. */
export function runSummaryJson(summary: RunSummary): RunSummary {
  return { ...summary };
}

/**
 * The human summary of one run, e.g.
 * `push projects: SUCCEEDED in 12.3s (run 42)` followed by the counts and Graph usage.
 */
export function formatRunSummary(summary: RunSummary, options: { attention?: boolean } = {}): string {
  const verb = runVerb(summary.runType);
  if (summary.status === 'SKIPPED') {
    return `${verb} ${summary.definition}: SKIPPED (another run of this definition holds the lock; nothing was done)`;
  }
  if (summary.idle && summary.runType === 'PULL') {
    const requests = `${summary.graphRequests} delta request${summary.graphRequests === 1 ? '' : 's'}`;
    return (
      `${verb} ${summary.definition}: idle, nothing to pull (checked in ${summary.durationMs} ms with ` +
      `${requests}; no run recorded; --full runs it anyway)`
    );
  }
  if (summary.idle) {
    return (
      `${verb} ${summary.definition}: idle, nothing to push (checked in ${summary.durationMs} ms; no run ` +
      'recorded, no Graph request; --full runs it anyway)'
    );
  }
  const lines = [
    `${verb} ${summary.definition}: ${summary.status} in ${(summary.durationMs / 1000).toFixed(1)}s` +
      (summary.runId === null ? '' : ` (run ${summary.runId})`),
    `  ${COUNT_KEYS.map((k) => `${k} ${summary[k]}`).join('  ')}` + routingCounts(summary),
    `  Graph: ${summary.graphRequests} requests, ${summary.resourceUnits} resource units, ` +
      `${(summary.paceWaitMs / 1000).toFixed(1)}s pacing to the budget, ` +
      `${(summary.throttleWaitMs / 1000).toFixed(1)}s in 429 back-off`,
  ];
  // A FAILED run's error is printed once, by the CLI's failure message (with its next step).
  if (summary.error && summary.status !== 'FAILED') lines.push(`  error: ${summary.error}`);
  for (const warning of summary.warnings ?? []) lines.push(`  warning: ${warning}`);
  if (!summary.complete && summary.status !== 'FAILED') {
    lines.push(
      summary.resumeAfter
        ? `  incomplete: Graph throttled this app until ${summary.resumeAfter}, beyond this run's time ` +
            `budget; what was done is kept: run it again after that time to continue`
        : `  incomplete: the run's time budget was spent; what was done is kept: run it again to continue`,
    );
  }
  const attention = options.attention === false ? null : attentionNote(summary);
  if (attention) lines.push(`  ${attention}`);
  return lines.join('\n');
}

/**
 * Names what needs a person: failures this run parked (its `failed`: new failures and retried ones that failed
 * again), older parked failures this run did not retry (they do not make it PARTIAL), moves held for the user,
 * open conflicts, and the commands that deal with them; null when there are none.
 */
export function attentionNote(
  summary: Pick<RunSummary, 'definition' | 'parkedFailures' | 'openConflicts' | 'heldMoves'> & {
    status?: RunStatus;
    failed?: number;
  },
): string | null {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const parts: string[] = [];
  const thisRun = Math.min(summary.failed ?? 0, summary.parkedFailures);
  const older = summary.parkedFailures - thisRun;
  const failures: string[] = [];
  if (thisRun > 0) failures.push(`${plural(thisRun, 'failure')} parked this run`);
  if (older > 0) failures.push(`${plural(older, 'older parked failure')}`);
  if (failures.length > 0) parts.push(`${failures.join(', ')} (arcore-sync failures ${summary.definition})`);
  if (summary.heldMoves > 0) {
    parts.push(
      `${plural(summary.heldMoves, 'move')} held for you: both items of a row moving between lists were edited in ` +
        `SharePoint; delete the one whose edits you do not want, then push (arcore-sync status ${summary.definition} ` +
        'names both items)',
    );
  }
  if (summary.openConflicts > 0) {
    parts.push(
      `${plural(summary.openConflicts, 'conflict')} open (arcore-sync conflicts ${summary.definition})`,
    );
  }
  if (parts.length === 0) return null;
  // Only a run that finished can be said to have succeeded; a PARTIAL one applied everything it did not park.
  const verdict =
    summary.status === 'SUCCEEDED'
      ? '; the run succeeded'
      : summary.status === 'PARTIAL'
        ? '; everything else in this run was applied'
        : '';
  return `attention: ${parts.join(', ')}${verdict}`;
}

const STATUS_RANK: Record<RunStatus, number> = { SKIPPED: 0, SUCCEEDED: 1, PARTIAL: 2, FAILED: 3 };

/** `sync` = one pull then one push: its JSON is the sums of both runs plus each run in full. */
export interface SyncSummary {
  runId: string | null;
  runIds: (string | null)[];
  definition: string;
  status: RunStatus;
  processed: number;
  created: number;
  updated: number;
  deleted: number;
  skipped: number;
  conflicts: number;
  failed: number;
  /** Routed definitions: items moved between lists, rows no route matches. */
  moved: number;
  unrouted: number;
  durationMs: number;
  throttleWaitMs: number;
  parkedFailures: number;
  openConflicts: number;
  heldMoves: number;
  /** Both runs finished their work (neither stopped at the time budget). */
  complete: boolean;
  pull: RunSummary;
  push: RunSummary | null;
}

export function combineSync(pull: RunSummary, push: RunSummary | null): SyncSummary {
  const runs = push ? [pull, push] : [pull];
  const sum = (key: (typeof COUNT_KEYS)[number] | 'moved' | 'unrouted' | 'durationMs' | 'throttleWaitMs') =>
    runs.reduce((acc, r) => acc + r[key], 0);
  const last = runs[runs.length - 1];
  const nonSkipped = runs.filter((r) => r.status !== 'SKIPPED');
  const status =
    nonSkipped.length === 0
      ? 'SKIPPED'
      : nonSkipped.reduce<RunStatus>(
          (worst, r) => (STATUS_RANK[r.status] > STATUS_RANK[worst] ? r.status : worst),
          'SUCCEEDED',
        );
  return {
    runId: last.runId,
    runIds: runs.map((r) => r.runId),
    definition: pull.definition,
    status,
    processed: sum('processed'),
    created: sum('created'),
    updated: sum('updated'),
    deleted: sum('deleted'),
    skipped: sum('skipped'),
    conflicts: sum('conflicts'),
    failed: sum('failed'),
    moved: sum('moved'),
    unrouted: sum('unrouted'),
    durationMs: sum('durationMs'),
    throttleWaitMs: sum('throttleWaitMs'),
    parkedFailures: last.parkedFailures,
    openConflicts: last.openConflicts,
    heldMoves: last.heldMoves,
    complete: push !== null && pull.complete && push.complete,
    pull,
    push,
  };
}

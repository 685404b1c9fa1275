import { MultiBar, type SingleBar } from 'cli-progress';
import { runVerb, type ProgressEvent, type RunTrace } from '../core/engine/types';

/**
 * What one progress line or bar shows: rows done, rate, ETA, and time spent waiting, split by what the
 * wait was for: pacing to the resource-unit budget, or a 429 back-off.
 */
export interface ProgressSnapshot {
  label: string;
  done: number;
  total: number | null;
  ratePerSecond: number;
  etaSeconds: number | null;
  /** 429 back-off (and holds the server asked for). */
  throttleWaitMs: number;
  /** Waiting for this app's share of the resource-unit budget. */
  paceWaitMs: number;
  /** Resource units the rows left will cost (a write each), and the budget they are paced to. */
  resourceUnitsLeft: number | null;
  ruPerMinute: number | null;
  elapsedMs: number;
}

/** Every item write costs 2 resource units, inside a `$batch` too (graph.md "Throttling"). */
export const RESOURCE_UNITS_PER_WRITE = 2;

function labelOf(event: ProgressEvent): string {
  return `${runVerb(event.runType)} ${event.definition}`;
}

/** Below this much elapsed time a rate is noise: it is shown as unknown. */
const MIN_RATE_WINDOW_MS = 500;

/** Inner statuses of a `$batch` whose writes are settled (a 429, 5xx or lost answer is sent again). */
function settledWrites(statuses: Record<string, number>): number {
  let settled = 0;
  for (const [status, count] of Object.entries(statuses)) {
    const code = Number(status);
    if (code >= 200 && code < 500 && code !== 429) settled += count;
  }
  return settled;
}

/**
 * Turns the engine's progress events for one run into rates and an ETA. Page events carry the run's
 * cumulative count; between them, each `$batch` moves the count by the writes it settled (capped at the
 * page's rows), so the line moves inside a page.
 */
export class ProgressTracker {
  private startedAt: number | null = null;
  /** Rows already done at the first event: the rate counts only rows done while we watched. */
  private startDone = 0;
  private latest: ProgressSnapshot | null = null;
  /** The run's count at its last page event, and what the current page's batches settled since. */
  private pageBase = 0;
  private pageRows: number | null = null;
  private inPage = 0;
  private total: number | null = null;
  private throttleWaitMs = 0;
  private paceWaitMs = 0;
  private ruPerMinute: number | null = null;

  constructor(readonly label: string) {}

  update(event: ProgressEvent, now: number): ProgressSnapshot {
    // Page events, and page reads (emitted by the run itself, before the page), carry the run's own counts.
    const counted = !event.wait && (!event.trace || event.trace.kind === 'page');
    if (counted) {
      // Counts are cumulative within a run: a smaller count, or another total, is the next run of the definition.
      if (this.latest && (event.done < this.pageBase || event.total !== this.total)) this.restart();
      this.pageBase = event.done;
      this.total = event.total;
      this.pageRows = null;
      this.inPage = 0;
    }
    if (event.trace) this.step(event.trace);
    this.throttleWaitMs = Math.max(this.throttleWaitMs, event.throttleWaitMs);
    this.paceWaitMs = Math.max(this.paceWaitMs, event.paceWaitMs ?? 0);
    if (event.ruPerMinute !== undefined) this.ruPerMinute = event.ruPerMinute;

    let done = this.pageBase + (this.pageRows === null ? this.inPage : Math.min(this.inPage, this.pageRows));
    if (this.total !== null) done = Math.min(done, Math.max(this.total, this.pageBase));
    if (this.startedAt === null) {
      this.startedAt = now;
      this.startDone = done;
    }
    const elapsedMs = Math.max(0, now - this.startedAt);
    const ratePerSecond = elapsedMs >= MIN_RATE_WINDOW_MS ? ((done - this.startDone) * 1000) / elapsedMs : 0;
    const remaining = this.total === null ? null : Math.max(0, this.total - done);
    const paced = this.ruPerMinute !== null && this.ruPerMinute > 0 ? this.ruPerMinute : null;
    const resourceUnitsLeft = remaining === null ? null : remaining * RESOURCE_UNITS_PER_WRITE;
    // The budget bounds how fast the rest can go; a slower measured rate bounds it further.
    const budgetSeconds =
      resourceUnitsLeft === null || paced === null ? null : (resourceUnitsLeft / paced) * 60;
    const rateSeconds =
      remaining === null ? null : remaining === 0 ? 0 : ratePerSecond > 0 ? remaining / ratePerSecond : null;
    const etaSeconds =
      budgetSeconds === null
        ? rateSeconds
        : rateSeconds === null
          ? budgetSeconds
          : Math.max(budgetSeconds, rateSeconds);
    this.latest = {
      label: this.label,
      done,
      total: this.total,
      ratePerSecond,
      etaSeconds,
      throttleWaitMs: this.throttleWaitMs,
      paceWaitMs: this.paceWaitMs,
      resourceUnitsLeft,
      ruPerMinute: paced,
      elapsedMs,
    };
    return this.latest;
  }

  private step(trace: RunTrace): void {
    if (trace.kind === 'page') {
      this.pageRows = trace.rows;
      this.inPage = 0;
    } else if (trace.kind === 'batch') {
      this.inPage += settledWrites(trace.statuses);
    }
  }

  private restart(): void {
    this.startedAt = null;
    this.throttleWaitMs = 0;
    this.paceWaitMs = 0;
  }

  snapshot(): ProgressSnapshot | null {
    return this.latest;
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const count = (n: number) => n.toLocaleString('en-US');

/** `(16,000 RU at 1,250 RU/min)`: what the ETA rests on when the run paces to a budget; '' otherwise. */
function budgetNote(s: ProgressSnapshot): string {
  if (s.resourceUnitsLeft === null || s.ruPerMinute === null) return '';
  return ` (${count(s.resourceUnitsLeft)} RU at ${count(s.ruPerMinute)} RU/min)`;
}

/** `paced 3.1s, 429 back-off 0.0s`: waiting, by what it was for. */
export function formatWaits(s: Pick<ProgressSnapshot, 'paceWaitMs' | 'throttleWaitMs'>): string {
  return `paced ${seconds(s.paceWaitMs)}, 429 back-off ${seconds(s.throttleWaitMs)}`;
}

/** `push projects: 2,000/10,000 rows (20%), 850 rows/s, ETA 9s (16,000 RU at 6,000 RU/min), paced 1.0s, 429 back-off 0.0s` */
export function formatProgressLine(s: ProgressSnapshot): string {
  const rows =
    s.total === null
      ? `${count(s.done)} rows`
      : `${count(s.done)}/${count(s.total)} rows (${s.total === 0 ? 100 : Math.floor((s.done / s.total) * 100)}%)`;
  const rate = s.ratePerSecond > 0 ? `, ${Math.round(s.ratePerSecond)} rows/s` : '';
  const eta = s.etaSeconds === null ? '' : `, ETA ${formatDuration(s.etaSeconds)}${budgetNote(s)}`;
  return `${s.label}: ${rows}${rate}${eta}, ${formatWaits(s)}`;
}

/** The `-v` line of one step: a page read, a `$batch` sent, a wait and its reason. */
export function formatTraceLine(label: string, trace: RunTrace, ruPerMinute: number | undefined): string {
  switch (trace.kind) {
    case 'page':
      return `${label}: page read: ${count(trace.rows)} rows in ${trace.ms} ms`;
    case 'batch': {
      const statuses = Object.entries(trace.statuses)
        .map(([status, n]) => `${status}×${n}`)
        .join(' ');
      return `${label}: $batch: ${trace.writes} writes, ${trace.resourceUnits} RU, ${statuses}, ${trace.ms} ms`;
    }
    case 'wait':
      return trace.reason === 'pacing'
        ? `${label}: wait: ${seconds(trace.ms)} pacing to the budget${ruPerMinute ? ` (${count(ruPerMinute)} RU/min)` : ''}`
        : `${label}: wait: ${seconds(trace.ms)} 429 back-off (Graph throttled this app)`;
  }
}

/** Receives the engine's progress events and a command's log lines, and shows them. */
export interface ProgressReporter {
  onProgress(event: ProgressEvent): void;
  /** A log line that must not be overwritten by a bar. */
  log(line: string): void;
  /** Ends every bar (prints a final line in plain mode). Safe to call twice. */
  finish(): void;
}

export interface ProgressReporterOptions {
  /** A terminal: draw bars. Otherwise: plain lines, at most one per `lineIntervalMs` per run. */
  interactive: boolean;
  /** `-v`: also a line per page read, `$batch` sent and wait. */
  verbose?: boolean;
  stream: NodeJS.WritableStream;
  lineIntervalMs?: number;
  now?: () => number;
}

/** Plain lines for logs and pipes: one line every few seconds per run, and one when the run ends. */
class LineReporter implements ProgressReporter {
  private readonly trackers = new Map<
    string,
    { tracker: ProgressTracker; printedAt: number; printedDone: number }
  >();

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly intervalMs: number,
    private readonly now: () => number,
    private readonly verbose: boolean,
  ) {}

  onProgress(event: ProgressEvent): void {
    // A wait notice is printed as its own line by the logger; it carries no row counts.
    if (event.wait) return;
    const label = labelOf(event);
    if (event.trace && this.verbose) this.log(formatTraceLine(label, event.trace, event.ruPerMinute));
    let entry = this.trackers.get(label);
    if (!entry) {
      entry = { tracker: new ProgressTracker(label), printedAt: Number.NEGATIVE_INFINITY, printedDone: -1 };
      this.trackers.set(label, entry);
    }
    const at = this.now();
    const snapshot = entry.tracker.update(event, at);
    const complete = snapshot.total !== null && snapshot.done >= snapshot.total;
    if (at - entry.printedAt >= this.intervalMs || (complete && entry.printedDone !== snapshot.done)) {
      this.stream.write(`${formatProgressLine(snapshot)}\n`);
      entry.printedAt = at;
      entry.printedDone = snapshot.done;
    }
  }

  log(line: string): void {
    this.stream.write(`${line}\n`);
  }

  finish(): void {
    for (const entry of this.trackers.values()) {
      const snapshot = entry.tracker.snapshot();
      if (snapshot && snapshot.done !== entry.printedDone)
        this.stream.write(`${formatProgressLine(snapshot)}\n`);
    }
    this.trackers.clear();
  }
}

/** cli-progress bars on a terminal, one per run; log lines are printed above them. */
class BarReporter implements ProgressReporter {
  private multibar: MultiBar | null = null;
  private readonly bars = new Map<string, { tracker: ProgressTracker; bar: SingleBar }>();

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly now: () => number,
    private readonly verbose: boolean,
  ) {}

  private ensureMultibar(): MultiBar {
    this.multibar ??= new MultiBar({
      stream: this.stream,
      format: '{label} [{bar}] {done}{ofTotal} rows | {rate} rows/s | ETA {etaText} | {waits}',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      forceRedraw: true,
      noTTYOutput: false,
    });
    return this.multibar;
  }

  onProgress(event: ProgressEvent): void {
    if (event.wait) return;
    const label = labelOf(event);
    if (event.trace && this.verbose) this.log(formatTraceLine(label, event.trace, event.ruPerMinute));
    let entry = this.bars.get(label);
    const multibar = this.ensureMultibar();
    if (!entry) {
      entry = { tracker: new ProgressTracker(label), bar: multibar.create(Math.max(1, event.total ?? 1), 0) };
      this.bars.set(label, entry);
    }
    const s = entry.tracker.update(event, this.now());
    // Without a known total the bar tracks the rows done so far (it shows work, not a proportion).
    entry.bar.setTotal(Math.max(1, s.total ?? s.done));
    entry.bar.update(s.done, {
      label: s.label,
      done: s.done.toLocaleString('en-US'),
      ofTotal: s.total === null ? '' : `/${s.total.toLocaleString('en-US')}`,
      rate: s.ratePerSecond > 0 ? Math.round(s.ratePerSecond) : '?',
      etaText: s.etaSeconds === null ? '?' : `${formatDuration(s.etaSeconds)}${budgetNote(s)}`,
      waits: formatWaits(s),
    });
  }

  log(line: string): void {
    if (this.multibar) {
      this.multibar.log(`${line}\n`);
      // The log buffer is only written on the next redraw: redraw now so no line is lost at stop().
      this.multibar.update();
    } else this.stream.write(`${line}\n`);
  }

  finish(): void {
    this.multibar?.stop();
    this.multibar = null;
    this.bars.clear();
  }
}

export function createProgressReporter(options: ProgressReporterOptions): ProgressReporter {
  const now = options.now ?? Date.now;
  const verbose = options.verbose ?? false;
  return options.interactive
    ? new BarReporter(options.stream, now, verbose)
    : new LineReporter(options.stream, options.lineIntervalMs ?? 2000, now, verbose);
}

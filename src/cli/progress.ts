import { MultiBar, type SingleBar } from 'cli-progress';
import { runVerb, type ProgressEvent } from '../core/engine/types';

/** What one progress line or bar shows: rows done, rate, ETA and time spent waiting on throttling. */
export interface ProgressSnapshot {
  label: string;
  done: number;
  total: number | null;
  ratePerSecond: number;
  etaSeconds: number | null;
  throttleWaitMs: number;
  elapsedMs: number;
}

function labelOf(event: ProgressEvent): string {
  return `${runVerb(event.runType)} ${event.definition}`;
}

/** Below this much elapsed time a rate is noise: it is shown as unknown. */
const MIN_RATE_WINDOW_MS = 500;

/** Turns the engine's cumulative progress events for one run into rates and an ETA. */
export class ProgressTracker {
  private startedAt: number | null = null;
  /** Rows already done at the first event: the rate counts only rows done while we watched. */
  private startDone = 0;
  private latest: ProgressSnapshot | null = null;

  constructor(readonly label: string) {}

  update(event: ProgressEvent, now: number): ProgressSnapshot {
    // Counts are cumulative within a run: a smaller count, or another total, is the next run of the definition.
    if (this.latest && (event.done < this.latest.done || event.total !== this.latest.total))
      this.startedAt = null;
    if (this.startedAt === null) {
      this.startedAt = now;
      this.startDone = event.done;
    }
    const elapsedMs = Math.max(0, now - this.startedAt);
    const ratePerSecond =
      elapsedMs >= MIN_RATE_WINDOW_MS ? ((event.done - this.startDone) * 1000) / elapsedMs : 0;
    const remaining = event.total === null ? null : Math.max(0, event.total - event.done);
    const etaSeconds =
      remaining === null ? null : remaining === 0 ? 0 : ratePerSecond > 0 ? remaining / ratePerSecond : null;
    this.latest = {
      label: this.label,
      done: event.done,
      total: event.total,
      ratePerSecond,
      etaSeconds,
      throttleWaitMs: event.throttleWaitMs,
      elapsedMs,
    };
    return this.latest;
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

/** `push projects: 2,000/10,000 rows (20%), 850 rows/s, ETA 9s, throttled 1.2s` */
export function formatProgressLine(s: ProgressSnapshot): string {
  const rows =
    s.total === null
      ? `${s.done.toLocaleString('en-US')} rows`
      : `${s.done.toLocaleString('en-US')}/${s.total.toLocaleString('en-US')} rows (${
          s.total === 0 ? 100 : Math.floor((s.done / s.total) * 100)
        }%)`;
  const rate = s.ratePerSecond > 0 ? `, ${Math.round(s.ratePerSecond)} rows/s` : '';
  const eta = s.etaSeconds === null ? '' : `, ETA ${formatDuration(s.etaSeconds)}`;
  return `${s.label}: ${rows}${rate}${eta}, throttled ${(s.throttleWaitMs / 1000).toFixed(1)}s`;
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
  ) {}

  onProgress(event: ProgressEvent): void {
    // A wait notice is printed as its own line by the logger; it carries no row counts.
    if (event.wait) return;
    const label = labelOf(event);
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
  ) {}

  private ensureMultibar(): MultiBar {
    this.multibar ??= new MultiBar({
      stream: this.stream,
      format: '{label} [{bar}] {done}{ofTotal} rows | {rate} rows/s | ETA {etaText} | throttled {throttle}',
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
      etaText: s.etaSeconds === null ? '?' : formatDuration(s.etaSeconds),
      throttle: `${(s.throttleWaitMs / 1000).toFixed(1)}s`,
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
  return options.interactive
    ? new BarReporter(options.stream, now)
    : new LineReporter(options.stream, options.lineIntervalMs ?? 2000, now);
}

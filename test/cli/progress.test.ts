import { PassThrough } from 'node:stream';
import {
  createProgressReporter,
  formatDuration,
  formatProgressLine,
  formatTraceLine,
  ProgressTracker,
} from '../../src/cli/progress';
import type { ProgressEvent, RunTrace } from '../../src/core/engine/types';

const event = (done: number, total: number | null, throttleWaitMs = 0): ProgressEvent => ({
  runType: 'PUSH',
  definition: 'projects',
  done,
  total,
  throttleWaitMs,
});

/** A step as the runner reports it: its counts lag (the last page's), the step says what moved. */
const step = (trace: RunTrace, extra: Partial<ProgressEvent> = {}): ProgressEvent => ({
  runType: 'PUSH',
  definition: 'projects',
  done: 0,
  total: null,
  throttleWaitMs: 0,
  trace,
  ...extra,
});
const batch = (statuses: Record<string, number>): RunTrace => ({
  kind: 'batch',
  writes: Object.values(statuses).reduce((a, b) => a + b, 0),
  resourceUnits: 40,
  statuses,
  ms: 30,
});

function capture(): { stream: PassThrough; text(): string } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  return { stream, text: () => chunks.join('') };
}

describe('progress', () => {
  it('computes rate and ETA from cumulative events', () => {
    const tracker = new ProgressTracker('push projects');
    tracker.update(event(0, 10000), 1000);
    const s = tracker.update(event(2000, 10000, 1500), 3000);
    expect(s.ratePerSecond).toBe(1000);
    expect(s.etaSeconds).toBe(8);
    expect(formatProgressLine(s)).toBe(
      'push projects: 2,000/10,000 rows (20%), 1000 rows/s, ETA 8s, paced 0.0s, 429 back-off 1.5s',
    );
  });

  it('has no ETA without a total', () => {
    const tracker = new ProgressTracker('pull projects');
    tracker.update(event(0, null), 0);
    expect(formatProgressLine(tracker.update(event(50, null), 1000))).toBe(
      'pull projects: 50 rows, 50 rows/s, paced 0.0s, 429 back-off 0.0s',
    );
  });

  it('starts over when the next run of the definition begins (its count restarts)', () => {
    const tracker = new ProgressTracker('push projects');
    tracker.update(event(0, 100), 0);
    tracker.update(event(100, 100), 1000);
    tracker.update(event(10, 50), 60_000);
    const s = tracker.update(event(30, 50), 61_000);
    expect(s.elapsedMs).toBe(1000);
    expect(s.ratePerSecond).toBe(20);
    expect(s.etaSeconds).toBe(1);
  });

  it('moves inside a page by the writes each $batch settled, never past the page', () => {
    const tracker = new ProgressTracker('push projects');
    tracker.update({ ...event(0, 100), trace: { kind: 'page', rows: 50, ms: 5 } }, 0);
    expect(tracker.update(step(batch({ 201: 20 })), 1000).done).toBe(20);
    // A throttled or lost write is sent again: it has not moved the count yet.
    expect(tracker.update(step(batch({ 201: 15, 429: 3, unknown: 2 })), 2000).done).toBe(35);
    expect(tracker.update(step(batch({ 201: 20, 412: 5 })), 3000).done).toBe(50);
    // The page's own event is the truth again.
    expect(tracker.update(event(48, 100), 3500).done).toBe(48);
  });

  it('bases the ETA on the resource units left at the budget, and splits waiting by reason', () => {
    const tracker = new ProgressTracker('push projects');
    tracker.update({ ...event(0, 1000), trace: { kind: 'page', rows: 500, ms: 5 } }, 0);
    const s = tracker.update(
      step(batch({ 201: 20 }), { ruPerMinute: 600, paceWaitMs: 3000, throttleWaitMs: 1000 }),
      1000,
    );
    // 980 rows left × 2 RU = 1,960 RU at 600 RU/min: 196 s, slower than the measured 20 rows/s (49 s).
    expect(s.resourceUnitsLeft).toBe(1960);
    expect(s.etaSeconds).toBe(196);
    expect(formatProgressLine(s)).toBe(
      'push projects: 20/1,000 rows (2%), 20 rows/s, ETA 3m16s (1,960 RU at 600 RU/min), paced 3.0s, 429 back-off 1.0s',
    );
  });

  it('formats -v lines for a page read, a $batch and each kind of wait', () => {
    expect(formatTraceLine('push p', { kind: 'page', rows: 1200, ms: 14 }, 600)).toBe(
      'push p: page read: 1,200 rows in 14 ms',
    );
    expect(formatTraceLine('push p', batch({ 201: 18, 429: 2 }), 600)).toBe(
      'push p: $batch: 20 writes, 40 RU, 201×18 429×2, 30 ms',
    );
    expect(formatTraceLine('push p', { kind: 'wait', reason: 'pacing', ms: 1900 }, 600)).toBe(
      'push p: wait: 1.9s pacing to the budget (600 RU/min)',
    );
    expect(formatTraceLine('push p', { kind: 'wait', reason: 'throttled', ms: 1000 }, 600)).toBe(
      'push p: wait: 1.0s 429 back-off (Graph throttled this app)',
    );
  });

  it('formats durations', () => {
    expect(formatDuration(9.4)).toBe('9s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(7260)).toBe('2h01m');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('?');
  });

  it('prints plain lines at most once per interval, and the final count once', () => {
    let now = 0;
    const out = capture();
    const reporter = createProgressReporter({
      interactive: false,
      stream: out.stream,
      lineIntervalMs: 1000,
      now: () => now,
    });
    reporter.onProgress(event(0, 300));
    now = 200;
    reporter.onProgress(event(100, 300));
    now = 1200;
    reporter.onProgress(event(200, 300));
    now = 1500;
    reporter.onProgress(event(300, 300));
    reporter.finish();
    const lines = out.text().trim().split('\n');
    expect(lines).toEqual([
      'push projects: 0/300 rows (0%), paced 0.0s, 429 back-off 0.0s',
      'push projects: 200/300 rows (66%), 167 rows/s, ETA 1s, paced 0.0s, 429 back-off 0.0s',
      'push projects: 300/300 rows (100%), 200 rows/s, ETA 0s, paced 0.0s, 429 back-off 0.0s',
    ]);
  });

  it('draws a bar on a terminal and keeps log lines', () => {
    const out = capture();
    const reporter = createProgressReporter({ interactive: true, stream: out.stream });
    reporter.onProgress(event(0, 100));
    reporter.onProgress(event(50, 100, 2000));
    reporter.log('warning: something');
    reporter.finish();
    const text = out.text();
    expect(text).toContain('push projects [');
    expect(text).toContain('429 back-off 2.0s');
    expect(text).toContain('warning: something');
  });
});

import { PassThrough } from 'node:stream';
import {
  createProgressReporter,
  formatDuration,
  formatProgressLine,
  ProgressTracker,
} from '../../src/cli/progress';
import type { ProgressEvent } from '../../src/core/engine/types';

const event = (done: number, total: number | null, throttleWaitMs = 0): ProgressEvent => ({
  runType: 'PUSH',
  definition: 'projects',
  done,
  total,
  throttleWaitMs,
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
      'push projects: 2,000/10,000 rows (20%), 1000 rows/s, ETA 8s, throttled 1.5s',
    );
  });

  it('has no ETA without a total', () => {
    const tracker = new ProgressTracker('pull projects');
    tracker.update(event(0, null), 0);
    expect(formatProgressLine(tracker.update(event(50, null), 1000))).toBe(
      'pull projects: 50 rows, 50 rows/s, throttled 0.0s',
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
      'push projects: 0/300 rows (0%), throttled 0.0s',
      'push projects: 200/300 rows (66%), 167 rows/s, ETA 1s, throttled 0.0s',
      'push projects: 300/300 rows (100%), 200 rows/s, ETA 0s, throttled 0.0s',
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
    expect(text).toContain('throttled 2.0s');
    expect(text).toContain('warning: something');
  });
});

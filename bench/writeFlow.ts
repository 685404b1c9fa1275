/**
 * How the writes of a push flowed (issue 23.1): from the run's batch traces (each `$batch` answered, with its round
 * trip), the time the push had no write in flight and the round trip's median. Less sensitive to the machine's load
 * than rows/s: a page loop that leaves Graph idle between pages shows it here whatever else runs.
 */
import type { ProgressEvent } from '../src/core/engine/types';

export interface WriteFlow {
  /** Seconds of the push (from its start to its last batch's answer) with no `$batch` in flight. */
  secondsWithNoWriteInFlight: number;
  /** Share of the push's time with every write slot (the run's concurrency) busy. */
  shareWithAllSlotsBusy: number;
  /** Median and 90th percentile round trip of a `$batch`, ms. */
  batchRoundTripMsP50: number;
  batchRoundTripMsP90: number;
}

/** Collects batch traces through a run's `onProgress`. */
export class WriteFlowRecorder {
  private readonly batches: { end: number; ms: number }[] = [];
  private readonly started = performance.now();

  readonly onProgress = (event: ProgressEvent): void => {
    if (event.trace?.kind === 'batch') this.batches.push({ end: performance.now(), ms: event.trace.ms });
  };

  summary(concurrency: number): WriteFlow | null {
    if (this.batches.length === 0) return null;
    const edges: [number, number][] = [];
    for (const b of this.batches) edges.push([b.end - b.ms - this.started, 1], [b.end - this.started, -1]);
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let inFlight = 0;
    let last = 0;
    let idle = 0;
    let full = 0;
    for (const [at, delta] of edges) {
      if (inFlight === 0) idle += at - last;
      if (inFlight >= concurrency) full += at - last;
      inFlight += delta;
      last = at;
    }
    const ms = this.batches.map((b) => b.ms).sort((a, b) => a - b);
    const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(ms.length * q))];
    return {
      secondsWithNoWriteInFlight: Math.round(idle) / 1000,
      shareWithAllSlotsBusy: Math.round((full / last) * 100) / 100,
      batchRoundTripMsP50: Math.round(at(0.5)),
      batchRoundTripMsP90: Math.round(at(0.9)),
    };
  }
}

/**
 * Median and 90th percentile of the emulator's own time per `$batch` (after the injected latency) from the
 * difference of two stats snapshots' `batchWorkMs` (half-millisecond buckets; a bucket's upper edge is reported):
 * with the injected latency, what the engine's round trip is made of.
 */
export function emulatorBatchWork(
  histogram: readonly number[],
): { emulatorBatchMsP50: number; emulatorBatchMsP90: number } | null {
  const total = histogram.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const at = (q: number): number => {
    let seen = 0;
    for (let i = 0; i < histogram.length; i++) {
      seen += histogram[i];
      if (seen >= total * q) return (i + 1) / 2;
    }
    return histogram.length / 2;
  };
  return { emulatorBatchMsP50: at(0.5), emulatorBatchMsP90: at(0.9) };
}

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

/** The median and 90th percentile of a histogram of half-millisecond buckets (a bucket's upper edge). */
function bucketQuantiles(histogram: readonly number[]): { p50: number; p90: number } | null {
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
  return { p50: at(0.5), p90: at(0.9) };
}

/**
 * The emulator's times per outer `$batch`, from the difference of two stats snapshots (half-millisecond buckets):
 * its work after the injected latency (`emulatorBatchMs`), its whole time from the request's arrival to the answer
 * (`emulatorInMs`) and how late the latency's timer fired (`emulatorLatencyLateMs`). With the injected latency and
 * the engine's side (wireTiming.ts), what a round trip is made of.
 */
export function emulatorBatchTimes(stats: {
  batchWorkMs: readonly number[];
  batchInEmulatorMs: readonly number[];
  batchLatencyLateMs: readonly number[];
}): Record<string, number> {
  const out: Record<string, number> = {};
  const put = (name: string, histogram: readonly number[]) => {
    const q = bucketQuantiles(histogram);
    if (q === null) return;
    out[`${name}P50`] = q.p50;
    out[`${name}P90`] = q.p90;
  };
  put('emulatorBatchMs', stats.batchWorkMs);
  put('emulatorInMs', stats.batchInEmulatorMs);
  put('emulatorLatencyLateMs', stats.batchLatencyLateMs);
  return out;
}

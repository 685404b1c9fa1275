/**
 * The engine's memory over a push, sampled every few seconds beside the rows the emulator has received so far:
 * peak RSS alone cannot tell a flat process from one that climbs with the rows pushed (the ledger, the cursor,
 * anything kept per row), a series can.
 */
import { itemWrites, type EmulatorProcess, type EmulatorStatsSnapshot } from './emulatorClient';

export interface MemorySample {
  /** Seconds since sampling started. */
  seconds: number;
  /** Item writes the emulator has answered since sampling started: the rows pushed so far. */
  rowsPushed: number;
  rssMb: number;
  /** V8 heap in use, garbage included (no collection is forced: that would change what is measured). */
  heapUsedMb: number;
  /** V8 heap reserved: RSS minus this minus code is native memory (buffers, sockets, malloc). */
  heapTotalMb: number;
  /** Memory of C++ objects bound to JS objects, Buffers included. */
  externalMb: number;
}

export interface MemorySeries {
  /**
   * Stops sampling and returns the samples, the last one taken on stopping; throws the first sampling error.
   * Later calls return the same samples without sampling again.
   */
  stop(): Promise<MemorySample[]>;
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** Samples this process's memory and the emulator's write count every `intervalMs` until stopped. */
export async function startMemorySeries(
  emulator: EmulatorProcess,
  intervalMs: number,
): Promise<MemorySeries> {
  const started = performance.now();
  const writesBefore = itemWrites(await emulator.stats());
  const samples: MemorySample[] = [];
  let failure: unknown = null;
  let inFlight: Promise<void> = Promise.resolve();
  let stopped: Promise<MemorySample[]> | null = null;

  const sample = async () => {
    let stats: EmulatorStatsSnapshot;
    try {
      stats = await emulator.stats();
    } catch (err) {
      failure ??= err;
      return;
    }
    const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
    samples.push({
      seconds: Math.round((performance.now() - started) / 100) / 10,
      rowsPushed: itemWrites(stats) - writesBefore,
      rssMb: mb(rss),
      heapUsedMb: mb(heapUsed),
      heapTotalMb: mb(heapTotal),
      externalMb: mb(external),
    });
  };
  // One sample at a time: a slow answer from a busy emulator delays the next sample instead of stacking them.
  const timer = setInterval(() => {
    inFlight = inFlight.then(sample);
  }, intervalMs);
  inFlight = inFlight.then(sample);

  return {
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        inFlight = inFlight.then(sample);
        await inFlight;
        if (failure !== null) throw failure;
        return samples;
      })();
      return stopped;
    },
  };
}

/** Median RSS of the samples whose rows pushed fall in [from, to) of `rows`, MB; null when none do. */
export function medianRssBetween(
  samples: MemorySample[],
  rows: number,
  from: number,
  to: number,
): number | null {
  const inRange = samples
    .filter((s) => s.rowsPushed >= from * rows && s.rowsPushed < to * rows)
    .map((s) => s.rssMb)
    .sort((a, b) => a - b);
  if (inRange.length === 0) return null;
  const middle = Math.floor(inRange.length / 2);
  return inRange.length % 2 ? inRange[middle] : (inRange[middle - 1] + inRange[middle]) / 2;
}

/**
 * Least-squares slope of RSS over rows pushed, MB per 100,000 rows, from the samples past the first 10 % of
 * the rows (the first pages load code and fill pools: a one-off climb, not growth with rows). Null with fewer
 * than three such samples.
 */
export function rssSlopeMbPer100kRows(samples: MemorySample[], rows: number): number | null {
  const points = samples.filter((s) => s.rowsPushed >= 0.1 * rows);
  if (points.length < 3) return null;
  const meanX = points.reduce((sum, s) => sum + s.rowsPushed, 0) / points.length;
  const meanY = points.reduce((sum, s) => sum + s.rssMb, 0) / points.length;
  let covariance = 0;
  let variance = 0;
  for (const s of points) {
    covariance += (s.rowsPushed - meanX) * (s.rssMb - meanY);
    variance += (s.rowsPushed - meanX) ** 2;
  }
  return variance === 0 ? null : (covariance / variance) * 100_000;
}

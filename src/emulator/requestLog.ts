/** The request log and counters behind control.stats() and control.requestLog(). */
import type { EmulatorStats, RequestLogEntry } from './types';

/** Oldest entries are dropped beyond this many, or beyond REQUEST_LOG_CHAR_LIMIT, so a long benchmark cannot exhaust memory. */
export const REQUEST_LOG_LIMIT = 200_000;
/**
 * Characters of serialised entries kept: about 16 MB, some 30,000 batched writes with their bodies. V8 lets
 * its heap grow to a multiple of what stays live, so a large log costs several times its own size.
 */
export const REQUEST_LOG_CHAR_LIMIT = 16_000_000;

/** Half-millisecond buckets of EmulatorStats' batch times (the last one holds everything from 100 ms on). */
export const BATCH_WORK_BUCKETS = 201;

export class RequestRecorder {
  /** Each entry as its JSON text: a third of the memory of the parsed objects, parsed again when read. */
  private entries: string[] = [];
  private chars = 0;
  private readonly requestCounts = new Map<string, number>();
  throttled429 = 0;
  notificationsSent = 0;
  notificationsFailed = 0;
  private batchWork = emptyBuckets();
  private batchInEmulator = emptyBuckets();
  private batchLatencyLate = emptyBuckets();

  /**
   * One outer `$batch`'s times (EmulatorStats): `workMs` after its injected latency, `inEmulatorMs` from its arrival
   * to its answer, `latencyLateMs` how late the latency's timer fired (undefined without injected latency).
   */
  noteBatch(times: { workMs: number; inEmulatorMs: number; latencyLateMs?: number }): void {
    this.batchWork[bucketOf(times.workMs)]++;
    this.batchInEmulator[bucketOf(times.inEmulatorMs)]++;
    if (times.latencyLateMs !== undefined) this.batchLatencyLate[bucketOf(times.latencyLateMs)]++;
  }

  /**
   * `bodyText`, when given, is the JSON text `entry.body` was parsed from: kept as it is instead of serialised
   * again (a `$batch` body is its inner requests' bodies, which are logged on their own too).
   */
  record(entry: RequestLogEntry, routeKey: string, bodyText?: string): void {
    const key = `${routeKey} ${entry.status}`;
    this.requestCounts.set(key, (this.requestCounts.get(key) ?? 0) + 1);
    if (entry.status === 429) this.throttled429++;
    const text =
      bodyText === undefined || entry.body === undefined
        ? JSON.stringify(entry)
        : `${JSON.stringify({ ...entry, body: undefined }).slice(0, -1)},"body":${bodyText}}`;
    this.entries.push(text);
    this.chars += text.length;
    if (this.entries.length > REQUEST_LOG_LIMIT || this.chars > REQUEST_LOG_CHAR_LIMIT) this.trim();
  }

  /** Drops the oldest tenth (by count and by size): trimming in steps keeps recording amortised O(1). */
  private trim(): void {
    const keepCount = REQUEST_LOG_LIMIT - Math.ceil(REQUEST_LOG_LIMIT / 10);
    const keepChars = REQUEST_LOG_CHAR_LIMIT - Math.ceil(REQUEST_LOG_CHAR_LIMIT / 10);
    let drop = 0;
    while (drop < this.entries.length && (this.entries.length - drop > keepCount || this.chars > keepChars)) {
      this.chars -= this.entries[drop].length;
      drop++;
    }
    this.entries.splice(0, drop);
  }

  log(): RequestLogEntry[] {
    return this.entries.map((text) => JSON.parse(text) as RequestLogEntry);
  }

  clearLog(): void {
    this.entries = [];
    this.chars = 0;
  }

  stats(resourceUnits: number): EmulatorStats {
    return {
      requests: Object.fromEntries(this.requestCounts),
      resourceUnits,
      throttled429: this.throttled429,
      notificationsSent: this.notificationsSent,
      notificationsFailed: this.notificationsFailed,
      batchWorkMs: [...this.batchWork],
      batchInEmulatorMs: [...this.batchInEmulator],
      batchLatencyLateMs: [...this.batchLatencyLate],
    };
  }

  reset(): void {
    this.entries = [];
    this.chars = 0;
    this.requestCounts.clear();
    this.throttled429 = 0;
    this.notificationsSent = 0;
    this.notificationsFailed = 0;
    this.batchWork = emptyBuckets();
    this.batchInEmulator = emptyBuckets();
    this.batchLatencyLate = emptyBuckets();
  }
}

function emptyBuckets(): number[] {
  return new Array<number>(BATCH_WORK_BUCKETS).fill(0);
}

function bucketOf(ms: number): number {
  return Math.min(BATCH_WORK_BUCKETS - 1, Math.max(0, Math.floor(ms * 2)));
}

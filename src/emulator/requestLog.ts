/** The request log and counters behind control.stats() and control.requestLog(). */
import type { EmulatorStats, RequestLogEntry } from './types';

/** Oldest entries are dropped beyond this, so a long benchmark cannot exhaust memory. */
export const REQUEST_LOG_LIMIT = 200_000;

export class RequestRecorder {
  private entries: RequestLogEntry[] = [];
  private readonly requestCounts = new Map<string, number>();
  throttled429 = 0;
  notificationsSent = 0;
  notificationsFailed = 0;

  record(entry: RequestLogEntry, routeKey: string): void {
    const key = `${routeKey} ${entry.status}`;
    this.requestCounts.set(key, (this.requestCounts.get(key) ?? 0) + 1);
    if (entry.status === 429) this.throttled429++;
    this.entries.push(entry);
    // Trimming a tenth at a time keeps recording amortised O(1) once the log is full.
    if (this.entries.length > REQUEST_LOG_LIMIT) this.entries.splice(0, Math.ceil(REQUEST_LOG_LIMIT / 10));
  }

  log(): RequestLogEntry[] {
    return [...this.entries];
  }

  clearLog(): void {
    this.entries = [];
  }

  stats(resourceUnits: number): EmulatorStats {
    return {
      requests: Object.fromEntries(this.requestCounts),
      resourceUnits,
      throttled429: this.throttled429,
      notificationsSent: this.notificationsSent,
      notificationsFailed: this.notificationsFailed,
    };
  }

  reset(): void {
    this.entries = [];
    this.requestCounts.clear();
    this.throttled429 = 0;
    this.notificationsSent = 0;
    this.notificationsFailed = 0;
  }
}

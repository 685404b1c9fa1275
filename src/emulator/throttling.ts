/**
 * SharePoint's resource-unit budget: per identity, per sliding minute. Costs are charged whether or
 * not the call is throttled (throttled calls still count). From 80 % use, RateLimit-* headers appear;
 * beyond the budget the call gets 429 with Retry-After = seconds until enough budget frees up.
 */
import type { RuntimeSettings } from './context';
import type { HeaderMap } from './errors';

const WINDOW_MS = 60_000;
const SLOT_MS = 100;

interface Bucket {
  slot: number;
  cost: number;
}

/** Spending of one identity, in 100 ms slots, over the last minute. */
class SlidingWindow {
  private buckets: Bucket[] = [];
  private head = 0;
  total = 0;

  prune(now: number): void {
    const oldestLiveSlot = Math.floor((now - WINDOW_MS) / SLOT_MS) + 1;
    while (this.head < this.buckets.length && this.buckets[this.head].slot < oldestLiveSlot) {
      this.total -= this.buckets[this.head].cost;
      this.head++;
    }
    if (this.head > 512 && this.head * 2 > this.buckets.length) {
      this.buckets = this.buckets.slice(this.head);
      this.head = 0;
    }
  }

  add(now: number, cost: number): void {
    const slot = Math.floor(now / SLOT_MS);
    const last = this.buckets[this.buckets.length - 1];
    if (last && this.buckets.length > this.head && last.slot === slot) last.cost += cost;
    else this.buckets.push({ slot, cost });
    this.total += cost;
  }

  /** Seconds until spending has dropped far enough that `cost` more fits under `limit`. */
  secondsUntilFits(now: number, cost: number, limit: number): number {
    let remaining = this.total;
    for (let i = this.head; i < this.buckets.length; i++) {
      remaining -= this.buckets[i].cost;
      if (remaining + cost <= limit) {
        const freeAt = (this.buckets[i].slot + 1) * SLOT_MS + WINDOW_MS;
        return Math.max(1, Math.ceil((freeAt - now) / 1000));
      }
    }
    return Math.ceil(WINDOW_MS / 1000);
  }

  /** Seconds until the oldest spending in the window expires. */
  secondsUntilOldestExpires(now: number): number {
    const oldest = this.buckets[this.head];
    if (!oldest) return 0;
    return Math.max(1, Math.ceil(((oldest.slot + 1) * SLOT_MS + WINDOW_MS - now) / 1000));
  }
}

export interface ChargeResult {
  allowed: boolean;
  retryAfterSeconds: number;
  headers: HeaderMap;
}

export class ResourceUnitBudget {
  private readonly windows = new Map<string, SlidingWindow>();
  resourceUnitsCharged = 0;

  constructor(private readonly settings: RuntimeSettings) {}

  charge(identityName: string, cost: number, now = Date.now()): ChargeResult {
    if (cost === 0) return { allowed: true, retryAfterSeconds: 0, headers: {} };
    this.resourceUnitsCharged += cost;
    let window = this.windows.get(identityName);
    if (!window) {
      window = new SlidingWindow();
      this.windows.set(identityName, window);
    }
    window.prune(now);
    const limit = this.settings.resourceUnitsPerMinute;
    const fits = window.total + cost <= limit;
    window.add(now, cost);
    if (!this.settings.throttlingEnabled) return { allowed: true, retryAfterSeconds: 0, headers: {} };
    const headers: HeaderMap = {};
    if (window.total >= 0.8 * limit) {
      headers['RateLimit-Limit'] = String(limit);
      headers['RateLimit-Remaining'] = String(Math.max(0, limit - window.total));
      headers['RateLimit-Reset'] = String(window.secondsUntilOldestExpires(now));
    }
    if (fits) return { allowed: true, retryAfterSeconds: 0, headers };
    const retryAfterSeconds = window.secondsUntilFits(now, cost, limit);
    return {
      allowed: false,
      retryAfterSeconds,
      headers: { ...headers, 'Retry-After': String(retryAfterSeconds) },
    };
  }

  reset(): void {
    this.windows.clear();
    this.resourceUnitsCharged = 0;
  }
}

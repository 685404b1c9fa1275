/**
 * SharePoint's resource-unit budget: per identity, per sliding minute and per sliding 24 hours (the "Application
 * throttling" table of
 * https://learn.microsoft.com/en-us/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online:
 * 1,250 RU a minute and 1,200,000 a day for 0–1,000 licences, up to 6,250 and 6,000,000; the day is 960 minutes'
 * worth of the minute's limit in every tier). Costs are charged whether or not the call is throttled (throttled calls
 * still count). From 80 % use of the minute, RateLimit-* headers appear; beyond either budget the call gets 429 with
 * Retry-After = seconds until enough budget frees up in the window that refused it. The day's window can be shortened
 * (`dayWindowMs`) so tests can spend and recover a "day" in seconds.
 */
import type { RuntimeSettings } from './context';
import type { HeaderMap } from './errors';

const WINDOW_MS = 60_000;
const SLOT_MS = 100;
/** The documented daily limit of every tier is 960 times its minute limit. */
const DAY_PER_MINUTE_RATIO = 960;
export const DAY_WINDOW_MS = 24 * 60 * 60 * 1000;

interface Bucket {
  slot: number;
  cost: number;
}

/** Spending of one identity over the last `windowMs`, in slots of `slotMs` (100 ms for the minute). */
class SlidingWindow {
  private buckets: Bucket[] = [];
  private head = 0;
  total = 0;

  constructor(
    readonly windowMs: number = WINDOW_MS,
    private readonly slotMs: number = SLOT_MS,
  ) {}

  prune(now: number): void {
    const oldestLiveSlot = Math.floor((now - this.windowMs) / this.slotMs) + 1;
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
    const slot = Math.floor(now / this.slotMs);
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
        const freeAt = (this.buckets[i].slot + 1) * this.slotMs + this.windowMs;
        return Math.max(1, Math.ceil((freeAt - now) / 1000));
      }
    }
    return Math.ceil(this.windowMs / 1000);
  }

  /** Seconds until the oldest spending in the window expires. */
  secondsUntilOldestExpires(now: number): number {
    const oldest = this.buckets[this.head];
    if (!oldest) return 0;
    return Math.max(1, Math.ceil(((oldest.slot + 1) * this.slotMs + this.windowMs - now) / 1000));
  }
}

export interface ChargeResult {
  allowed: boolean;
  retryAfterSeconds: number;
  /** When refused: the budget that refused it. */
  exhausted?: 'minute' | 'day';
  headers: HeaderMap;
}

/** The daily limit the emulator enforces: the one set, or the documented one of the minute limit's tier. */
export function resourceUnitsPerDayOf(
  settings: Pick<RuntimeSettings, 'resourceUnitsPerMinute' | 'resourceUnitsPerDay'>,
): number {
  return settings.resourceUnitsPerDay ?? settings.resourceUnitsPerMinute * DAY_PER_MINUTE_RATIO;
}

export class ResourceUnitBudget {
  private readonly windows = new Map<string, SlidingWindow>();
  private readonly days = new Map<string, SlidingWindow>();
  resourceUnitsCharged = 0;

  constructor(
    private readonly settings: RuntimeSettings,
    private readonly clock: () => number = Date.now,
  ) {}

  charge(identityName: string, cost: number, now = this.clock()): ChargeResult {
    if (cost === 0) return { allowed: true, retryAfterSeconds: 0, headers: {} };
    this.resourceUnitsCharged += cost;
    let window = this.windows.get(identityName);
    if (!window) {
      window = new SlidingWindow();
      this.windows.set(identityName, window);
    }
    const dayWindowMs = this.settings.dayWindowMs ?? DAY_WINDOW_MS;
    let day = this.days.get(identityName);
    if (!day || day.windowMs !== dayWindowMs) {
      // 1,440 slots per window: a minute each for a real day.
      day = new SlidingWindow(dayWindowMs, Math.max(SLOT_MS, Math.floor(dayWindowMs / 1440)));
      this.days.set(identityName, day);
    }
    window.prune(now);
    day.prune(now);
    const limit = this.settings.resourceUnitsPerMinute;
    const dayLimit = resourceUnitsPerDayOf(this.settings);
    const fits = window.total + cost <= limit;
    const fitsDay = day.total + cost <= dayLimit;
    window.add(now, cost);
    day.add(now, cost);
    if (!this.settings.throttlingEnabled) return { allowed: true, retryAfterSeconds: 0, headers: {} };
    const headers: HeaderMap = {};
    if (window.total >= 0.8 * limit) {
      headers['RateLimit-Limit'] = String(limit);
      headers['RateLimit-Remaining'] = String(Math.max(0, limit - window.total));
      headers['RateLimit-Reset'] = String(window.secondsUntilOldestExpires(now));
    }
    if (fits && fitsDay) return { allowed: true, retryAfterSeconds: 0, headers };
    const retryAfterSeconds = Math.max(
      fits ? 0 : window.secondsUntilFits(now, cost, limit),
      fitsDay ? 0 : day.secondsUntilFits(now, cost, dayLimit),
    );
    return {
      allowed: false,
      retryAfterSeconds,
      exhausted: fitsDay ? 'minute' : 'day',
      headers: { ...headers, 'Retry-After': String(retryAfterSeconds) },
    };
  }

  reset(): void {
    this.windows.clear();
    this.days.clear();
    this.resourceUnitsCharged = 0;
  }
}

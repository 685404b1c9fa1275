/**
 * Resource-unit pacing (sync-model I10). SharePoint budgets resource units per app per minute; a client
 * that bursts into the limit gets 429s and loses minutes. We pace ourselves below the budget instead.
 */

const WINDOW_MS = 60_000;
/** The server stamps a request when it arrives, a little after we do: keep our window a bit longer. */
const WINDOW_MARGIN_MS = 1_000;

/** Largest single request we send: a `$batch` of 20 writes at 2 RU each. */
const LARGEST_REQUEST_UNITS = 40;

/** Below this share of the server's per-minute limit left, hold requests until the server's window resets. */
const LOW_REMAINING_SHARE = 0.1;

export type Sleep = (ms: number) => Promise<void>;
export const sleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * Resource units a single (non-batch) request costs, per graph.md: 1 for a single-object read and delta
 * with a token, 2 for multi-item queries, delta without a token and every write; 0 for subscriptions.
 */
export function resourceUnitsFor(method: string, url: string): number {
  const { pathname, searchParams } = new URL(url, 'https://graph.invalid');
  // Subscriptions are Graph objects, not SharePoint ones: they spend no SharePoint resource units.
  if (/\/subscriptions(\/|$)/i.test(pathname)) return 0;
  if (method.toUpperCase() !== 'GET') return 2;
  if (/\/delta$/i.test(pathname)) return searchParams.has('token') ? 1 : 2;
  const lastSegment = pathname.split('/').filter(Boolean).pop() ?? '';
  return ['items', 'lists', 'columns', 'subscriptions', 'sites'].includes(lastSegment) ? 2 : 1;
}

export interface WaitBreakdown {
  /** Time spent waiting for our own budget. */
  paceMs: number;
  /** Time spent waiting because the server said so (RateLimit-Remaining low). */
  serverHoldMs: number;
}

/**
 * A budget of resource units per minute, shared by every request of one app in this process.
 *
 * Two rules, both must allow a request: a token bucket refilled at `unitsPerMinute / 60` per second
 * (spreads the work evenly instead of spending the minute's budget in the first second) and a sliding
 * 60-second window that never holds more than `unitsPerMinute` (what the server counts). The window
 * alone would allow a full minute's budget as one burst; the bucket alone would allow the burst
 * allowance on top of a minute's refill. Reservations are served in arrival order.
 */
export class ResourceBudget {
  private readonly spent: { at: number; units: number }[] = [];
  private tokens: number;
  private lastRefill: number;
  private queue: Promise<unknown> = Promise.resolve();
  private serverHoldUntil = 0;

  constructor(
    private unitsPerMinute: number,
    private readonly clock: () => number = Date.now,
    private readonly wait: Sleep = sleep,
  ) {
    this.tokens = this.burstCapacity();
    this.lastRefill = clock();
  }

  get limit(): number {
    return this.unitsPerMinute;
  }

  setLimit(unitsPerMinute: number): void {
    this.unitsPerMinute = unitsPerMinute;
    this.tokens = Math.min(this.tokens, this.burstCapacity());
  }

  /** Waits until `units` may be spent, records them, and reports how long it waited and why. */
  reserve(units: number): Promise<WaitBreakdown> {
    const next = this.queue.then(() => this.reserveNow(units));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * The server's view of the budget (`RateLimit-*` headers, sent from 80% use). Trust it over our own
   * estimate: drain our bucket to what is left, and hold everything until its reset when little is left.
   */
  noteServerRemaining(limit: number, remaining: number, resetSeconds: number): void {
    this.tokens = Math.min(this.tokens, Math.max(0, remaining));
    if (remaining <= Math.max(1, limit * LOW_REMAINING_SHARE)) {
      this.serverHoldUntil = Math.max(this.serverHoldUntil, this.clock() + resetSeconds * 1000);
    }
  }

  private burstCapacity(): number {
    if (this.unitsPerMinute <= 0) return 0;
    return Math.min(this.unitsPerMinute, Math.max(this.unitsPerMinute / 12, LARGEST_REQUEST_UNITS));
  }

  private async reserveNow(requested: number): Promise<WaitBreakdown> {
    const waited: WaitBreakdown = { paceMs: 0, serverHoldMs: 0 };
    for (;;) {
      const now = this.clock();
      const holdMs = this.serverHoldUntil - now;
      if (this.unitsPerMinute <= 0) {
        if (holdMs <= 0) return waited;
        await this.wait(holdMs);
        waited.serverHoldMs += holdMs;
        continue;
      }
      // A request larger than the whole budget could never pass: account it as the whole budget.
      const units = Math.min(requested, this.burstCapacity());
      this.refill(now);
      while (this.spent.length > 0 && this.spent[0].at <= now - WINDOW_MS - WINDOW_MARGIN_MS)
        this.spent.shift();
      const paceMs = Math.max(this.bucketWait(units), this.windowWait(units, now));
      if (holdMs <= 0 && paceMs <= 0) {
        this.tokens -= units;
        this.spent.push({ at: now, units });
        return waited;
      }
      if (holdMs >= paceMs) {
        await this.wait(holdMs);
        waited.serverHoldMs += holdMs;
      } else {
        const step = Math.ceil(paceMs);
        await this.wait(step);
        waited.paceMs += step;
      }
    }
  }

  private refill(now: number): void {
    const perMs = this.unitsPerMinute / WINDOW_MS;
    this.tokens = Math.min(this.burstCapacity(), this.tokens + (now - this.lastRefill) * perMs);
    this.lastRefill = now;
  }

  private bucketWait(units: number): number {
    if (this.tokens >= units) return 0;
    return (units - this.tokens) / (this.unitsPerMinute / WINDOW_MS);
  }

  private windowWait(units: number, now: number): number {
    let inWindow = this.spent.reduce((sum, entry) => sum + entry.units, 0);
    if (inWindow + units <= this.unitsPerMinute) return 0;
    for (const entry of this.spent) {
      inWindow -= entry.units;
      if (inWindow + units <= this.unitsPerMinute) return entry.at + WINDOW_MS + WINDOW_MARGIN_MS - now + 1;
    }
    return WINDOW_MS;
  }
}

/** Throttle state every client of one app (app key) in this process shares. */
export interface AppThrottleState {
  budget: ResourceBudget;
  /** Epoch ms until which a 429 holds every request of the app. */
  blockedUntil: number;
}

const appStates = new Map<string, AppThrottleState>();

/** The process-wide throttle state of an app: workers in one process share its budget and 429 blocks. */
export function appThrottleState(appKey: string, unitsPerMinute: number): AppThrottleState {
  let state = appStates.get(appKey);
  if (!state) {
    state = { budget: new ResourceBudget(unitsPerMinute), blockedUntil: 0 };
    appStates.set(appKey, state);
  } else if (state.budget.limit !== unitsPerMinute) {
    state.budget.setLimit(unitsPerMinute);
  }
  return state;
}

/** `Retry-After` in milliseconds: delta seconds or an HTTP date (graph.md "Throttling"). */
export function parseRetryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Capped exponential back-off with jitter ("equal jitter": half fixed, half random). */
export function backoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

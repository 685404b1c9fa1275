/**
 * Resource-unit pacing (sync-model I10, I16). SharePoint budgets resource units per app per minute and per 24 hours
 * (budget/shape.ts); a client
 * that bursts into the limit gets 429s and loses minutes. We pace ourselves below the budget instead: with a
 * budget store (the metadata database) every process of the app draws from one shared bucket; without one
 * (a transport used on its own) the process paces to the whole budget by itself.
 */
import { RunTimeBudgetError } from '../../budget/errors';
import type { BudgetStore } from '../../budget/pgBudgetStore';
import { budgetShape, dayShape, defaultUnitsPerDay, LEASE_MS, type BudgetClass } from '../../budget/shape';
import type { PacingClock } from './options';

const WINDOW_MS = 60_000;
/** What a day-level wait is taken to be when the day's budget never refills (GRAPH_RU_PER_DAY under the burst). */
const DAY_WAIT_MS = 24 * 60 * 60 * 1000;
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
  // A write whose URL cannot name a subscription costs 2 without parsing the URL (every `$batch`).
  if (method.toUpperCase() !== 'GET' && !url.toLowerCase().includes('subscriptions')) return 2;
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
  /** Part of `paceMs` spent waiting for the day's budget rather than the minute's. */
  dailyMs: number;
}

/** The app's two budgets (GRAPH_RU_PER_MINUTE, GRAPH_RU_PER_DAY). */
export interface BudgetLimits {
  unitsPerMinute: number;
  unitsPerDay: number;
}

/** The limits for a minute budget, and a daily one when set (the tier's documented one when not). */
export function budgetLimits(unitsPerMinute: number, unitsPerDay?: number): BudgetLimits {
  return { unitsPerMinute, unitsPerDay: unitsPerDay ?? defaultUnitsPerDay(unitsPerMinute) };
}

/**
 * A wait for the day's budget that would end after the run's deadline stops the run before sending (I16), as a 429
 * block does: at the day's refill rate one batch can take many minutes.
 */
function dailyStop(now: number, waitMs: number, unitsPerDay: number, deadline?: number): void {
  if (deadline === undefined || now + waitMs <= deadline) return;
  throw new RunTimeBudgetError(
    now + waitMs,
    `The app's daily resource-unit budget (GRAPH_RU_PER_DAY ${unitsPerDay}) is spent for now and refills at ` +
      `about ${Math.round(unitsPerDay / 1440)} RU/min`,
  );
}

/**
 * A wait for the minute's budget that would end after the run's deadline stops the run before sending (I16), as the
 * day's does: a run under a busy shared budget would otherwise wait past the time it was given (its function's
 * timeout may then end it mid-write), step after step.
 */
function minuteStop(now: number, waitMs: number, unitsPerMinute: number, deadline?: number): void {
  if (deadline === undefined || now + waitMs <= deadline) return;
  throw new RunTimeBudgetError(
    now + waitMs,
    `Pacing to the app's resource-unit budget (GRAPH_RU_PER_MINUTE ${unitsPerMinute}) needs a wait of ` +
      `${Math.ceil(waitMs / 1000)} s`,
  );
}

/** Paces requests to a resource-unit budget; `reserve` resolves when `units` may be spent. */
export interface Pacer {
  readonly limit: number;
  readonly limits: BudgetLimits;
  setLimits(limits: BudgetLimits): void;
  /**
   * Resolves when `units` may be spent. A wait for the minute's or the day's budget that would end after `deadline`
   * (epoch ms) throws RunTimeBudgetError instead.
   */
  reserve(units: number, budgetClass?: BudgetClass, deadline?: number): Promise<WaitBreakdown>;
  noteServerRemaining(limit: number, remaining: number, resetSeconds: number): void;
}

/**
 * A budget of resource units per minute and per day, shared by every request of one app in this process.
 *
 * Three rules, all must allow a request: the day's token bucket (budget/shape.ts `dayShape`), and a token bucket refilled at `unitsPerMinute / 60` per second
 * (spreads the work evenly instead of spending the minute's budget in the first second) and a sliding
 * 60-second window that never holds more than `unitsPerMinute` (what the server counts). The window
 * alone would allow a full minute's budget as one burst; the bucket alone would allow the burst
 * allowance on top of a minute's refill. Reservations are served in arrival order.
 */
export class ResourceBudget implements Pacer {
  private readonly spent: { at: number; units: number }[] = [];
  private tokens: number;
  private lastRefill: number;
  private queue: Promise<unknown> = Promise.resolve();
  private serverHoldUntil = 0;
  private unitsPerDay: number;
  private dayTokens: number;

  constructor(
    private unitsPerMinute: number,
    private readonly clock: () => number = Date.now,
    private readonly wait: Sleep = sleep,
    unitsPerDay: number = defaultUnitsPerDay(unitsPerMinute),
  ) {
    this.tokens = this.burstCapacity();
    this.unitsPerDay = unitsPerDay;
    this.dayTokens = dayShape(unitsPerDay).capacity;
    this.lastRefill = clock();
  }

  get limit(): number {
    return this.unitsPerMinute;
  }

  get limits(): BudgetLimits {
    return { unitsPerMinute: this.unitsPerMinute, unitsPerDay: this.unitsPerDay };
  }

  setLimits(limits: BudgetLimits): void {
    this.unitsPerMinute = limits.unitsPerMinute;
    this.tokens = Math.min(this.tokens, this.burstCapacity());
    this.unitsPerDay = limits.unitsPerDay;
    this.dayTokens = Math.min(this.dayTokens, dayShape(this.unitsPerDay).capacity);
  }

  /** Waits until `units` may be spent, records them, and reports how long it waited and why. */
  reserve(units: number, _budgetClass?: BudgetClass, deadline?: number): Promise<WaitBreakdown> {
    const next = this.queue.then(() => this.reserveNow(units, deadline));
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

  private async reserveNow(requested: number, deadline?: number): Promise<WaitBreakdown> {
    const waited: WaitBreakdown = { paceMs: 0, serverHoldMs: 0, dailyMs: 0 };
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
      const day = dayShape(this.unitsPerDay);
      const units = Math.min(requested, this.burstCapacity(), day.capacity);
      this.refill(now);
      while (this.spent.length > 0 && this.spent[0].at <= now - WINDOW_MS - WINDOW_MARGIN_MS)
        this.spent.shift();
      const minuteMs = Math.max(this.bucketWait(units), this.windowWait(units, now));
      const dayMs =
        this.dayTokens >= units
          ? 0
          : day.ratePerMs > 0
            ? (units - this.dayTokens) / day.ratePerMs
            : DAY_WAIT_MS;
      const paceMs = Math.max(minuteMs, dayMs);
      if (holdMs <= 0 && paceMs <= 0) {
        this.tokens -= units;
        this.dayTokens -= units;
        this.spent.push({ at: now, units });
        return waited;
      }
      if (holdMs >= paceMs) {
        await this.wait(holdMs);
        waited.serverHoldMs += holdMs;
      } else {
        const step = Math.ceil(paceMs);
        if (dayMs > minuteMs) {
          dailyStop(now, step, this.unitsPerDay, deadline);
          waited.dailyMs += step;
        } else minuteStop(now, step, this.unitsPerMinute, deadline);
        await this.wait(step);
        waited.paceMs += step;
      }
    }
  }

  private refill(now: number): void {
    const perMs = this.unitsPerMinute / WINDOW_MS;
    this.tokens = Math.min(this.burstCapacity(), this.tokens + (now - this.lastRefill) * perMs);
    const day = dayShape(this.unitsPerDay);
    this.dayTokens = Math.min(day.capacity, this.dayTokens + (now - this.lastRefill) * day.ratePerMs);
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

/**
 * The app's budget shared through a BudgetStore by every process and instance (I16). The per-process
 * fast path: a reservation takes a chunk (a quarter second of refill at most) when the bucket has it, and
 * the process spends it locally for up to LEASE_MS; what it has not spent by then is dropped, so a
 * process never spends tokens the shared bucket accounted for outside the window it was shaped for.
 * Reservations of one process are served one at a time, in arrival order: one statement in flight per
 * process. The server's own RateLimit view still holds this process's requests, as in ResourceBudget.
 */
export class SharedResourceBudget implements Pacer {
  private queue: Promise<unknown> = Promise.resolve();
  private leased = 0;
  private leaseEnds = 0;
  private serverHoldUntil = 0;
  private unitsPerDay: number;

  constructor(
    readonly store: BudgetStore,
    private readonly appKey: string,
    private unitsPerMinute: number,
    private readonly clock: () => number = Date.now,
    private readonly wait: Sleep = sleep,
    unitsPerDay: number = defaultUnitsPerDay(unitsPerMinute),
  ) {
    this.unitsPerDay = unitsPerDay;
  }

  get limit(): number {
    return this.unitsPerMinute;
  }

  get limits(): BudgetLimits {
    return { unitsPerMinute: this.unitsPerMinute, unitsPerDay: this.unitsPerDay };
  }

  setLimits(limits: BudgetLimits): void {
    this.unitsPerMinute = limits.unitsPerMinute;
    this.unitsPerDay = limits.unitsPerDay;
  }

  reserve(units: number, budgetClass: BudgetClass = 'priority', deadline?: number): Promise<WaitBreakdown> {
    const next = this.queue.then(() => this.reserveNow(units, budgetClass, deadline));
    this.queue = next.catch(() => undefined);
    return next;
  }

  noteServerRemaining(limit: number, remaining: number, resetSeconds: number): void {
    if (remaining <= Math.max(1, limit * LOW_REMAINING_SHARE)) {
      this.leased = 0;
      this.serverHoldUntil = Math.max(this.serverHoldUntil, this.clock() + resetSeconds * 1000);
    }
  }

  private async reserveNow(
    units: number,
    budgetClass: BudgetClass,
    deadline?: number,
  ): Promise<WaitBreakdown> {
    const waited: WaitBreakdown = { paceMs: 0, serverHoldMs: 0, dailyMs: 0 };
    for (;;) {
      const holdMs = this.serverHoldUntil - this.clock();
      if (holdMs > 0) {
        await this.wait(holdMs);
        waited.serverHoldMs += holdMs;
        continue;
      }
      if (this.unitsPerMinute <= 0 || units <= 0) return waited;
      const shape = budgetShape(this.unitsPerMinute, this.unitsPerDay);
      const needed = Math.min(units, shape.capacity, shape.day.capacity);
      if (this.clock() >= this.leaseEnds) this.leased = 0;
      if (this.leased >= needed) {
        this.leased -= needed;
        return waited;
      }
      const answer = await this.store.reserve({
        appKey: this.appKey,
        unitsPerMinute: this.unitsPerMinute,
        unitsPerDay: this.unitsPerDay,
        units: needed,
        chunk: Math.max(needed, shape.chunk),
        budgetClass,
      });
      if (answer.granted > 0) {
        this.leased = answer.granted - needed;
        this.leaseEnds = this.clock() + LEASE_MS;
        return waited;
      }
      const step = Math.max(1, Math.ceil(answer.waitMs));
      if (answer.limitedBy === 'day') {
        dailyStop(this.clock(), step, this.unitsPerDay, deadline);
        waited.dailyMs += step;
      } else minuteStop(this.clock(), step, this.unitsPerMinute, deadline);
      await this.wait(step);
      waited.paceMs += step;
    }
  }
}

/** Throttle state every client of one app (app key) in this process shares. */
export interface AppThrottleState {
  budget: Pacer;
  /** Epoch ms until which a 429 holds every request of the app. */
  blockedUntil: number;
  /** The clock the budget reads (the wall clock but in tests): one per app key. */
  clock: PacingClock;
}

const appStates = new Map<string, AppThrottleState>();

const WALL_CLOCK: PacingClock = { now: Date.now, sleep };

/**
 * The process-wide throttle state of an app: workers in one process share its budget and 429 blocks.
 * With a budget store the budget is the shared one (I16); without, this process paces on its own.
 */
export function appThrottleState(
  appKey: string,
  limits: BudgetLimits,
  store?: BudgetStore,
  clock: PacingClock = WALL_CLOCK,
): AppThrottleState {
  const { unitsPerMinute, unitsPerDay } = limits;
  // A simulated clock moves only in its own waits: the shared bucket refills on the database's clock, so waiting
  // for it on a simulated one would spin on the store (and report waits never made).
  if (clock !== WALL_CLOCK && store)
    throw new Error('a simulated pacing clock cannot pace on the shared budget store: use one or the other');
  let state = appStates.get(appKey);
  if (state && state.clock !== clock)
    throw new Error(`app key ${appKey} already paces on another clock: give each clock its own app key`);
  if (!state) {
    const budget = store
      ? new SharedResourceBudget(store, appKey, unitsPerMinute, clock.now, clock.sleep, unitsPerDay)
      : new ResourceBudget(unitsPerMinute, clock.now, clock.sleep, unitsPerDay);
    state = { budget, blockedUntil: 0, clock };
    appStates.set(appKey, state);
    return state;
  }
  if (store && !(state.budget instanceof SharedResourceBudget && state.budget.store === store)) {
    state.budget = new SharedResourceBudget(
      store,
      appKey,
      unitsPerMinute,
      clock.now,
      clock.sleep,
      unitsPerDay,
    );
  } else if (state.budget.limit !== unitsPerMinute || state.budget.limits.unitsPerDay !== unitsPerDay) {
    state.budget.setLimits(limits);
  }
  return state;
}

/** `Retry-After` in milliseconds: delta seconds or an HTTP date (graph.md "Throttling"). */
export function parseRetryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  // The header sent twice reads joined ("5, 10", as Headers combines them): the first value, as seconds. An
  // HTTP date has a comma too ("Wed, 21 Oct …"), but not after digits.
  const repeated = /^\s*(\d+(?:\.\d+)?)\s*,/.exec(value);
  if (repeated) return Number(repeated[1]) * 1000;
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

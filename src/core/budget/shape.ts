/**
 * The shape of the shared resource-unit bucket (I16), derived from the budget alone so that every process
 * computes the same one.
 *
 * SharePoint counts resource units per app over a sliding minute. A token bucket of capacity C refilled at
 * rate r grants at most C + r·T over any span T. Tokens are granted a little before the server counts them
 * (a lease held locally for up to LEASE_MS, time in flight), so the span is the minute plus those margins:
 * r = (B − C) / (60 s + margins) keeps every sliding minute at or under B.
 *
 * Fairness: bulk work (a push past its first PRIORITY_UNITS, i.e. a first load) may take tokens only while
 * RESERVE units stay in the bucket; pulls and small pushes may take every token. So whenever a pull or a
 * small push arrives, a reserve is there at once, and while it keeps asking it is served first at each
 * refill; a large load alone still gets the whole rate.
 *
 * The day: SharePoint also limits each app per 24 hours, at 960 minutes' worth of its per-minute limit (1,200,000
 * RU a day for 1,250 a minute, up to 6,000,000 for 6,250: the "Application throttling" table of
 * https://learn.microsoft.com/en-us/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online,
 * graph.md "Throttling"). A minute budget spent every minute is 1,440 minutes' worth, 1.5 times the day's. So the
 * bucket has a second level: capacity D/24 (an hour's share, so a short burst of work is not slowed) refilled at
 * (D − capacity) / (24 h + margins), which keeps every sliding 24 hours at or under D. A reservation needs both
 * levels. A long first load therefore runs at the minute's pace for about an hour, then at the day's (two thirds
 * of the minute's), and never meets the daily limit; bulk work leaves a small reserve of the day for pulls too.
 */

export const WINDOW_MS = 60_000;
/** SharePoint's second window: 24 hours. */
export const DAY_MS = 24 * 60 * 60 * 1000;
/** The documented daily limit of every licence tier is 960 times its per-minute limit (see above). */
export const DAY_PER_MINUTE_RATIO = 960;
/** The server stamps a request when it arrives, a little after we were granted it (the grant is taken
 * inside the request's concurrency slot, right before sending). */
export const ARRIVAL_MARGIN_MS = 250;
/** Tokens a process took in a chunk and did not spend within this time are dropped, never carried. */
export const LEASE_MS = 250;
/** Largest single request we send: a `$batch` of 20 writes at 2 RU each. */
export const LARGEST_REQUEST_UNITS = 40;
/** A push draws as bulk once it has spent this many units (500 writes): small pushes stay ahead. */
export const PRIORITY_UNITS = 1_000;
/** Chunks a process takes at once are at most this much of the refill, so sharing stays fine-grained. */
const CHUNK_REFILL_MS = 250;

export type BudgetClass = 'priority' | 'bulk';

export interface BudgetShape {
  unitsPerMinute: number;
  /** Bucket capacity (the largest burst). */
  capacity: number;
  /** Units bulk work must leave in the bucket. */
  reserve: number;
  /** Refill in units per millisecond. */
  ratePerMs: number;
  /** Units a process asks for at once, when available (the rest is its local fast path). */
  chunk: number;
  /** The 24-hour level: the same fields for the daily budget. */
  day: DayShape;
}

export interface DayShape {
  unitsPerDay: number;
  capacity: number;
  reserve: number;
  ratePerMs: number;
}

/** GRAPH_RU_PER_DAY when unset: the documented daily limit of the tier whose minute limit is `unitsPerMinute`. */
export function defaultUnitsPerDay(unitsPerMinute: number): number {
  return unitsPerMinute * DAY_PER_MINUTE_RATIO;
}

export function dayShape(unitsPerDay: number): DayShape {
  const capacity = Math.min(unitsPerDay, Math.max(unitsPerDay / 24, LARGEST_REQUEST_UNITS + 10));
  const reserve = Math.min(Math.max(10, Math.round(capacity / 100)), capacity / 2);
  const ratePerMs = Math.max(0, unitsPerDay - capacity) / (DAY_MS + ARRIVAL_MARGIN_MS + LEASE_MS);
  return { unitsPerDay, capacity, reserve, ratePerMs };
}

/** The most the bucket can grant over any span of `spanMs`: both levels full at its start, then their refill. */
export function mostGrantedIn(shape: BudgetShape, spanMs: number): number {
  return Math.min(
    shape.capacity + shape.ratePerMs * spanMs,
    shape.day.capacity + shape.day.ratePerMs * spanMs,
  );
}

export function budgetShape(
  unitsPerMinute: number,
  unitsPerDay: number = defaultUnitsPerDay(unitsPerMinute),
): BudgetShape {
  const reserve = Math.max(10, Math.round(unitsPerMinute / 125));
  const capacity = Math.min(unitsPerMinute, Math.max(LARGEST_REQUEST_UNITS + reserve, unitsPerMinute / 25));
  const refillable = Math.max(unitsPerMinute - capacity, unitsPerMinute / 2);
  const ratePerMs = refillable / (WINDOW_MS + ARRIVAL_MARGIN_MS + LEASE_MS);
  const day = dayShape(unitsPerDay);
  // A chunk not spent within its lease is dropped: at most a quarter second of either level's refill, so what is
  // dropped is soon refilled (the day's too: at the documented tiers a chunk is a few units either way).
  const chunk = Math.max(
    1,
    Math.min(
      capacity - Math.min(reserve, capacity / 2),
      ratePerMs * CHUNK_REFILL_MS,
      day.ratePerMs * CHUNK_REFILL_MS,
    ),
  );
  return { unitsPerMinute, capacity, reserve: Math.min(reserve, capacity / 2), ratePerMs, chunk, day };
}

/** Bulk or priority: pulls are always priority; a push becomes bulk once it spent PRIORITY_UNITS. */
export function budgetClassOf(runKind: 'push' | 'pull' | 'other', unitsSpent: number): BudgetClass {
  if (runKind === 'push' && unitsSpent >= PRIORITY_UNITS) return 'bulk';
  return 'priority';
}

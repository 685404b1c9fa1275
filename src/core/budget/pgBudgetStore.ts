import type { Pool } from 'pg';
import { budgetShape, DAY_MS, dayShape, LARGEST_REQUEST_UNITS, type BudgetClass } from './shape';

export interface ReserveRequest {
  appKey: string;
  unitsPerMinute: number;
  /** The app's daily budget (GRAPH_RU_PER_DAY); by default the documented one of its minute budget's tier. */
  unitsPerDay?: number;
  /** Units the next request needs: granted in full or not at all. */
  units: number;
  /** Units wanted when available (a local chunk); at least `units`. */
  chunk: number;
  budgetClass: BudgetClass;
}

export interface ReserveAnswer {
  /** 0 (wait and ask again), `units`, or `chunk`. */
  granted: number;
  /** When nothing was granted: how long until `units` will have refilled. */
  waitMs: number;
  /** When nothing was granted: which level is short for longest, the minute's or the day's. */
  limitedBy?: 'minute' | 'day';
}

/** Where the shared bucket lives: the metadata database here; tests may use another implementation. */
export interface BudgetStore {
  reserve(request: ReserveRequest): Promise<ReserveAnswer>;
}

/**
 * The shared bucket in `arcore.graph_budget`: one atomic UPDATE … RETURNING per reservation (the row lock
 * serialises concurrent reservations of one app; nobody holds it between statements), so a process that
 * dies holding tokens blocks nobody. The refill is computed from the time since the last reservation.
 */
export class PgBudgetStore implements BudgetStore {
  private readonly known = new Set<string>();
  /** Statements sent, for the benchmark's coordination cost. */
  queries = 0;

  constructor(private readonly pool: Pool) {}

  async reserve(request: ReserveRequest): Promise<ReserveAnswer> {
    const shape = budgetShape(request.unitsPerMinute, request.unitsPerDay);
    const day = shape.day;
    if (!this.known.has(request.appKey)) {
      this.queries += 1;
      await this.pool.query(
        `INSERT INTO arcore.graph_budget (app_key, units_per_minute, tokens) VALUES ($1, $2, $3)
         ON CONFLICT (app_key) DO NOTHING`,
        [request.appKey, request.unitsPerMinute, shape.capacity],
      );
      this.known.add(request.appKey);
    }
    const units = Math.min(request.units, shape.capacity, day.capacity);
    const chunk = Math.max(units, Math.min(request.chunk, shape.capacity, day.capacity));
    const bulk = request.budgetClass === 'bulk';
    const floor = bulk ? shape.reserve : 0;
    const dayFloor = bulk ? day.reserve : 0;
    this.queries += 1;
    // Both levels refill from the same instant, read under the row lock; a reservation is granted only when both
    // hold it (the minute's above its floor, the day's above its own).
    const { rows } = await this.pool.query<{ granted: number; level: number; day_level: number }>(
      `WITH cur AS (
         SELECT app_key, clock_timestamp() AS at,
                LEAST($3::float8, tokens + GREATEST(0, extract(epoch FROM clock_timestamp() - refilled_at) * 1000)
                                           * $4::float8) AS level,
                LEAST($9::float8, COALESCE(day_tokens, $9::float8)
                                  + GREATEST(0, extract(epoch FROM clock_timestamp() - refilled_at) * 1000)
                                    * $10::float8) AS day_level
           FROM arcore.graph_budget WHERE app_key = $1 FOR UPDATE
       ), pick AS (
         SELECT app_key, at, level, day_level,
                CASE WHEN level - $5::float8 >= $7::float8 AND day_level - $11::float8 >= $7::float8 THEN $7::float8
                     WHEN level - $5::float8 >= $6::float8 AND day_level - $11::float8 >= $6::float8 THEN $6::float8
                     ELSE 0 END AS granted
           FROM cur
       )
       UPDATE arcore.graph_budget b
          SET tokens = pick.level - pick.granted,
              day_tokens = pick.day_level - pick.granted,
              refilled_at = pick.at,
              units_per_minute = $2,
              units_per_day = $8,
              day_units = CASE WHEN date_trunc('day', pick.at) = b.day_start THEN b.day_units + ceil(pick.granted)::bigint
                               ELSE ceil(pick.granted)::bigint END,
              day_start = date_trunc('day', pick.at),
              day_refusals = b.day_refusals + (pick.granted = 0 AND pick.day_level - $11::float8 < $6::float8)::int,
              prev_minute_units = CASE
                WHEN date_trunc('minute', pick.at) = b.minute_start THEN b.prev_minute_units
                WHEN date_trunc('minute', pick.at) = b.minute_start + interval '1 minute' THEN b.minute_units
                ELSE 0 END,
              minute_units = CASE WHEN date_trunc('minute', pick.at) = b.minute_start
                                  THEN b.minute_units + ceil(pick.granted)::bigint
                                  ELSE ceil(pick.granted)::bigint END,
              minute_start = date_trunc('minute', pick.at),
              granted_units = b.granted_units + ceil(pick.granted)::bigint,
              reservations = b.reservations + 1,
              refusals = b.refusals + (pick.granted = 0)::int,
              updated_at = pick.at
         FROM pick
        WHERE b.app_key = pick.app_key
       RETURNING pick.granted::float8 AS granted, pick.level::float8 AS level, pick.day_level::float8 AS day_level`,
      [
        request.appKey,
        request.unitsPerMinute,
        shape.capacity,
        shape.ratePerMs,
        floor,
        units,
        chunk,
        day.unitsPerDay,
        day.capacity,
        day.ratePerMs,
        dayFloor,
      ],
    );
    if (rows.length === 0) {
      // The row was removed under us (a reset): create it again on the next call.
      this.known.delete(request.appKey);
      return { granted: 0, waitMs: 0 };
    }
    const granted = Number(rows[0].granted);
    if (granted > 0) return { granted, waitMs: 0 };
    const minuteMs = Math.max(0, floor + units - Number(rows[0].level)) / shape.ratePerMs;
    const dayMissing = Math.max(0, dayFloor + units - Number(rows[0].day_level));
    const dayMs = dayMissing === 0 ? 0 : day.ratePerMs > 0 ? dayMissing / day.ratePerMs : DAY_MS;
    return {
      granted: 0,
      waitMs: Math.max(1, Math.ceil(Math.max(minuteMs, dayMs))),
      limitedBy: dayMs > minuteMs ? 'day' : 'minute',
    };
  }
}

/** What `status` and telemetry show of the shared budget and the shared 429 block of each app. */
export interface BudgetStatus {
  appKey: string;
  unitsPerMinute: number;
  /** Units granted in the current and the previous calendar minute. */
  usedThisMinute: number;
  usedLastMinute: number;
  reservations: number;
  /** Reservations that had to wait for the bucket to refill. */
  waits: number;
  /** The daily budget paced to (GRAPH_RU_PER_DAY), units granted in the current UTC day, units left now. */
  unitsPerDay: number | null;
  usedToday: number;
  dayLeft: number | null;
  /** Reservations the daily level made wait. */
  dailyWaits: number;
  /**
   * The day's level is too low for bulk work (a batch of writes): loads wait for it to refill, at about
   * GRAPH_RU_PER_DAY / 24 h, whatever the minute's budget allows.
   */
  heldByDailyBudget: boolean;
  /** A 429 block in force: until when, what the server asked for (before the cap), and why. */
  blockedUntil: string | null;
  askedUntil: string | null;
  blockReason: string | null;
}

export async function readBudgetStatus(pool: Pool): Promise<BudgetStatus[]> {
  const { rows } = await pool.query<{
    app_key: string;
    units_per_minute: number | null;
    this_minute: string;
    last_minute: string;
    reservations: string;
    refusals: string;
    blocked_until: Date | null;
    asked_until: Date | null;
    reason: string | null;
    units_per_day: string | null;
    today: string | null;
    day_tokens: number | null;
    idle_ms: number | null;
    day_refusals: string | null;
  }>(
    `SELECT k.app_key, b.units_per_minute, b.units_per_day, b.day_tokens, b.day_refusals,
            CASE WHEN b.day_start = date_trunc('day', now()) THEN b.day_units ELSE 0 END AS today,
            (extract(epoch FROM clock_timestamp() - b.refilled_at) * 1000)::float8 AS idle_ms,
            CASE WHEN b.minute_start = date_trunc('minute', now()) THEN b.minute_units ELSE 0 END AS this_minute,
            CASE WHEN b.minute_start = date_trunc('minute', now()) THEN b.prev_minute_units
                 WHEN b.minute_start = date_trunc('minute', now()) - interval '1 minute' THEN b.minute_units
                 ELSE 0 END AS last_minute,
            COALESCE(b.reservations, 0) AS reservations, COALESCE(b.refusals, 0) AS refusals,
            CASE WHEN t.blocked_until > now() THEN t.blocked_until END AS blocked_until,
            CASE WHEN t.blocked_until > now() THEN t.asked_until END AS asked_until,
            CASE WHEN t.blocked_until > now() THEN t.reason END AS reason
       FROM (SELECT app_key FROM arcore.graph_budget UNION SELECT app_key FROM arcore.graph_throttle) k
       LEFT JOIN arcore.graph_budget b ON b.app_key = k.app_key
       LEFT JOIN arcore.graph_throttle t ON t.app_key = k.app_key
      ORDER BY k.app_key`,
  );
  return rows.map((r) => {
    const unitsPerDay = r.units_per_day === null ? null : Number(r.units_per_day);
    const day = unitsPerDay === null ? null : dayShape(unitsPerDay);
    const dayLeft =
      day === null
        ? null
        : Math.floor(
            Math.min(
              day.capacity,
              (r.day_tokens ?? day.capacity) + Math.max(0, r.idle_ms ?? 0) * day.ratePerMs,
            ),
          );
    return {
      appKey: r.app_key,
      unitsPerMinute: r.units_per_minute ?? 0,
      usedThisMinute: Number(r.this_minute ?? 0),
      usedLastMinute: Number(r.last_minute ?? 0),
      reservations: Number(r.reservations),
      waits: Number(r.refusals),
      unitsPerDay,
      usedToday: Number(r.today ?? 0),
      dayLeft,
      dailyWaits: Number(r.day_refusals ?? 0),
      heldByDailyBudget: day !== null && dayLeft !== null && dayLeft < day.reserve + LARGEST_REQUEST_UNITS,
      blockedUntil: r.blocked_until?.toISOString() ?? null,
      askedUntil: r.asked_until?.toISOString() ?? null,
      blockReason: r.reason,
    };
  });
}

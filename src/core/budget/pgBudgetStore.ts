import type { Pool } from 'pg';
import { budgetShape, type BudgetClass } from './shape';

export interface ReserveRequest {
  appKey: string;
  unitsPerMinute: number;
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
    const shape = budgetShape(request.unitsPerMinute);
    if (!this.known.has(request.appKey)) {
      this.queries += 1;
      await this.pool.query(
        `INSERT INTO arcore.graph_budget (app_key, units_per_minute, tokens) VALUES ($1, $2, $3)
         ON CONFLICT (app_key) DO NOTHING`,
        [request.appKey, request.unitsPerMinute, shape.capacity],
      );
      this.known.add(request.appKey);
    }
    const units = Math.min(request.units, shape.capacity);
    const chunk = Math.max(units, Math.min(request.chunk, shape.capacity));
    const floor = request.budgetClass === 'bulk' ? shape.reserve : 0;
    this.queries += 1;
    const { rows } = await this.pool.query<{ granted: number; level: number }>(
      `WITH cur AS (
         SELECT app_key, clock_timestamp() AS at,
                LEAST($3::float8, tokens + GREATEST(0, extract(epoch FROM clock_timestamp() - refilled_at) * 1000)
                                           * $4::float8) AS level
           FROM arcore.graph_budget WHERE app_key = $1 FOR UPDATE
       ), pick AS (
         SELECT app_key, at, level,
                CASE WHEN level - $5::float8 >= $7::float8 THEN $7::float8
                     WHEN level - $5::float8 >= $6::float8 THEN $6::float8
                     ELSE 0 END AS granted
           FROM cur
       )
       UPDATE arcore.graph_budget b
          SET tokens = pick.level - pick.granted,
              refilled_at = pick.at,
              units_per_minute = $2,
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
       RETURNING pick.granted::float8 AS granted, pick.level::float8 AS level`,
      [request.appKey, request.unitsPerMinute, shape.capacity, shape.ratePerMs, floor, units, chunk],
    );
    if (rows.length === 0) {
      // The row was removed under us (a reset): create it again on the next call.
      this.known.delete(request.appKey);
      return { granted: 0, waitMs: 0 };
    }
    const granted = Number(rows[0].granted);
    if (granted > 0) return { granted, waitMs: 0 };
    const missing = floor + units - Number(rows[0].level);
    return { granted: 0, waitMs: Math.max(1, Math.ceil(missing / shape.ratePerMs)) };
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
  }>(
    `SELECT k.app_key, b.units_per_minute,
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
  return rows.map((r) => ({
    appKey: r.app_key,
    unitsPerMinute: r.units_per_minute ?? 0,
    usedThisMinute: Number(r.this_minute ?? 0),
    usedLastMinute: Number(r.last_minute ?? 0),
    reservations: Number(r.reservations),
    waits: Number(r.refusals),
    blockedUntil: r.blocked_until?.toISOString() ?? null,
    askedUntil: r.asked_until?.toISOString() ?? null,
    blockReason: r.reason,
  }));
}

import type { Pool } from 'pg';
import type { ThrottleGate } from './options';

/** How long a read of the gate is reused: a worker must not pay a database round trip per Graph request. */
const DEFAULT_CACHE_MS = 3_000;

interface CachedBlock {
  until: number | null;
  readAt: number;
}

/**
 * The shared throttle gate over the metadata store (I10): a 429 seen by one worker is written to
 * `arcore.graph_throttle`, and every worker of the same app and tenant waits until then. Reads are
 * cached for a few seconds, so another worker notices a new block within that time at the latest.
 *
 * Blocks are timed by the database's clock, as the resource-unit bucket is (pgBudgetStore.ts): a block is written as
 * `clock_timestamp() + wait` and read as the time left, which the reader adds to its own clock. An instance whose
 * clock is off by minutes therefore still waits the span the server asked for, neither less nor more.
 */
export class PgThrottleGate implements ThrottleGate {
  private readonly cache = new Map<string, CachedBlock>();

  constructor(
    private readonly pool: Pool,
    private readonly cacheMs: number = DEFAULT_CACHE_MS,
  ) {}

  async blockedUntil(appKey: string): Promise<number | null> {
    const now = Date.now();
    const cached = this.cache.get(appKey);
    if (cached && now - cached.readAt < this.cacheMs)
      return cached.until !== null && cached.until > now ? cached.until : null;
    const { rows } = await this.pool.query<{ left_ms: number }>(
      `SELECT (extract(epoch FROM blocked_until - clock_timestamp()) * 1000)::float8 AS left_ms
         FROM arcore.graph_throttle WHERE app_key = $1`,
      [appKey],
    );
    const until = rows.length > 0 && rows[0].left_ms > 0 ? Date.now() + Math.ceil(rows[0].left_ms) : null;
    this.cache.set(appKey, { until, readAt: now });
    return until;
  }

  /**
   * Records a block of `waitMs` from now (the database's now); an existing later block wins (`GREATEST`): a shorter
   * Retry-After never shortens it. `detail` keeps what the server asked for (before our cap) and why, for `status`.
   */
  async block(appKey: string, waitMs: number, detail?: { askedMs: number; reason: string }): Promise<void> {
    const { rows } = await this.pool.query<{ left_ms: number }>(
      `INSERT INTO arcore.graph_throttle (app_key, blocked_until, asked_until, reason, updated_at)
            VALUES ($1, clock_timestamp() + make_interval(secs => $2::float8 / 1000),
                    clock_timestamp() + make_interval(secs => $3::float8 / 1000), $4, now())
       ON CONFLICT (app_key) DO UPDATE
             SET blocked_until = GREATEST(arcore.graph_throttle.blocked_until, EXCLUDED.blocked_until),
                 asked_until = CASE WHEN EXCLUDED.blocked_until >= arcore.graph_throttle.blocked_until
                                    THEN EXCLUDED.asked_until ELSE arcore.graph_throttle.asked_until END,
                 reason = CASE WHEN EXCLUDED.blocked_until >= arcore.graph_throttle.blocked_until
                               THEN EXCLUDED.reason ELSE arcore.graph_throttle.reason END,
                 updated_at = now()
       RETURNING (extract(epoch FROM blocked_until - clock_timestamp()) * 1000)::float8 AS left_ms`,
      [appKey, waitMs, detail?.askedMs ?? waitMs, detail?.reason ?? null],
    );
    const left = rows[0].left_ms;
    this.cache.set(appKey, { until: left > 0 ? Date.now() + Math.ceil(left) : null, readAt: Date.now() });
  }
}

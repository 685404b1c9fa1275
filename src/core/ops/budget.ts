import type { Pool } from 'pg';

export interface BudgetUsage {
  /** The budget the app paces itself to (GRAPH_RU_PER_MINUTE). */
  ruPerMinute: number;
  /** Resource units spent by runs that finished in each minute of the window, oldest first (every minute). */
  minutes: { minute: string; resourceUnits: number; runs: number }[];
  totalResourceUnits: number;
}

/**
 * Resource units the app spent per minute over the last `windowMinutes`, from the runs' records. A run's units
 * count in the minute it finished, so a long run shows as one bar: a view of use, not of pacing.
 */
export async function budgetUsage(meta: Pool, ruPerMinute: number, windowMinutes = 60): Promise<BudgetUsage> {
  const { rows } = await meta.query<{ minute: Date; resource_units: string; runs: string }>(
    `SELECT m.minute, coalesce(sum(r.resource_units), 0)::text AS resource_units, count(r.id)::text AS runs
       FROM generate_series(date_trunc('minute', now()) - make_interval(mins => $1 - 1), date_trunc('minute', now()),
                            interval '1 minute') AS m(minute)
       LEFT JOIN arcore.sync_runs r ON date_trunc('minute', r.finished_at) = m.minute
      GROUP BY m.minute ORDER BY m.minute`,
    [windowMinutes],
  );
  const minutes = rows.map((r) => ({
    minute: r.minute.toISOString(),
    resourceUnits: Number(r.resource_units),
    runs: Number(r.runs),
  }));
  return { ruPerMinute, minutes, totalResourceUnits: minutes.reduce((a, m) => a + m.resourceUnits, 0) };
}

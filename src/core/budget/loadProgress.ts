import type { Pool } from 'pg';
import { runTypeOf } from '../ops/runs';
import { dayShape } from './shape';

/** Resource units one written row costs (create or update, graph.md). */
const UNITS_PER_WRITE = 2;

/**
 * Progress of a load that spans several runs (I16): the runs since the last one that finished its work,
 * when the latest of them stopped at its time budget. A `resolve` run is recorded as a PUSH but settles one
 * conflict, not the load: it neither ends nor continues one.
 */
export interface LoadProgress {
  runType: 'PUSH' | 'PULL';
  runs: number;
  rowsDone: number;
  /** Rows still ahead of the cursor when the latest run stopped (pushes); null when unknown. */
  rowsLeft: number | null;
  /** Rows per minute over the time those runs ran. */
  ratePerMinute: number | null;
  /**
   * Minutes left at that rate, and at the app's whole budget (2 RU per written row): at the minute's budget while the
   * day's bucket lasts, then at the day's (GRAPH_RU_PER_DAY / 1,440 a minute).
   */
  etaMinutes: number | null;
  etaMinutesAtBudget: number | null;
  /** When the next run may continue, if a 429 block stopped the latest. */
  resumeAfter: string | null;
}

/** Minutes `units` take at the whole budget: the minute's pace for what the day's bucket holds, the day's after. */
export function minutesAtBudget(units: number, unitsPerMinute: number, unitsPerDay?: number): number {
  if (unitsPerDay === undefined) return units / unitsPerMinute;
  const day = dayShape(unitsPerDay);
  const dayPerMinute = day.ratePerMs * 60_000;
  if (units <= day.capacity || dayPerMinute >= unitsPerMinute) return units / unitsPerMinute;
  return day.capacity / unitsPerMinute + (units - day.capacity) / dayPerMinute;
}

export async function unfinishedLoads(
  meta: Pool,
  definitionId: string,
  unitsPerMinute: number | null,
  unitsPerDay?: number,
): Promise<LoadProgress[]> {
  const { rows } = await meta.query<{
    run_type: 'PUSH' | 'PULL';
    runs: string;
    done: string | null;
    seconds: number | null;
    rows_left: string | null;
    resume_after: string | null;
    last_incomplete: boolean;
  }>(
    `WITH kinds(run_type) AS (VALUES ('PUSH'), ('PULL')),
     since AS (
       SELECT k.run_type,
              (SELECT max(r.started_at) FROM arcore.sync_runs r
                WHERE r.definition_id = $1 AND ${runTypeOf('r')} = k.run_type AND r.status NOT IN ('SKIPPED', 'RUNNING')
                  AND r.trigger <> 'resolve' AND NOT (COALESCE(r.details, '{}'::jsonb) ? 'incomplete')) AS finished
         FROM kinds k)
     SELECT s.run_type, count(r.*) AS runs, sum(r.processed) AS done,
            sum(extract(epoch FROM r.finished_at - r.started_at))::float8 AS seconds,
            (array_agg(r.details ->> 'rowsLeft' ORDER BY r.started_at DESC))[1] AS rows_left,
            (array_agg(r.details ->> 'resumeAfter' ORDER BY r.started_at DESC))[1] AS resume_after,
            COALESCE((array_agg(COALESCE(r.details, '{}'::jsonb) ? 'incomplete' ORDER BY r.started_at DESC))[1], false)
              AS last_incomplete
       FROM since s
       JOIN arcore.sync_runs r ON r.definition_id = $1 AND ${runTypeOf('r')} = s.run_type
        AND r.status NOT IN ('SKIPPED', 'RUNNING') AND r.finished_at IS NOT NULL AND r.trigger <> 'resolve'
        AND r.started_at > COALESCE(s.finished, '-infinity'::timestamptz)
      GROUP BY s.run_type`,
    [definitionId],
  );
  return rows
    .filter((r) => r.last_incomplete)
    .map((r) => {
      const rowsDone = Number(r.done ?? 0);
      const rowsLeft = r.rows_left === null ? null : Number(r.rows_left);
      const seconds = r.seconds ?? 0;
      const ratePerMinute = seconds > 0 ? (rowsDone * 60) / seconds : null;
      return {
        runType: r.run_type,
        runs: Number(r.runs),
        rowsDone,
        rowsLeft,
        ratePerMinute,
        etaMinutes: rowsLeft !== null && ratePerMinute ? rowsLeft / ratePerMinute : null,
        etaMinutesAtBudget:
          rowsLeft !== null && unitsPerMinute
            ? minutesAtBudget(rowsLeft * UNITS_PER_WRITE, unitsPerMinute, unitsPerDay)
            : null,
        resumeAfter: r.resume_after,
      };
    });
}

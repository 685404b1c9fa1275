import { CronExpressionParser } from 'cron-parser';
import type { Pool } from 'pg';

export interface ScheduledDefinition {
  definitionId: string;
  definition: string;
}

export interface TickWindow {
  /** Exclusive. */
  from: Date;
  /** Inclusive. */
  to: Date;
}

/** Whether an NCRONTAB schedule (six fields, seconds first, UTC) has an occurrence in (from, to]. */
export function scheduleFiresIn(schedule: string, window: TickWindow): boolean {
  if (window.to.getTime() <= window.from.getTime()) return false;
  const expression = CronExpressionParser.parse(schedule, { currentDate: window.from, tz: 'UTC' });
  return expression.next().getTime() <= window.to.getTime();
}

/**
 * The window one tick of the app's push timer covers: (the schedule's previous occurrence, its current
 * one], where "current" is the latest occurrence at or before `now`. Consecutive ticks tile time exactly,
 * so a definition is due on exactly one tick per occurrence of its own schedule. `lastRecorded` (the
 * host's scheduleStatus.last) only ever widens the window, after ticks were missed.
 */
export function pushTickWindow(appSchedule: string, now: Date, lastRecorded?: Date): TickWindow {
  const justAfterNow = new Date(now.getTime() + 1);
  const current = CronExpressionParser.parse(appSchedule, { currentDate: justAfterNow, tz: 'UTC' })
    .prev()
    .toDate();
  const previous = CronExpressionParser.parse(appSchedule, { currentDate: current, tz: 'UTC' })
    .prev()
    .toDate();
  const from =
    lastRecorded && !Number.isNaN(lastRecorded.getTime()) && lastRecorded.getTime() < previous.getTime()
      ? lastRecorded
      : previous;
  return { from, to: current };
}

/** Enabled definitions whose own push schedule fires within the window. */
export async function definitionsDueForPush(meta: Pool, window: TickWindow): Promise<ScheduledDefinition[]> {
  const { rows } = await meta.query<{ id: string; name: string; schedule: string }>(
    'SELECT id::text AS id, name, schedule FROM arcore.sync_definitions WHERE enabled ORDER BY name',
  );
  return rows
    .filter((row) => scheduleFiresIn(row.schedule, window))
    .map((row) => ({ definitionId: row.id, definition: row.name }));
}

/**
 * Whether the definition's own push schedule fires within `withinMs` from now (false for an unknown definition):
 * a timer push that found the definition busy is left to that tick, or else sent again (functions/pushWorker.ts).
 */
export async function pushScheduledWithin(
  meta: Pool,
  definition: string,
  withinMs: number,
): Promise<boolean> {
  const { rows } = await meta.query<{ schedule: string }>(
    'SELECT schedule FROM arcore.sync_definitions WHERE name = $1',
    [definition],
  );
  if (rows.length === 0) return false;
  const from = new Date();
  return scheduleFiresIn(rows[0].schedule, { from, to: new Date(from.getTime() + withinMs) });
}

/**
 * Enabled definitions whose last push left rows to push: stopped by its time budget (`details.incomplete`; the
 * continuation it sent is what pushes the rest), or never finished (RUNNING or ABANDONED: its process died). The
 * deployed queue keeps such a continuation; the local host's queue is in memory, so a stop or a crash loses it, and
 * the rows left waited for the definition's next scheduled push (a day, with a daily schedule). The local host sends
 * these pushes when it starts. One index probe per definition: (definition_id, started_at DESC).
 */
export async function definitionsWithPushLeft(meta: Pool): Promise<ScheduledDefinition[]> {
  const { rows } = await meta.query<{ id: string; name: string }>(
    `SELECT d.id::text AS id, d.name FROM arcore.sync_definitions d
       CROSS JOIN LATERAL (SELECT r.status, r.details FROM arcore.sync_runs r
                            WHERE r.definition_id = d.id AND r.run_type = 'PUSH'
                            ORDER BY r.started_at DESC LIMIT 1) r
      WHERE d.enabled
        AND (r.status IN ('RUNNING', 'ABANDONED') OR (r.status <> 'FAILED' AND r.details ? 'incomplete'))
      ORDER BY d.name`,
  );
  return rows.map((row) => ({ definitionId: row.id, definition: row.name }));
}

/** Enabled definitions that pull SharePoint changes (and therefore keep a subscription). */
export async function pullEnabledDefinitions(meta: Pool): Promise<ScheduledDefinition[]> {
  const { rows } = await meta.query<{ id: string; name: string }>(
    `SELECT id::text AS id, name FROM arcore.sync_definitions
     WHERE enabled AND COALESCE((document -> 'pull' ->> 'enabled')::boolean, true) ORDER BY name`,
  );
  return rows.map((row) => ({ definitionId: row.id, definition: row.name }));
}

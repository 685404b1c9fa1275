import type { Pool } from 'pg';
import { unfinishedLoads, type LoadProgress } from '../../core/budget/loadProgress';
import { readBudgetStatus, type BudgetStatus } from '../../core/budget/pgBudgetStore';
import { formatDuration } from '../progress';

/** What `status` adds for I16: the shared budget of each app and the loads that span several runs. */
export interface BudgetView {
  budget: BudgetStatus[];
  loads: Map<string, LoadProgress[]>;
}

export async function budgetView(meta: Pool, definitionIds: string[]): Promise<BudgetView> {
  const budget = await readBudgetStatus(meta);
  const unitsPerMinute = budget.length > 0 ? Math.max(...budget.map((b) => b.unitsPerMinute)) : null;
  const days = budget.flatMap((b) => (b.unitsPerDay === null ? [] : [b.unitsPerDay]));
  const unitsPerDay = days.length > 0 ? Math.max(...days) : undefined;
  const loads = new Map<string, LoadProgress[]>();
  for (const id of definitionIds)
    loads.set(id, await unfinishedLoads(meta, id, unitsPerMinute || null, unitsPerDay));
  return { budget, loads };
}

/** `budget (app …): 1250 RU/min; used 612 last minute, 80 this minute; 14 of 310 reservations waited` */
export function budgetLines(budget: BudgetStatus[]): string[] {
  return budget.map((b) => {
    const parts = [
      `budget (app ${b.appKey}): ${b.unitsPerMinute} RU/min shared by every worker`,
      `used ${b.usedLastMinute} last minute, ${b.usedThisMinute} this minute`,
      `${b.waits} of ${b.reservations} reservations waited for the bucket`,
    ];
    if (b.unitsPerDay !== null) {
      const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
      parts.push(
        `${fmt(b.unitsPerDay)} RU/24 h: used ${fmt(b.usedToday)} today (UTC), ${fmt(b.dayLeft ?? 0)} left in the day's bucket`,
      );
      if (b.heldByDailyBudget) {
        const perMinute = b.unitsPerDay / (24 * 60);
        parts.push(
          `the daily budget holds loads back: they continue at about ${fmt(perMinute)} RU/min as it refills ` +
            '(raise GRAPH_RU_PER_DAY only if the tenant has more licences)',
        );
      }
    }
    if (b.blockedUntil) {
      parts.push(
        `throttled (429) until ${b.blockedUntil}` +
          (b.blockReason
            ? ` (${b.blockReason}${b.askedUntil ? `; Graph asked until ${b.askedUntil}` : ''})`
            : ''),
      );
    }
    return parts.join('; ');
  });
}

/** `  unfinished push: 3 runs, 1,200 rows done, 8,800 left, 600 rows/min, ETA 14m40s (15m at the budget)` */
export function loadLines(loads: LoadProgress[]): string[] {
  return loads.map((l) => {
    const verb = l.runType === 'PUSH' ? 'push' : 'pull';
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    const parts = [
      `  unfinished ${verb}: ${l.runs} run${l.runs === 1 ? '' : 's'}, ${fmt(l.rowsDone)} rows done`,
      l.rowsLeft === null ? 'rows left unknown' : `${fmt(l.rowsLeft)} left`,
    ];
    if (l.ratePerMinute !== null) parts.push(`${fmt(l.ratePerMinute)} rows/min`);
    if (l.etaMinutes !== null) parts.push(`ETA ${formatDuration(l.etaMinutes * 60)}`);
    if (l.etaMinutesAtBudget !== null)
      parts.push(`${formatDuration(l.etaMinutesAtBudget * 60)} at the whole budget`);
    if (l.resumeAfter) parts.push(`continues after ${l.resumeAfter}`);
    return parts.join(', ');
  });
}

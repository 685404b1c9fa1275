/**
 * Review r10: the app's daily resource-unit limit (I10 "SharePoint throttles by resource units per app per minute and
 * per day", I16). Microsoft's "Avoid getting throttled or blocked in SharePoint Online" gives each app in a tenant a
 * limit per minute and one per 24 hours (graph.md: 1,250 RU/min and 1.2 M RU/24 h for 0–1k licences, up to 6,250 and
 * 6.0 M). The shared bucket (budget/shape.ts, pgBudgetStore.ts) knows only the minute: it refills at
 * (B − capacity) / 60.5 s all day, which is about 1.43 times the daily limit. A load that keeps the bucket busy (a
 * first load of some 600,000 rows, 2 RU each) spends the day's 1.2 M RU after about 17 hours, and SharePoint then
 * throttles every worker of the app for what is left of the 24 hours; nothing in the engine counts towards it.
 * Pure arithmetic over the shape every process computes; no database or Graph needed to show it.
 */
import { budgetShape } from '../../../src/core/budget/shape';

/** graph.md "Throttling": RU per minute and per 24 h by tenant licences. */
const TIERS = [
  { perMinute: 1_250, perDay: 1_200_000 },
  { perMinute: 2_500, perDay: 2_400_000 },
  { perMinute: 3_750, perDay: 3_600_000 },
  { perMinute: 5_000, perDay: 4_800_000 },
  { perMinute: 6_250, perDay: 6_000_000 },
];

const DAY_MS = 24 * 60 * 60 * 1000;

describe('r10 the daily resource-unit limit', () => {
  it.each(TIERS)(
    'the bucket at $perMinute RU/min grants at most $perDay RU in 24 h',
    ({ perMinute, perDay }) => {
      const shape = budgetShape(perMinute);
      // Most a bucket can grant over any 24 h: a full bucket plus a day of refill.
      const grantable = shape.capacity + shape.ratePerMs * DAY_MS;
      expect(Math.round(grantable)).toBeLessThanOrEqual(perDay);
    },
  );
});

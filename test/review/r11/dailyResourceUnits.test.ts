/**
 * r11 review: SharePoint budgets resource units per app per tenant per minute AND per 24 hours: for a tenant of
 * 0–1,000 licences 1,250 RU a minute and 1,200,000 RU a day (graph.md "Throttling";
 * https://learn.microsoft.com/en-us/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online,
 * "Application throttling"). A minute budget spent all day is 1,800,000 RU. The emulator keeps only the minute
 * window (src/emulator/throttling.ts), and the engine paces only to the minute (target/sharepoint/pacing.ts), so a
 * long load (a backfill, a re-enumeration after 410) runs into the daily limit on a real tenant, where every app
 * request is then answered 429/503, and no test can show it.
 */
import { ResourceBudget } from '../../../src/core/target/sharepoint/pacing';
import type { RuntimeSettings } from '../../../src/emulator/context';
import { ResourceUnitBudget } from '../../../src/emulator/throttling';

const PER_MINUTE = 1_250;
const PER_DAY = 1_200_000;
const MINUTE = 60_000;

describe('r11: the daily resource-unit budget', () => {
  it('the emulator never throttles an app that spends its minute budget every minute for a day', () => {
    const settings = { throttlingEnabled: true, resourceUnitsPerMinute: PER_MINUTE } as RuntimeSettings;
    const budget = new ResourceUnitBudget(settings);
    const start = Date.UTC(2026, 0, 1);
    let spent = 0;
    let refusedAt: number | undefined;
    // 625 writes of 2 RU per minute, spread evenly (one every 96 ms), for 24 hours.
    for (let minute = 0; minute < 24 * 60 && refusedAt === undefined; minute++) {
      for (let i = 0; i < PER_MINUTE / 2; i++) {
        const charge = budget.charge('app', 2, start + minute * MINUTE + i * 96);
        if (!charge.allowed) {
          refusedAt = spent;
          break;
        }
        spent += 2;
      }
    }
    // Graph refuses the app once it has spent its daily budget.
    expect(refusedAt).toBeDefined();
    expect(refusedAt).toBeLessThanOrEqual(PER_DAY);
  });

  it('the engine paces more than 1,200,000 RU through 24 hours at its default budget', async () => {
    let now = Date.UTC(2026, 0, 1);
    const budget = new ResourceBudget(
      PER_MINUTE,
      () => now,
      (ms) => {
        now += Math.max(1, ms);
        return Promise.resolve();
      },
    );
    const end = now + 24 * 60 * MINUTE;
    let spent = 0;
    while (now < end) {
      // A $batch of 20 writes: 40 RU.
      await budget.reserve(40);
      spent += 40;
    }
    expect(spent).toBeLessThanOrEqual(PER_DAY);
  });
});

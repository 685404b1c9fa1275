/**
 * I10/I16 the app's daily resource-unit budget. SharePoint limits each app in a tenant per minute and per 24 hours
 * (graph.md "Throttling"; the "Application throttling" table of
 * https://learn.microsoft.com/en-us/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online):
 * the day is 960 minutes' worth of the minute's budget in every tier, so an engine that paced to the minute alone
 * would spend 1.5 times the day's budget and have every worker of the app throttled for the rest of the day.
 */
import { PgBudgetStore, readBudgetStatus } from '../../../src/core/budget/pgBudgetStore';
import { budgetShape, DAY_MS, mostGrantedIn } from '../../../src/core/budget/shape';
import { loadSettings } from '../../../src/config/settings';
import { createEngineContext } from '../../../src/core/engine/context';
import { runPush } from '../../../src/core/engine/push';
import { migrate } from '../../../src/core/store/migrate';
import { ResourceBudget } from '../../../src/core/target/sharepoint/pacing';
import { budgetLines } from '../../../src/cli/commands/budgetStatus';
import { freshDatabase, type TestDatabase } from '../../support/db';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

/** graph.md "Throttling": RU per minute and per 24 h by tenant licences. */
const TIERS = [
  { perMinute: 1_250, perDay: 1_200_000 },
  { perMinute: 2_500, perDay: 2_400_000 },
  { perMinute: 3_750, perDay: 3_600_000 },
  { perMinute: 5_000, perDay: 4_800_000 },
  { perMinute: 6_250, perDay: 6_000_000 },
];

describe('I16 the shared bucket keeps to the daily budget', () => {
  it.each(TIERS)(
    'at $perMinute RU/min (daily budget by default) it grants at most $perDay RU in any 24 h, and still most of it',
    ({ perMinute, perDay }) => {
      const shape = budgetShape(perMinute);
      expect(shape.day.unitsPerDay).toBe(perDay);
      const grantable = mostGrantedIn(shape, DAY_MS);
      expect(grantable).toBeLessThanOrEqual(perDay);
      expect(grantable).toBeGreaterThan(0.99 * perDay);
    },
  );

  it('a process pacing alone (no shared store) lets at most 1,200,000 RU through 24 hours at 1,250 RU/min', async () => {
    let now = Date.UTC(2026, 0, 1);
    const budget = new ResourceBudget(
      1_250,
      () => now,
      (ms) => {
        now += Math.max(1, ms);
        return Promise.resolve();
      },
    );
    const end = now + DAY_MS;
    let spent = 0;
    let dailyMs = 0;
    while (now < end) {
      // A $batch of 20 writes: 40 RU.
      const waited = await budget.reserve(40);
      dailyMs += waited.dailyMs;
      if (now < end) spent += 40;
    }
    expect(spent).toBeLessThanOrEqual(1_200_000);
    expect(spent).toBeGreaterThan(1_150_000);
    // After the first hour or so, the day's budget (not the minute's) is what made it wait.
    expect(dailyMs).toBeGreaterThan(DAY_MS / 4);
  });

  it('a process pacing alone stops a run whose next request would wait for the day past its deadline', async () => {
    let now = Date.UTC(2026, 0, 1);
    const budget = new ResourceBudget(
      10_000,
      () => now,
      (ms) => {
        now += Math.max(1, ms);
        return Promise.resolve();
      },
      2_400,
    );
    // The day's bucket holds 100 RU: two batches go, the third would wait some 12 minutes for the day.
    await budget.reserve(40, 'bulk', now + 5_000);
    await budget.reserve(40, 'bulk', now + 5_000);
    await expect(budget.reserve(40, 'bulk', now + 5_000)).rejects.toThrow(
      /daily resource-unit budget \(GRAPH_RU_PER_DAY 2400\)/,
    );
  });

  describe('in arcore.graph_budget', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await freshDatabase();
      await migrate(db.pool);
    });
    afterAll(async () => db.drop());

    it('refuses a reservation the day cannot hold though the minute can, says so, and status shows the day', async () => {
      const store = new PgBudgetStore(db.pool);
      // 10,000 RU a minute but 2,400 a day: the day's bucket holds 100 RU and refills 2,300 RU a day.
      const request = {
        appKey: 'daily',
        unitsPerMinute: 10_000,
        unitsPerDay: 2_400,
        units: 40,
        chunk: 40,
        budgetClass: 'bulk' as const,
      };
      expect((await store.reserve(request)).granted).toBe(40);
      // Bulk work leaves the day's reserve (10 RU) for pulls: 60 left, so one more batch goes.
      expect((await store.reserve(request)).granted).toBe(40);
      const refused = await store.reserve(request);
      expect(refused).toMatchObject({ granted: 0, limitedBy: 'day' });
      // 30 RU missing at 2,300 RU / 24 h: about 19 minutes.
      expect(refused.waitMs).toBeGreaterThan(15 * 60_000);
      // Priority work (a pull) may still take the reserve.
      expect((await store.reserve({ ...request, units: 2, chunk: 2, budgetClass: 'priority' })).granted).toBe(
        2,
      );
      const [status] = await readBudgetStatus(db.pool);
      expect(status).toMatchObject({
        appKey: 'daily',
        unitsPerDay: 2_400,
        usedToday: 82,
        dailyWaits: 1,
        heldByDailyBudget: true,
      });
      expect(status.dayLeft).toBe(18);
      expect(budgetLines([status])[0]).toMatch(
        /2,400 RU\/24 h: used 82 today \(UTC\).*the daily budget holds loads back/,
      );
    });
  });
});

describe('I16 a push paces to the daily budget against the emulator enforcing it', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
    await h.define(projectsDefinition({ source: timestampSource('projects', 20) }));
    await h.db.pool.query(
      "INSERT INTO projects (id, name) SELECT g, 'p' || g FROM generate_series(1, 100) g",
    );
  }, 60_000);
  afterAll(async () => h.close());

  it('sends what the day allows, is never throttled, and stops busy saying the daily budget holds it back', async () => {
    // The tenant's app may spend 2,400 RU a day (the emulator refuses beyond it); the engine is told the same.
    h.emulator.control.setThrottling({
      enabled: true,
      resourceUnitsPerMinute: 1_000_000,
      resourceUnitsPerDay: 2_400,
    });
    const { ctx, close } = await createEngineContext(
      loadSettings({
        DATABASE_URL: h.db.url,
        GRAPH_BASE_URL: h.emulator.baseUrl,
        GRAPH_TOKEN: h.emulator.appToken,
        GRAPH_RU_PER_MINUTE: '1000000',
        GRAPH_RU_PER_DAY: '2400',
      }),
      { caCert: h.emulator.caCert },
    );
    try {
      h.emulator.control.clearRequestLog();
      const summary = await runPush(ctx, 'projects', { trigger: 'test', maxSeconds: 10 });
      // The day's bucket holds 100 RU: two pages of 20 creates (40 RU each); the third would wait some 20 minutes.
      expect(summary).toMatchObject({ status: 'SUCCEEDED', complete: false, created: 40, failed: 0 });
      expect(Date.parse(summary.resumeAfter ?? '')).toBeGreaterThan(Date.now() + 5 * 60_000);
      const batches = h.emulator.control.requestLog().filter((e) => e.path === '/$batch');
      expect(batches.map((e) => e.status)).toEqual([200, 200]);
      expect(h.emulator.control.stats().throttled429).toBe(0);
      const { rows } = await h.db.pool.query<{ details: { incomplete?: string } }>(
        `SELECT details FROM arcore.sync_runs WHERE id = $1`,
        [summary.runId],
      );
      expect(rows[0].details.incomplete).toMatch(/daily resource-unit budget \(GRAPH_RU_PER_DAY 2400\)/);
    } finally {
      await close();
      h.emulator.control.setThrottling({ enabled: false });
    }
  }, 60_000);
});

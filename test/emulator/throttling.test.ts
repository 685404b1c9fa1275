import type { RuntimeSettings } from '../../src/emulator/context';
import { ResourceUnitBudget } from '../../src/emulator/throttling';
import { startTestEmulator, type ErrorShape, type PageShape, type TestEmulator } from './support';

function settings(limit: number, enabled = true, day: Partial<RuntimeSettings> = {}): RuntimeSettings {
  return {
    ...day,
    throttlingEnabled: enabled,
    resourceUnitsPerMinute: limit,
    latencyMs: 0,
    notificationDelayMs: 0,
    notificationDelayRangeMs: [0, 0],
    notificationRetryWindowMs: 0,
    deltaTokenMaxAgeMs: undefined,
    deltaRepeats: 0,
    deltaOrder: 'stable',
    deltaChangesWithoutFields: false,
    batchAmbiguous503Rate: 0,
  };
}

describe('I10 throttle discipline: the resource-unit budget', () => {
  it('adds RateLimit headers from 80 % use and answers with Retry-After = seconds until the budget frees', () => {
    const budget = new ResourceUnitBudget(settings(10));
    const t0 = 1_000_000;
    expect(budget.charge('app', 2, t0).headers).toEqual({});
    budget.charge('app', 2, t0 + 10_000);
    budget.charge('app', 2, t0 + 20_000);
    const at80 = budget.charge('app', 2, t0 + 30_000);
    expect(at80.allowed).toBe(true);
    expect(at80.headers).toMatchObject({ 'RateLimit-Limit': '10', 'RateLimit-Remaining': '2' });
    expect(Number(at80.headers['RateLimit-Reset'])).toBeGreaterThan(0);
    expect(budget.charge('app', 2, t0 + 30_000).allowed).toBe(true);
    const over = budget.charge('app', 2, t0 + 30_000);
    expect(over.allowed).toBe(false);
    // Throttled calls count: 12 spent; the first 2 (at t0) free at t0 + 60.1 s, not enough; t0+10 s frees 4.
    expect(over.retryAfterSeconds).toBe(41);
    expect(over.headers['Retry-After']).toBe('41');
    expect(budget.charge('app', 2, t0 + 30_000 + 41_000).allowed).toBe(true);
    expect(budget.resourceUnitsCharged).toBe(14);
  });

  it('keeps a budget per identity and counts but never refuses when switched off', () => {
    const shared = settings(4);
    const budget = new ResourceUnitBudget(shared);
    expect(budget.charge('app', 2).allowed).toBe(true);
    expect(budget.charge('app', 2).allowed).toBe(true);
    expect(budget.charge('app', 2).allowed).toBe(false);
    expect(budget.charge('alice', 2).allowed).toBe(true);
    shared.throttlingEnabled = false;
    expect(budget.charge('app', 2).allowed).toBe(true);
    expect(budget.charge('app', 0)).toEqual({ allowed: true, retryAfterSeconds: 0, headers: {} });
  });
});

/**
 * SharePoint's second window: each app in a tenant also has a budget per 24 hours, 960 minutes' worth of its minute
 * budget in every tier (1,200,000 RU for 1,250 a minute), so an app that spends its minute budget every minute is
 * refused after 16 hours
 * (https://learn.microsoft.com/en-us/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online).
 */
describe('I10 throttle discipline: the 24-hour resource-unit budget', () => {
  const PER_MINUTE = 1_250;
  const MINUTE = 60_000;

  it('refuses an app that spends its minute budget every minute once it has spent the day: 1,200,000 RU at 1,250 a minute', () => {
    const budget = new ResourceUnitBudget(settings(PER_MINUTE));
    const start = Date.UTC(2026, 0, 1);
    let spent = 0;
    let refused: ReturnType<ResourceUnitBudget['charge']> | undefined;
    // 625 writes of 2 RU a minute, spread evenly (one every 96 ms), for up to 24 hours.
    for (let minute = 0; minute < 24 * 60 && refused === undefined; minute++) {
      for (let i = 0; i < PER_MINUTE / 2; i++) {
        const charge = budget.charge('app', 2, start + minute * MINUTE + i * 96);
        if (!charge.allowed) {
          refused = charge;
          break;
        }
        spent += 2;
      }
    }
    expect(spent).toBe(1_200_000);
    expect(refused).toMatchObject({ allowed: false, exhausted: 'day' });
    // The day's first spending leaves the window 24 hours after it was made: about 8 hours from the refusal.
    expect(refused?.retryAfterSeconds).toBeGreaterThan(7 * 3600);
    expect(refused?.retryAfterSeconds).toBeLessThanOrEqual(8 * 3600 + 120);
  });

  it('takes the daily budget and the length of its window from the settings (tests shorten the day)', () => {
    const budget = new ResourceUnitBudget(
      settings(1_000, true, { resourceUnitsPerDay: 10, dayWindowMs: 10_000 }),
    );
    const t0 = 5_000_000;
    for (let i = 0; i < 5; i++) expect(budget.charge('app', 2, t0 + i).allowed).toBe(true);
    const over = budget.charge('app', 2, t0 + 1_000);
    expect(over).toMatchObject({ allowed: false, exhausted: 'day' });
    expect(over.retryAfterSeconds).toBeGreaterThanOrEqual(9);
    expect(over.retryAfterSeconds).toBeLessThanOrEqual(11);
    // Another identity has its own day; the first one's day frees once its window has passed.
    expect(budget.charge('other', 2, t0 + 1_000).allowed).toBe(true);
    expect(budget.charge('app', 2, t0 + 12_000).allowed).toBe(true);
  });
});

describe('throttling over HTTPS', () => {
  let t: TestEmulator;
  let listId: string;
  let items: string;
  beforeAll(async () => {
    t = await startTestEmulator({ throttling: { enabled: false } });
    listId = await t.createList('Budget');
    items = `/sites/${t.siteId}/lists/${listId}/items`;
  });
  afterAll(() => t.stop());
  beforeEach(() => t.emulator.control.setThrottling({ enabled: false }));

  const spent = async (call: () => Promise<unknown>) => {
    const before = t.emulator.control.stats().resourceUnits;
    await call();
    return t.emulator.control.stats().resourceUnits - before;
  };

  it('charges as SharePoint does: 1 single get and delta with token, 2 queries, delta without token and writes, batch items one by one', async () => {
    const created = await t.graph<{ id: string }>('POST', items, { body: { fields: { Title: 'x' } } });
    expect(await spent(() => t.graph('GET', `${items}/${created.body.id}`))).toBe(1);
    expect(await spent(() => t.graph('GET', items))).toBe(2);
    expect(await spent(() => t.graph('POST', items, { body: { fields: { Title: 'y' } } }))).toBe(2);
    expect(
      await spent(() => t.graph('PATCH', `${items}/${created.body.id}/fields`, { body: { Title: 'z' } })),
    ).toBe(2);
    expect(await spent(() => t.graph('GET', `${items}/delta`))).toBe(2);
    expect(await spent(() => t.graph('GET', `${items}/delta?token=latest`))).toBe(1);
    const batch = {
      requests: [1, 2, 3].map((n) => ({
        id: String(n),
        method: 'POST',
        url: items,
        headers: { 'Content-Type': 'application/json' },
        body: { fields: { Title: `b${n}` } },
      })),
    };
    expect(await spent(() => t.graph('POST', '/$batch', { body: batch }))).toBe(6);
  });

  it('answers 429 TooManyRequests with Retry-After beyond the budget; throttled calls still count', async () => {
    t.emulator.control.setThrottling({ enabled: true, resourceUnitsPerMinute: 6 });
    // Spending while throttling was off still sits in the sliding minute, so the first call may already be over.
    let last = await t.graph<ErrorShape>('GET', items);
    for (let i = 0; i < 5 && last.status !== 429; i++) last = await t.graph<ErrorShape>('GET', items);
    expect(last.status).toBe(429);
    expect(last.body.error.code).toBe('TooManyRequests');
    const retryAfter = Number(last.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(61);
    expect(last.headers.get('ratelimit-limit')).toBe('6');
    expect(t.emulator.control.stats().throttled429).toBeGreaterThanOrEqual(1);
    const before = t.emulator.control.stats().resourceUnits;
    expect((await t.graph('GET', items)).status).toBe(429);
    expect(t.emulator.control.stats().resourceUnits - before).toBe(2);
    // A user edits "in SharePoint" on a budget of their own.
    const asAlice = await t.graph<PageShape>('GET', items, { token: t.emulator.userToken('alice') });
    expect(asAlice.status).toBe(200);
  });

  it('throttles batch items one by one: inner 429s with their own Retry-After inside an outer 200', async () => {
    t.emulator.control.setThrottling({ enabled: true, resourceUnitsPerMinute: 5 });
    const fresh = await t.graph('GET', `/sites/${t.siteId}`, { token: t.emulator.userToken('bob') });
    expect(fresh.status).toBe(200);
    const requests = [1, 2, 3, 4].map((n) => ({
      id: String(n),
      method: 'POST',
      url: items,
      headers: { 'Content-Type': 'application/json' },
      body: { fields: { Title: `c${n}` } },
    }));
    const answer = await t.graph<{
      responses: { id: string; status: number; headers: Record<string, string> }[];
    }>('POST', '/$batch', { body: { requests }, token: t.emulator.userToken('bob') });
    expect(answer.status).toBe(200);
    const statuses = answer.body.responses.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 201, 429, 429]);
    for (const r of answer.body.responses.filter((x) => x.status === 429))
      expect(Number(r.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
  });

  it('can be switched off again', async () => {
    t.emulator.control.setThrottling({ enabled: true, resourceUnitsPerMinute: 1 });
    t.emulator.control.setThrottling({ enabled: false });
    for (let i = 0; i < 5; i++) expect((await t.graph('GET', items)).status).toBe(200);
  });

  it('refuses an identity past its daily budget with a Retry-After until its day frees (set over the control API)', async () => {
    t.emulator.control.setThrottling({
      enabled: true,
      resourceUnitsPerMinute: 1_000,
      resourceUnitsPerDay: 4,
      dayWindowSeconds: 3_600,
    });
    try {
      // A new length of day starts a new window: two queries of 2 RU fit, the third is over.
      const token = t.emulator.userToken('alice');
      expect((await t.graph('GET', items, { token })).status).toBe(200);
      expect((await t.graph('GET', items, { token })).status).toBe(200);
      const over = await t.graph<ErrorShape>('GET', items, { token });
      expect(over.status).toBe(429);
      expect(over.body.error.message).toMatch(/used its 4 resource units for this day/);
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(3_500);
      // The minute's headers stay about the minute: a few of 1,000 used, far from 80 %.
      expect(over.headers.get('ratelimit-limit')).toBeNull();
    } finally {
      t.emulator.control.setThrottling({ enabled: false, resourceUnitsPerDay: 1_000_000_000 });
    }
  });
});

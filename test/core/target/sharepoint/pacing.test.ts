import fc from 'fast-check';
import { RunTimeBudgetError } from '../../../../src/core/budget/errors';
import type { BudgetStore } from '../../../../src/core/budget/pgBudgetStore';
import { GraphTransport } from '../../../../src/core/target/sharepoint/GraphTransport';
import {
  appThrottleState,
  backoffMs,
  parseRetryAfterMs,
  ResourceBudget,
  resourceUnitsFor,
  SharedResourceBudget,
} from '../../../../src/core/target/sharepoint/pacing';
import type { WriteOp } from '../../../../src/core/target/sharepoint';
import { startHarness } from './emulatorSupport';

/** A budget on a simulated clock: waiting advances time instantly, so minutes of pacing take milliseconds. */
function simulatedBudget(unitsPerMinute: number) {
  let now = 1_000_000;
  const budget = new ResourceBudget(
    unitsPerMinute,
    () => now,
    async (ms) => {
      now += ms;
    },
  );
  return {
    budget,
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('I10 throttle discipline: resource-unit pacing', () => {
  it('never spends more than the budget in any 60-second window', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 60, max: 2000 }),
        fc.array(
          fc.record({ units: fc.integer({ min: 1, max: 40 }), gapMs: fc.integer({ min: 0, max: 3000 }) }),
          {
            minLength: 1,
            maxLength: 150,
          },
        ),
        async (unitsPerMinute, requests) => {
          const sim = simulatedBudget(unitsPerMinute);
          const sent: { at: number; units: number }[] = [];
          for (const request of requests) {
            sim.advance(request.gapMs);
            await sim.budget.reserve(request.units);
            sent.push({ at: sim.now(), units: Math.min(request.units, unitsPerMinute) });
          }
          for (const request of sent) {
            const inWindow = sent
              .filter((other) => other.at > request.at - 60_000 && other.at <= request.at)
              .reduce((sum, other) => sum + other.units, 0);
            expect(inWindow).toBeLessThanOrEqual(unitsPerMinute);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('spreads work evenly instead of spending the minute in the first second', async () => {
    const sim = simulatedBudget(300);
    const start = sim.now();
    const times: number[] = [];
    for (let i = 0; i < 50; i += 1) {
      await sim.budget.reserve(2);
      times.push(sim.now() - start);
    }
    // 300 RU/min = 5 RU/s: after a 40-unit burst allowance, one 2-unit write every 400 ms.
    expect(times.filter((t) => t === 0)).toHaveLength(20);
    expect(times[49]).toBeGreaterThanOrEqual(11_000);
    expect(times[49]).toBeLessThanOrEqual(12_500);
  });

  it('holds every request until the reset when the server says little budget is left', async () => {
    const sim = simulatedBudget(0);
    const start = sim.now();
    sim.budget.noteServerRemaining(1250, 100, 20);
    const waited = await sim.budget.reserve(2);
    expect(sim.now() - start).toBe(20_000);
    expect(waited.serverHoldMs).toBe(20_000);
    sim.budget.noteServerRemaining(1250, 600, 20);
    expect((await sim.budget.reserve(2)).serverHoldMs).toBe(0);
  });

  it("stops a run whose next request would wait for the minute's budget past its deadline (I16), and waits otherwise", async () => {
    const sim = simulatedBudget(300);
    // 40 RU of burst go at once; then 5 RU/s: the next 40 RU need 8 s.
    await sim.budget.reserve(40, 'bulk', sim.now() + 5_000);
    const stopped = sim.budget.reserve(40, 'bulk', sim.now() + 5_000);
    await expect(stopped).rejects.toThrow(RunTimeBudgetError);
    await expect(stopped).rejects.toThrow(/GRAPH_RU_PER_MINUTE 300\) needs a wait of 8 s/);
    const before = sim.now();
    await expect(stopped.catch((e: RunTimeBudgetError) => e.resumeAt - before)).resolves.toBe(8_000);
    // Nothing was waited or spent for the stopped request: with a deadline far enough, the same wait is made.
    expect(sim.now()).toBe(before);
    const waited = await sim.budget.reserve(40, 'bulk', sim.now() + 10_000);
    expect(waited.paceMs).toBe(8_000);
    // No deadline (a run without a time budget): any wait.
    expect((await sim.budget.reserve(40, 'bulk')).paceMs).toBe(8_000);
  });

  it("a process drawing on the shared bucket stops the same way when the bucket's answer is to wait past the deadline", async () => {
    let now = 1_000_000;
    // The bucket as other processes left it: empty, refilling in 6 s.
    const store: BudgetStore = {
      reserve: () => Promise.resolve({ granted: 0, waitMs: 6_000, limitedBy: 'minute' as const }),
    };
    const shared = new SharedResourceBudget(
      store,
      'app',
      300,
      () => now,
      async (ms) => {
        now += ms;
      },
    );
    await expect(shared.reserve(40, 'bulk', now + 5_000)).rejects.toThrow(
      /GRAPH_RU_PER_MINUTE 300\) needs a wait of 6 s/,
    );
    expect(now).toBe(1_000_000);
    // With the deadline 8 s away it waits once (6 s), then a second 6 s wait would pass the deadline: it stops there.
    await expect(shared.reserve(40, 'bulk', now + 8_000)).rejects.toThrow(RunTimeBudgetError);
    expect(now).toBe(1_006_000);
  });

  it('a simulated clock paces alone: refused with the shared store, with a run deadline, or beside another for one app key', () => {
    const clock = { now: () => 0, sleep: () => Promise.resolve() };
    const store: BudgetStore = { reserve: () => Promise.resolve({ granted: 1, waitMs: 0 }) };
    const limits = { unitsPerMinute: 100, unitsPerDay: 96_000 };
    expect(() => appThrottleState('clock-store', limits, store, clock)).toThrow(/shared budget store/);
    appThrottleState('clock-one', limits, undefined, clock);
    expect(() => appThrottleState('clock-one', limits)).toThrow(/another clock/);
    expect(appThrottleState('clock-one', limits, undefined, clock).clock).toBe(clock);
    expect(
      () =>
        new GraphTransport({
          baseUrl: 'https://graph.example/v1.0',
          auth: { kind: 'token', token: 't' },
          clock,
          runDeadline: 1,
        }),
    ).toThrow(/run deadline/);
  });

  it('prices requests as graph.md does', () => {
    const base = 'https://graph.microsoft.com/v1.0/sites/s/lists/l';
    expect(resourceUnitsFor('GET', `${base}/items/7?$expand=fields`)).toBe(1);
    expect(resourceUnitsFor('GET', `${base}/items?$expand=fields`)).toBe(2);
    expect(resourceUnitsFor('GET', `${base}/items/delta`)).toBe(2);
    expect(resourceUnitsFor('GET', `${base}/items/delta?token=abc`)).toBe(1);
    expect(resourceUnitsFor('POST', `${base}/items`)).toBe(2);
    expect(resourceUnitsFor('PATCH', `${base}/items/7/fields`)).toBe(2);
    expect(resourceUnitsFor('DELETE', `${base}/items/7`)).toBe(2);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfterMs('7', now)).toBe(7000);
    expect(parseRetryAfterMs('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    // Sent twice, read joined as Headers joins them: the first value (Date.parse read "5, 10" as 2001-05-10).
    expect(parseRetryAfterMs('5, 10', now)).toBe(5000);
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
    expect(parseRetryAfterMs(null, now)).toBeUndefined();
  });

  it('backs off exponentially, capped, with jitter', () => {
    expect(backoffMs(1, 500, 30_000, () => 0)).toBe(250);
    expect(backoffMs(1, 500, 30_000, () => 1)).toBe(500);
    expect(backoffMs(4, 500, 30_000, () => 1)).toBe(4000);
    expect(backoffMs(20, 500, 30_000, () => 1)).toBe(30_000);
  });
});

describe('I10 throttle discipline: pacing against the emulator', () => {
  const BUDGET = 100;
  const creates = (count: number, prefix: string): WriteOp[] =>
    Array.from({ length: count }, (_, i) => ({
      kind: 'create',
      ref: `${prefix}${i}`,
      fields: { Key: `${prefix}${i}` },
    }));

  // The emulator counts a sliding minute, as SharePoint does: a run that spends more than the budget must spread
  // over more than a minute. The engine's pacing and the emulator's budget share one simulated clock (the requests
  // are real): a wait of the pacer moves that clock at once, so the minute passes in milliseconds for both.
  it('a write run larger than the per-minute budget gets no 429, where the same run unpaced is throttled', async () => {
    let simulated = Date.now();
    // A sleeper wakes at the time it asked for (the clock never goes back for one that asked less, later).
    const clock = {
      now: () => simulated,
      sleep: async (ms: number) => {
        const wake = simulated + Math.max(0, ms);
        await new Promise<void>((resolve) => setImmediate(resolve));
        simulated = Math.max(simulated, wake);
      },
    };
    const h = await startHarness({
      throttling: { enabled: true, resourceUnitsPerMinute: BUDGET },
      clock: () => simulated,
    });
    try {
      // One request at a time: the simulated clock moves only in the pacer's waits, so a request still on its way
      // when the next wait moves it would be charged late, at that later time (the reservations themselves are
      // served one at a time whatever the concurrency: ResourceBudget.reserve queues them).
      const paced = h.target({ resourceUnitsPerMinute: BUDGET, clock, maxConcurrency: 1 });
      const unpaced = h.target({
        auth: { kind: 'token', token: h.emulator.userToken('bob') },
        resourceUnitsPerMinute: 0,
        maxThrottleWaitMs: 0,
      });
      const { id: listId } = await paced.createList(h.siteId, 'Paced', [
        { name: 'Key', text: {}, indexed: true },
      ]);
      // The control first (bob's minute is his own): the same demand without pacing runs into the budget.
      const unpacedOutcomes = await unpaced.writeItems(h.siteId, listId, creates(60, 'bob'));
      expect(unpacedOutcomes.filter((o) => o.status === 'failed').length).toBeGreaterThan(0);
      expect(unpaced.stats().throttled429).toBeGreaterThan(0);

      // 60 creates = 120 resource units, more than the 100 a minute allows.
      const started = clock.now();
      const wallStarted = Date.now();
      const pacedOutcomes = await paced.writeItems(h.siteId, listId, creates(60, 'app'));
      const elapsed = clock.now() - started;
      const wall = Date.now() - wallStarted;

      expect(pacedOutcomes.map((o) => o.status)).toEqual(Array(60).fill('created'));
      expect(paced.stats().throttled429).toBe(0);
      expect(paced.stats().paceWaitMs).toBeGreaterThan(30_000);
      expect(elapsed).toBeGreaterThan(55_000);
      const log = h.emulator.control.requestLog();
      expect(log.filter((e) => e.identity === 'app' && e.status === 429)).toEqual([]);
      expect(log.filter((e) => e.identity === 'bob' && e.status === 429).length).toBeGreaterThan(0);
      // The minute was simulated: on the wall clock the run took a fraction of it.
      expect(wall).toBeLessThan(elapsed / 2);
    } finally {
      await h.close();
    }
  });
});

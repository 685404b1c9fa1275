import { CronExpressionParser } from 'cron-parser';
import fc from 'fast-check';
import {
  definitionsDueForPush,
  pullEnabledDefinitions,
  pushTickWindow,
  scheduleFiresIn,
} from '../../../src/core/ops';
import type { TestDatabase } from '../../support/db';
import { defineStored, metaDatabase } from '../../functions/support/metaFixtures';

const at = (iso: string) => new Date(iso);

describe('push fan-out schedule', () => {
  it('fires a schedule exactly when an occurrence lies in (from, to]', () => {
    const hourly = '0 0 * * * *';
    expect(
      scheduleFiresIn(hourly, { from: at('2024-01-01T09:55:00Z'), to: at('2024-01-01T10:00:00Z') }),
    ).toBe(true);
    expect(
      scheduleFiresIn(hourly, { from: at('2024-01-01T10:00:00Z'), to: at('2024-01-01T10:05:00Z') }),
    ).toBe(false);
    expect(
      scheduleFiresIn('30 */1 * * * *', { from: at('2024-01-01T10:00:00Z'), to: at('2024-01-01T10:05:00Z') }),
    ).toBe(true);
  });

  it('covers the previous occurrence up to the current one of the app schedule', () => {
    const window = pushTickWindow('0 */5 * * * *', at('2024-01-01T10:05:00.350Z'));
    expect(window).toEqual({ from: at('2024-01-01T10:00:00Z'), to: at('2024-01-01T10:05:00Z') });
  });

  it('widens the window back to the last recorded tick after missed ticks, never narrows it', () => {
    const now = at('2024-01-01T10:05:00.100Z');
    expect(pushTickWindow('0 */5 * * * *', now, at('2024-01-01T09:40:00Z')).from).toEqual(
      at('2024-01-01T09:40:00Z'),
    );
    expect(pushTickWindow('0 */5 * * * *', now, at('2024-01-01T10:05:00Z')).from).toEqual(
      at('2024-01-01T10:00:00Z'),
    );
  });

  it('makes each definition due on exactly one tick per occurrence of its own schedule', () => {
    const schedules = ['0 */5 * * * *', '0 0 * * * *', '30 */10 * * * *', '0 */15 * * * *', '0 0 2 * * *'];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 * 24 * 30 }),
        fc.constantFrom(...schedules),
        fc.integer({ min: 0, max: 900 }),
        (startMinute, schedule, lateMs) => {
          // Ticks of a 5-minute app timer over two hours, each arriving a little late.
          const base = Date.UTC(2024, 0, 1) + startMinute * 60_000;
          const first = Math.ceil(base / 300_000) * 300_000;
          let due = 0;
          let previousTo: number | null = null;
          for (let i = 0; i < 24; i++) {
            const window = pushTickWindow('0 */5 * * * *', new Date(first + i * 300_000 + lateMs));
            if (previousTo !== null) expect(window.from.getTime()).toBe(previousTo);
            previousTo = window.to.getTime();
            if (scheduleFiresIn(schedule, window)) due += 1;
          }
          const span = { from: new Date(first - 300_000), to: new Date(first + 23 * 300_000) };
          const expression = CronExpressionParser.parse(schedule, { currentDate: span.from, tz: 'UTC' });
          let occurrences = 0;
          while (expression.next().getTime() <= span.to.getTime()) occurrences += 1;
          expect(due).toBe(occurrences);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('due definitions', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await metaDatabase();
    await defineStored(db.pool, 'every5', { schedule: '0 */5 * * * *' });
    await defineStored(db.pool, 'hourly', { schedule: '0 0 * * * *' });
    await defineStored(db.pool, 'off', { schedule: '0 */5 * * * *', enabled: false });
    await defineStored(db.pool, 'pushonly', { schedule: '0 */5 * * * *', pull: { enabled: false } });
  });
  afterAll(() => db.drop());

  it('picks enabled definitions whose schedule fired in the window', async () => {
    const quarter = { from: at('2024-01-01T10:10:00Z'), to: at('2024-01-01T10:15:00Z') };
    expect((await definitionsDueForPush(db.pool, quarter)).map((d) => d.definition)).toEqual([
      'every5',
      'pushonly',
    ]);
    const top = { from: at('2024-01-01T10:55:00Z'), to: at('2024-01-01T11:00:00Z') };
    expect((await definitionsDueForPush(db.pool, top)).map((d) => d.definition)).toEqual([
      'every5',
      'hourly',
      'pushonly',
    ]);
  });

  it('lists enabled, pull-enabled definitions for the safety pull and subscriptions', async () => {
    expect((await pullEnabledDefinitions(db.pool)).map((d) => d.definition)).toEqual(['every5', 'hourly']);
  });
});

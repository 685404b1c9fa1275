import { parseDefinition } from '../../../src/core/definition/parse';
import { minutesAtBudget, unfinishedLoads } from '../../../src/core/budget/loadProgress';
import { getDefinition, upsertDefinitions } from '../../../src/core/store/definitions';
import { migrate } from '../../../src/core/store/migrate';
import { freshDatabase, type TestDatabase } from '../../support/db';
import { projectsDefinition } from '../../support/engineHarness';

describe('unfinished loads (I16)', () => {
  let db: TestDatabase;
  let id: string;
  beforeAll(async () => {
    db = await freshDatabase();
    await migrate(db.pool);
    await upsertDefinitions(db.pool, [parseDefinition(projectsDefinition())]);
    id = (await getDefinition(db.pool, 'projects')).id;
  });
  afterAll(async () => db.drop());

  const run = (trigger: string, startedSecondsAgo: number, details: object, processed = 0) =>
    db.pool.query(
      `INSERT INTO arcore.sync_runs (definition_id, run_type, trigger, status, started_at, finished_at, processed, details)
       VALUES ($1, 'PUSH', $2, 'SUCCEEDED', now() - make_interval(secs => $3), now() - make_interval(secs => $3 - 10), $4, $5)`,
      [id, trigger, startedSecondsAgo, processed, details],
    );

  it('a conflict resolved during a load neither ends the load nor counts as its progress', async () => {
    await run('timer', 300, {});
    await run('timer', 200, { incomplete: 'time budget spent', rowsLeft: 500 }, 1000);
    await run('resolve', 100, {}, 1);
    const [load] = await unfinishedLoads(db.pool, id, 1250);
    expect(load).toMatchObject({ runType: 'PUSH', runs: 1, rowsDone: 1000, rowsLeft: 500 });
    // A push that finishes the load does end it.
    await run('timer', 50, {}, 500);
    expect(await unfinishedLoads(db.pool, id, 1250)).toEqual([]);
  });

  it("a load longer than the day's bucket is estimated at the day's pace past it", () => {
    // 10,000 rows (20,000 RU) fit in the day's bucket of 50,000 at 1,250 a minute: 16 minutes.
    expect(minutesAtBudget(20_000, 1_250, 1_200_000)).toBe(16);
    // 600,000 rows (1.2 M RU): 40 minutes for the bucket, then 1,150,000 RU at about 798 a minute.
    const minutes = minutesAtBudget(1_200_000, 1_250, 1_200_000);
    expect(minutes / 60).toBeGreaterThan(24);
    expect(minutes / 60).toBeLessThan(25);
  });
});

import { budgetShape } from '../../../src/core/budget/shape';
import { runPush } from '../../../src/core/engine/push';
import type { RunSummary } from '../../../src/core/engine/types';
import { spawnEngineChild } from '../../support/engineChild';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

/** Small enough that three processes each pacing to the whole budget would overrun it within the test. */
const BUDGET = 300;
const RUN_SECONDS = 15;

/** One push or pull in its own process (its own pools, its own Graph client), as a worker instance is. */
function runInChild(h: Harness, direction: 'push' | 'pull', name: string): Promise<RunSummary> {
  return spawnEngineChild(h, [direction, name], {
    env: { GRAPH_RU_PER_MINUTE: String(BUDGET), RUN_MAX_SECONDS: String(RUN_SECONDS) },
  }).summary();
}

describe('I16 one budget for the app, across processes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    for (const n of ['a', 'b', 'c', 'd']) {
      await createProjectsTable(h.db, `projects_${n}`);
      await h.define(
        projectsDefinition(
          {
            name: `projects-${n}`,
            source: timestampSource(`projects_${n}`, 5),
          },
          `Projects ${n.toUpperCase()}`,
        ),
      );
    }
    for (const n of ['a', 'b', 'c'])
      await h.db.pool.query(
        `INSERT INTO projects_${n} (id, name) SELECT g, 'p' || g FROM generate_series(1, 300) g`,
      );
    // The pull's work: items paired with rows of projects_d, then edited in SharePoint by a user (users
    // have their own budget in the emulator).
    await h.db.pool.query(
      `INSERT INTO projects_d (id, name) SELECT g, 'p' || g FROM generate_series(1, 30) g`,
    );
    expect(await runPush(h.ctx, 'projects-d', { trigger: 'test' })).toMatchObject({ created: 30 });
    for (const item of await h.items('Projects D'))
      await h.asUser(
        'PATCH',
        `/sites/${h.siteId}/lists/${encodeURIComponent('Projects D')}/items/${item.id}/fields`,
        { Title: `edited ${String(item.fields.Title)}` },
      );
  }, 60_000);
  afterAll(async () => h.close());

  it('three pushes and a pull in four processes together stay within the budget, with no 429', async () => {
    h.emulator.control.setThrottling({ enabled: true, resourceUnitsPerMinute: BUDGET });
    const before = h.emulator.control.stats();
    const started = Date.now();
    const [a, b, c, pull] = await Promise.all([
      runInChild(h, 'push', 'projects-a'),
      runInChild(h, 'push', 'projects-b'),
      runInChild(h, 'push', 'projects-c'),
      runInChild(h, 'pull', 'projects-d'),
    ]);
    const elapsedMs = Date.now() - started;
    const after = h.emulator.control.stats();
    process.stdout.write(
      `shared budget: ${elapsedMs} ms, ${after.resourceUnits - before.resourceUnits} RU of ${BUDGET}, ` +
        `created ${a.created}/${b.created}/${c.created}, pulled ${pull.updated}\n`,
    );
    // The emulator counts every sliding minute as SharePoint does: not one request was refused, and the
    // units spent are what one shared bucket allows over the time (a minute's budget at most per minute).
    expect(after.throttled429 - before.throttled429).toBe(0);
    const shape = budgetShape(BUDGET);
    const spent = after.resourceUnits - before.resourceUnits;
    expect(spent).toBeLessThanOrEqual(shape.capacity + shape.ratePerMs * elapsedMs);
    if (elapsedMs < 60_000) expect(spent).toBeLessThanOrEqual(BUDGET);
    for (const push of [a, b, c]) {
      // Every push stopped at its time budget with its work committed. A wait for the budget that would end past the
      // run's deadline stops the run instead (pacing.ts minuteStop), so its waits stay within its time. (One whose
      // waits others' reservations kept beating may have sent nothing in its 15 s: its next run goes on.)
      expect(push.status).toBe('SUCCEEDED');
      expect(push.paceWaitMs).toBeLessThanOrEqual(RUN_SECONDS * 1000);
      expect(push.complete).toBe(false);
    }
    expect(a.created + b.created + c.created).toBeGreaterThan(0);
    expect(a.created + b.created + c.created).toBe(
      (await h.items('Projects A')).length +
        (await h.items('Projects B')).length +
        (await h.items('Projects C')).length,
    );
    // The pull (priority work) was served in full while the pushes held the budget.
    expect(pull).toMatchObject({ status: 'SUCCEEDED', complete: true, updated: 30 });
    const { rows } = await h.db.pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM projects_d WHERE name LIKE 'edited %'",
    );
    expect(Number(rows[0].n)).toBe(30);
  }, 90_000);
});

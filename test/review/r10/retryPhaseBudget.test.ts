/**
 * Review r10: a push's retries of parked rows ignore its time budget (I16 "every run ends within its time budget").
 * push.ts retries up to 1,000 due rows (dueFailures' limit), a page at a time, before the page loop; no page of
 * them looks at `timeLeft()`. Pacing to a shared budget makes each page wait its share, so a run whose retries
 * outlast RUN_MAX_SECONDS runs on towards the Functions timeout (30 min), where the host kills it.
 */
import { loadSettings } from '../../../src/config/settings';
import { createEngineContext } from '../../../src/core/engine/context';
import { runPush } from '../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

const ROWS = 100;

describe('r10 retries of parked rows and the run time budget', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
    await h.define(projectsDefinition({ source: timestampSource('projects', 20) }));
    await h.db.pool.query(
      `INSERT INTO projects (id, name) SELECT g, 'p' || g FROM generate_series(1, ${ROWS}) g`,
    );
    // Every create refused once (as during an outage of the list's columns): all rows parked, due at once.
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '/items$', count: ROWS, status: 400 });
    expect(await runPush(h.ctx, 'projects', { trigger: 'test' })).toMatchObject({ failed: ROWS, created: 0 });
    h.emulator.control.clearFaults();
    const { rows } = await h.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM arcore.sync_failures WHERE status = 'PARKED' AND next_attempt_at <= now()`,
    );
    expect(rows[0].n).toBe(ROWS);
  }, 60_000);
  afterAll(async () => h.close());

  it('a push with a 2 s budget at 600 RU/min writes every parked row (200 RU, some 16 s of pacing) before it stops', async () => {
    const { ctx, close } = await createEngineContext(
      loadSettings({
        DATABASE_URL: h.db.url,
        GRAPH_BASE_URL: h.emulator.baseUrl,
        GRAPH_TOKEN: h.emulator.appToken,
        GRAPH_RU_PER_MINUTE: '600',
      }),
      { caCert: h.emulator.caCert },
    );
    try {
      const summary = await runPush(ctx, 'projects', { trigger: 'test', maxSeconds: 2 });
      // Expected: the retries stop once the budget is spent (between pages of 20, as the page loop does), the rest
      // stay parked for the continuation. Found: all 100 are written, the run lasting far past its 2 s.
      expect(summary.created).toBeLessThan(ROWS);
    } finally {
      await close();
    }
  }, 120_000);
});

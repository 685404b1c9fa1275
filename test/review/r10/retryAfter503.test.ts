/**
 * Review r10: a 503 with Retry-After, SharePoint's other throttling answer (I10, I16). Microsoft's "Avoid getting
 * throttled or blocked in SharePoint Online": for requests an application makes, SharePoint "returns HTTP status code
 * 429 ("Too many requests") or 503 ("Server Too Busy") ... In both cases, a Retry-After header is included in the
 * response indicating how long the calling application should wait before retrying or making a new request.
 * Throttled requests count towards usage limits, so failure to honor Retry-After may result in more throttling."
 * graph.md: "429 (and 503) carry Retry-After". The client treats a 429 as a block shared by every worker, capped by
 * GRAPH_MAX_RETRY_AFTER_SECONDS and bounded by the run's deadline; a 503 gets none of that.
 */
import { loadSettings } from '../../../src/config/settings';
import { createEngineContext } from '../../../src/core/engine/context';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

describe('r10 a 503 with Retry-After is SharePoint throttling', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
    await h.define(projectsDefinition({ source: timestampSource('projects', 20) }));
    await h.db.pool.query("INSERT INTO projects (id, name) SELECT g, 'p' || g FROM generate_series(1, 10) g");
  }, 60_000);
  afterEach(async () => h.close());

  /** Another engine context (an instance of the app) with its own settings over the harness's. */
  const instance = (env: Record<string, string>) =>
    createEngineContext(
      loadSettings({
        DATABASE_URL: h.db.url,
        GRAPH_BASE_URL: h.emulator.baseUrl,
        GRAPH_TOKEN: h.emulator.appToken,
        GRAPH_RU_PER_MINUTE: '10000000',
        PENDING_CREATE_SETTLE_SECONDS: '0',
        ...env,
      }),
      { caCert: h.emulator.caCert },
    );

  it('a $batch answered 503 Retry-After 60 is followed by more requests at once, and no other worker is told', async () => {
    h.emulator.control.injectFault({
      method: 'POST',
      pathPattern: '\\$batch$',
      count: 1,
      status: 503,
      retryAfterSeconds: 60,
    });
    h.emulator.control.clearRequestLog();
    const summary = await runPush(h.ctx, 'projects', { trigger: 'test', maxSeconds: 10 });
    const log = h.emulator.control.requestLog();
    const throttledAt = log.findIndex((e) => e.path === '/$batch' && e.status === 503);
    expect(throttledAt).toBeGreaterThanOrEqual(0);
    // Requests this run sent after the 503 while its Retry-After was still running (the whole run was shorter).
    const sentDuringRetryAfter = summary.durationMs < 60_000 ? log.slice(throttledAt + 1) : [];
    const { rows: blocks } = await h.db.pool.query('SELECT app_key FROM arcore.graph_throttle');
    // Found: look-ups of the ten creates (each a GET costing 2 RU) and the same $batch again, within about a second;
    // arcore.graph_throttle has no block, so every other worker of the app keeps sending too.
    expect({
      sentDuringRetryAfter: sentDuringRetryAfter.map(
        (e) => `${e.method} ${e.path.replace(/\/sites\/[^/]+/, '')}`,
      ),
      sharedBlocks: blocks.length,
    }).toEqual({ sentDuringRetryAfter: [], sharedBlocks: 1 });
  }, 120_000);

  it('an inner 503 Retry-After 40 holds the push 40 s, past GRAPH_MAX_RETRY_AFTER_SECONDS (2) and its 3 s budget', async () => {
    const { ctx, close } = await instance({ GRAPH_MAX_RETRY_AFTER_SECONDS: '2' });
    try {
      h.emulator.control.injectFault({
        method: 'POST',
        pathPattern: '/items$',
        count: 1,
        status: 503,
        retryAfterSeconds: 40,
      });
      const summary = await runPush(ctx, 'projects', { trigger: 'test', maxSeconds: 3 });
      // A 429 asking the same is honoured 2 s (capped), or stops the run at its deadline (sharedBudget.test.ts).
      // Found: the batch writer sleeps the whole Retry-After (transientBackoff), whatever the cap and the deadline;
      // at SharePoint's reported 300 s and five attempts, a run outlives the Functions timeout.
      expect(summary.durationMs).toBeLessThan(20_000);
    } finally {
      await close();
    }
  }, 120_000);

  it('a delta read answered 503 Retry-After 40 holds the pull 40 s, past its 3 s budget', async () => {
    const { ctx, close } = await instance({ GRAPH_MAX_RETRY_AFTER_SECONDS: '2' });
    try {
      h.emulator.control.injectFault({
        method: 'GET',
        pathPattern: '/items/delta$',
        count: 1,
        status: 503,
        retryAfterSeconds: 40,
      });
      const summary = await runPull(ctx, 'projects', { trigger: 'test', maxSeconds: 3 });
      // Found: GraphTransport sleeps max(Retry-After, back-off) for a 5xx (attemptUntilSettled), uncapped and past
      // the run's deadline, and tells no other worker.
      expect(summary.durationMs).toBeLessThan(20_000);
    } finally {
      await close();
    }
  }, 120_000);
});

/**
 * Review r10: instances whose clocks differ (I10, I16). The shared resource-unit bucket is timed by Postgres
 * (`clock_timestamp()` in pgBudgetStore.ts, "so that every process computes the same one"), but the shared 429 block
 * is not: GraphTransport.noteThrottled writes `Date.now() + Retry-After` of the instance that met the 429 into
 * arcore.graph_throttle, and PgThrottleGate.blockedUntil compares it with the reading instance's own Date.now(). A
 * worker whose clock is behind writes a block that has already ended for the others.
 */
import { join } from 'node:path';
import { runPush } from '../../../src/core/engine/push';
import { spawnEngineChild } from '../../support/engineChild';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

describe('r10 the shared 429 block and instance clocks', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    for (const n of ['a', 'b']) {
      await createProjectsTable(h.db, `projects_${n}`);
      await h.db.pool.query(
        `INSERT INTO projects_${n} (id, name) SELECT g, '${n}' || g FROM generate_series(1, 10) g`,
      );
      await h.define(
        projectsDefinition(
          { name: `projects-${n}`, source: timestampSource(`projects_${n}`) },
          `Projects ${n.toUpperCase()}`,
        ),
      );
    }
  }, 60_000);
  afterAll(async () => h.close());

  it('a 429 Retry-After 30 met by an instance 40 s behind does not hold an instance on time', async () => {
    // Instance A, its clock 40 s behind, meets a 429 asking every caller of the app to wait 30 s.
    h.emulator.control.injectFault({
      method: 'POST',
      pathPattern: '\\$batch$',
      count: 1,
      status: 429,
      retryAfterSeconds: 30,
    });
    const a = await spawnEngineChild(h, ['push', 'projects-a'], {
      env: {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${join(__dirname, 'fixtures', 'clockSkew.cjs')}`,
        CLOCK_SKEW_MS: '-40000',
        RUN_MAX_SECONDS: '5',
      },
    }).summary();
    // A stops at once (the block outlasts its 5 s budget), as it should.
    expect(a).toMatchObject({ complete: false, created: 0 });
    const throttledAt = Date.now();
    // Instance B, on time, pushes another definition of the same app within those 30 s.
    const b = await runPush(h.ctx, 'projects-b', { trigger: 'test', maxSeconds: 5 });
    // Expected: B honours the block (stops before sending, as A did). Found: the block B reads ended 10 s before
    // the 429 was answered, by B's clock: B sends all its writes inside the server's Retry-After.
    expect(Date.now() - throttledAt).toBeLessThan(30_000);
    expect({ created: b.created, graphRequests: b.graphRequests }).toEqual({ created: 0, graphRequests: 0 });
  }, 120_000);
});

/**
 * I10/I16 instances whose clocks differ. The shared 429 block, like the resource-unit bucket, is timed by Postgres: it
 * is written as the database's now plus the wait and read as the time left (pgThrottleGate.ts). Were it timed by each
 * instance's clock, a worker whose clock is behind would write a block that has already ended for the others.
 * Instance A is a real engine child whose `Date.now` runs 40 s behind (the preload fixtures/clockSkew.cjs; no
 * libfaketime here).
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

describe('I16 the shared 429 block and instance clocks', () => {
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

  it('a 429 Retry-After 30 met by an instance 40 s behind holds an instance whose clock is right for those 30 s', async () => {
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
    // Instance B, on time, pushes another definition of the same app within those 30 s. It is a context of its own,
    // as another instance is: the harness's context may have read the gate within its cache's 3 s before A's block
    // (pgThrottleGate.ts), and would then go on for those seconds, as it is meant to.
    const instanceB = await h.otherInstance();
    const b = await runPush(instanceB.ctx, 'projects-b', { trigger: 'test', maxSeconds: 5 }).finally(() =>
      instanceB.close(),
    );
    // B honours the block: it stops before sending, as A did. (The bound on the elapsed time only checks that B
    // ran inside the 30 s asked for; it holds with 25 s to spare.)
    expect(Date.now() - throttledAt).toBeLessThan(30_000);
    expect({ created: b.created, graphRequests: b.graphRequests }).toEqual({ created: 0, graphRequests: 0 });
    expect(b).toMatchObject({ complete: false, status: 'SUCCEEDED' });
    // What A wrote is 30 s from the database's now, whatever A's own clock said.
    const { rows } = await h.db.pool.query<{ left_s: number }>(
      'SELECT extract(epoch FROM blocked_until - clock_timestamp())::float8 AS left_s FROM arcore.graph_throttle',
    );
    expect(rows[0].left_s).toBeGreaterThan(0);
    expect(rows[0].left_s).toBeLessThanOrEqual(30);
  }, 120_000);
});

/**
 * Review r10: the lock lost (its connection dropped) while a run waits out a 429 (I11). design.md: the run checks its
 * lock "before each `$batch` leaves (... a page's batches queued behind those in flight never leave once the loss is
 * known)", and the pending-create wait (I6) "assumes what I11 does: a run that lost its lock stops sending at once".
 * The check (BatchWriter.writeChunk's beforeWrite) runs once per attempt of the batch writer, before the transport's
 * slot, its 429 block wait and its pacing; the transport then re-sends the same `$batch` after the wait
 * (GraphTransport.attemptUntilSettled) without asking again.
 */
import { loadSettings } from '../../../src/config/settings';
import { createEngineContext } from '../../../src/core/engine/context';
import { runPush } from '../../../src/core/engine/push';
import { eventually } from '../../support/eventually';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

describe('r10 a lock lost during a 429 wait', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
    await h.define(projectsDefinition({ source: timestampSource('projects', 20) }));
    await h.db.pool.query("INSERT INTO projects (id, name) SELECT g, 'p' || g FROM generate_series(1, 10) g");
  }, 60_000);
  afterAll(async () => h.close());

  it('the $batch waiting out a 429 is sent after the lock is known lost', async () => {
    let lossLogged = -1;
    let terminating: Promise<void> | null = null;
    const terminateLockSession = async () => {
      const { rows } = await h.db.pool.query<{ pid: number }>(
        `SELECT l.pid FROM pg_locks l JOIN arcore.sync_definitions d ON l.objid = d.id::oid AND d.name = 'projects'
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      expect(rows).toHaveLength(1);
      await h.db.pool.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      await eventually('the lock session gone', async () => {
        const { rows: left } = await h.db.pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [
          rows[0].pid,
        ]);
        return left.length === 0;
      });
      // Everything the emulator logged from here on was sent after the loss.
      lossLogged = h.emulator.control.requestLog().length;
    };
    const { ctx, close } = await createEngineContext(
      loadSettings({
        DATABASE_URL: h.db.url,
        GRAPH_BASE_URL: h.emulator.baseUrl,
        GRAPH_TOKEN: h.emulator.appToken,
        GRAPH_RU_PER_MINUTE: '10000000',
      }),
      {
        caCert: h.emulator.caCert,
        // The client reports the 429 block before it sleeps: the lock's session is terminated then.
        onProgress: (e) => {
          if (e.wait?.reason === 'throttled' && !terminating) terminating = terminateLockSession();
        },
      },
    );
    try {
      h.emulator.control.clearRequestLog();
      h.emulator.control.injectFault({
        method: 'POST',
        pathPattern: '\\$batch$',
        count: 1,
        status: 429,
        retryAfterSeconds: 5,
      });
      const summary = await runPush(ctx, 'projects', { trigger: 'test' });
      await terminating;
      expect(lossLogged).toBeGreaterThan(0);
      expect(summary.error ?? '').toMatch(/^Lost the lock of definition/);
      // Expected: nothing leaves once the loss is known (the creates stay pending for the next run). Found: the
      // throttled $batch is sent again 5 s after the loss and its 10 creates applied, while another instance may
      // already hold the lock and be settling those very creates.
      const sentAfterLoss = h.emulator.control
        .requestLog()
        .slice(lossLogged)
        .filter((e) => e.method === 'POST');
      expect(sentAfterLoss.map((e) => e.path.replace(/\/sites\/[^/]+/, ''))).toEqual([]);
    } finally {
      await close();
    }
  }, 120_000);
});

import type { InvocationContext } from '@azure/functions';
import { loadSettings } from '../../src/config/settings';
import { createEngineContext } from '../../src/core/engine/context';
import type { RunSummary } from '../../src/core/engine/types';
import { markPullPending } from '../../src/core/subscriptions';
import { disabledTelemetry } from '../../src/core/telemetry';
import { pullWorker } from '../../src/functions/pullWorker';
import { pushWorker } from '../../src/functions/pushWorker';
import {
  pullQueueOutput,
  pushQueueOutput,
  type PullMessage,
  type PushMessage,
} from '../../src/functions/queues';
import { installRuntime } from '../../src/functions/runtime';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../support/engineHarness';
import { invocation, queued } from './support/invocation';
import { eventually } from '../support/eventually';

type Work = { kind: 'push'; message: PushMessage } | { kind: 'pull'; message: PullMessage };

const BUDGET = 1200;

/**
 * A storage queue in miniature, driving the real handlers: each delivery is one invocation; what the
 * handler sends on is queued; a throw is retried up to 5 times (host.json maxDequeueCount) and then
 * counted as poisoned.
 */
class QueueDriver {
  readonly queue: Work[] = [];
  readonly summaries: RunSummary[] = [];
  invocations = 0;
  poisoned = 0;
  failures: string[] = [];

  async deliver(work: Work): Promise<RunSummary | null> {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const { context } = invocation(work.kind === 'push' ? 'pushWorker' : 'pullWorker', {
        dequeueCount: attempt,
      });
      this.invocations += 1;
      try {
        const summary =
          work.kind === 'push'
            ? await pushWorker(work.message, context)
            : await pullWorker(work.message, context);
        this.collect(context);
        if (summary) this.summaries.push(summary);
        return summary;
      } catch (err) {
        this.failures.push(err instanceof Error ? err.message : String(err));
      }
    }
    this.poisoned += 1;
    return null;
  }

  async drain(): Promise<void> {
    for (let work = this.queue.shift(); work; work = this.queue.shift()) await this.deliver(work);
  }

  private collect(context: InvocationContext): void {
    for (const message of queued<PushMessage>(context, pushQueueOutput))
      this.queue.push({ kind: 'push', message });
    for (const message of queued<PullMessage>(context, pullQueueOutput))
      this.queue.push({ kind: 'pull', message });
  }
}

describe('I16 runs that fit an invocation, through the Functions handlers', () => {
  let h: Harness;
  let uninstall: () => void;
  let closeCtx: () => Promise<void>;
  let definitionIds: Map<string, string>;

  beforeAll(async () => {
    h = await startHarness();
    for (const name of ['load', 'busy']) {
      await createProjectsTable(h.db, name);
      await h.define(
        projectsDefinition(
          {
            name,
            source: timestampSource(name, 10),
          },
          name === 'load' ? 'Load' : 'Busy',
        ),
      );
    }
    const { rows } = await h.db.pool.query<{ id: string; name: string }>(
      'SELECT id::text AS id, name FROM arcore.sync_definitions',
    );
    definitionIds = new Map(rows.map((r) => [r.name, r.id]));
    // A small budget (the emulator enforces it) and a 2-second time budget per run.
    const { ctx, close } = await createEngineContext(
      loadSettings({
        DATABASE_URL: h.db.url,
        GRAPH_BASE_URL: h.emulator.baseUrl,
        GRAPH_TOKEN: h.emulator.appToken,
        GRAPH_RU_PER_MINUTE: String(BUDGET),
        RUN_MAX_SECONDS: '2',
      }),
      { caCert: h.emulator.caCert },
    );
    closeCtx = close;
    uninstall = installRuntime({
      ctx,
      telemetry: disabledTelemetry,
      webhookUrls: {},
      queueDelays: { busyRetryMs: 200, maxInlineWaitMs: 5_000 },
    });
    h.emulator.control.setThrottling({ enabled: true, resourceUnitsPerMinute: BUDGET });
  }, 60_000);

  afterAll(async () => {
    uninstall();
    await closeCtx();
    await h.close();
  });

  it('a load larger than one run completes over many invocations: continuations, no poison message, one item per row', async () => {
    await h.db.pool.query("INSERT INTO load (id, name) SELECT g, 'p' || g FROM generate_series(1, 150) g");
    const driver = new QueueDriver();
    driver.queue.push({ kind: 'push', message: { definition: 'load', trigger: 'ops' } });
    await driver.drain();
    expect(driver.poisoned).toBe(0);
    expect(driver.failures).toEqual([]);
    const pushes = driver.summaries.filter((s) => s.runType === 'PUSH');
    expect(pushes.length).toBeGreaterThanOrEqual(3);
    expect(pushes.slice(0, -1).every((s) => !s.complete && s.status === 'SUCCEEDED')).toBe(true);
    expect(pushes[pushes.length - 1]).toMatchObject({ status: 'SUCCEEDED', complete: true });
    expect(pushes.reduce((n, s) => n + s.created, 0)).toBe(150);
    const items = await h.items('Load');
    expect(items).toHaveLength(150);
    expect(new Set(items.map((i) => i.fields.Title)).size).toBe(150);
    expect(h.emulator.control.stats().throttled429).toBe(0);
  }, 120_000);

  it('a pull that meets a running push is sent again and served after it, without a poison message', async () => {
    await h.db.pool.query("INSERT INTO busy (id, name) SELECT g, 'p' || g FROM generate_series(1, 80) g");
    const driver = new QueueDriver();
    // The first run pushes part of the table; an item it made is then edited in SharePoint.
    await driver.deliver({ kind: 'push', message: { definition: 'busy', trigger: 'ops' } });
    const [first] = await h.items('Busy');
    await h.asUser('PATCH', `/sites/${h.siteId}/lists/Busy/items/${first.id}/fields`, {
      Title: 'edited in SharePoint',
    });
    // The continuation runs; while it holds the lock, the webhook's pull arrives.
    const continuation = driver.queue.shift();
    if (!continuation) throw new Error('the first push sent no continuation');
    const running = driver.deliver(continuation);
    await eventually(
      'the push to run',
      async () => {
        const { rows } = await h.db.pool.query(
          "SELECT 1 FROM arcore.sync_runs WHERE status = 'RUNNING' AND run_type = 'PUSH'",
        );
        return rows.length > 0;
      },
      30_000,
      20,
    );
    const definitionId = definitionIds.get('busy') as string;
    await markPullPending(h.db.pool, definitionId, 'webhook');
    const busy = await driver.deliver({
      kind: 'pull',
      message: { definition: 'busy', definitionId, trigger: 'webhook' },
    });
    expect(busy?.status).toBe('SKIPPED');
    const retry = driver.queue.find((w) => w.kind === 'pull');
    expect(retry?.message.notBefore).toBeDefined();
    await running;
    await driver.drain();
    expect(driver.poisoned).toBe(0);
    expect(driver.failures).toEqual([]);
    const pulls = driver.summaries.filter((s) => s.runType === 'PULL' && s.status !== 'SKIPPED');
    expect(pulls.length).toBeGreaterThanOrEqual(1);
    expect(pulls.every((s) => s.status === 'SUCCEEDED')).toBe(true);
    const { rows } = await h.db.pool.query<{ name: string }>(
      "SELECT name FROM busy WHERE name = 'edited in SharePoint'",
    );
    expect(rows).toHaveLength(1);
    expect(await h.items('Busy')).toHaveLength(80);
  }, 120_000);
});

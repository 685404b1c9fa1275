import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import type { Logger } from '../../../src/core/engine/types';
import { listStoredSubscriptions } from '../../../src/core/subscriptions';
import { startLocalHost, type LocalHost } from '../../../src/serve';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';
import { eventually } from '../../support/eventually';

const lines: string[] = [];
const log: Logger = {
  info: (m) => lines.push(`info ${m}`),
  warn: (m) => lines.push(`warn ${m}`),
  error: (m) => lines.push(`error ${m}`),
};

/**
 * `arcore-sync serve` keeps its queue in memory. Stopping it (Ctrl-C; a crash loses the same) drops the pull
 * messages not yet started, but the definition's pending_pulls row that stood for such a message stays. The next
 * `serve` then treats every change notification of the next 15 minutes as "a pull is already on its way" (I11)
 * and enqueues nothing: the edits made in SharePoint meanwhile are not pulled.
 */
describe('r12: a local host stopped with a pull queued leaves the pull pending for the next host', () => {
  let h: Harness;
  let first: LocalHost | undefined;
  let second: LocalHost | undefined;
  const options = {
    port: 0,
    log,
    pushIntervalMs: 3_600_000,
    safetyIntervalMs: 3_600_000,
    subscriptionIntervalMs: 3_600_000,
    retryDelayMs: 200,
  };
  const liveFor = (host: LocalHost) =>
    eventually(`a subscription for ${host.notificationUrl}`, async () =>
      (await listStoredSubscriptions(h.db.pool)).find(
        (s) => s.notificationUrl === host.notificationUrl && s.state === 'ACTIVE',
      ),
    );
  const pullNow = async (host: LocalHost) => {
    const res = await fetch(`${host.url}/api/ops/definitions/projects/pull`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ wait: false }),
    });
    expect(res.status).toBe(202);
  };

  beforeAll(async () => {
    h = await startHarness({ notificationDelayMs: 0 });
    await createProjectsTable(h.db);
    await h.define(projectsDefinition({ schedule: '0 0 0 1 1 *' }));
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'one')");
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    await runPull(h.ctx, 'projects', { trigger: 'test' });
  });

  afterAll(async () => {
    await second?.stop();
    await first?.stop();
    await h?.close();
  });

  it('the next host pulls an edit made in SharePoint after it started', async () => {
    first = await startLocalHost({ ctx: h.ctx, ...options });
    await liveFor(first);
    // The first pull is slow (its delta request waits), so the second one waits in the definition's lane.
    h.emulator.control.injectFault({ pathPattern: 'delta', count: 1, latencyMs: 1500 });
    await pullNow(first);
    await pullNow(first);
    await first.stop();
    expect(lines).toContain('warn local queue: dropping 1 queued item(s) of projects');

    second = await startLocalHost({ ctx: h.ctx, ...options });
    await liveFor(second);
    const [item] = await h.items('Projects');
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item.id}/fields`, {
      Title: 'edited after the restart',
    });
    expect(edit.status).toBe(200);
    const answered = await eventually('the notification of the edit', () =>
      lines.find((l) => /\[graphWebhook\] graphWebhook: \d+ accepted/.test(l)),
    );
    expect(answered).toMatch(/1 pull\(s\) enqueued/);
  });
});

import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';
import type { Logger } from '../../src/core/engine/types';
import { listStoredSubscriptions } from '../../src/core/subscriptions';
import { startLocalHost, type LocalHost } from '../../src/serve';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../support/engineHarness';
import { eventually } from '../support/eventually';

const lines: string[] = [];
const log: Logger = {
  info: (m) => lines.push(`info ${m}`),
  warn: (m) => lines.push(`warn ${m}`),
  error: (m) => lines.push(`error ${m}`),
};

/**
 * `arcore-sync serve` keeps its queue in memory: stopping it (Ctrl-C) drops the pull messages not yet started, and
 * a crash loses them all. The pending rows that stood for them must not make the next host take every change
 * notification for "a pull is already on its way" (I11) for STALE_PENDING_PULL_SECONDS. Found by review r12.
 */
describe('local host restart: pulls the previous host dropped are not lost', () => {
  let h: Harness;
  let first: LocalHost | undefined;
  let second: LocalHost | undefined;
  let third: LocalHost | undefined;
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
  const pending = async () =>
    (await h.db.pool.query<{ message_sent: boolean }>('SELECT message_sent FROM arcore.pending_pulls')).rows;

  beforeAll(async () => {
    h = await startHarness({ notificationDelayMs: 0 });
    await createProjectsTable(h.db);
    // A page a row: a push its time budget stops has rows left (the last case).
    await h.define(projectsDefinition({ schedule: '0 0 0 1 1 *', source: timestampSource('projects', 1) }));
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'one')");
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    await runPull(h.ctx, 'projects', { trigger: 'test' });
  });

  afterAll(async () => {
    await third?.stop();
    await second?.stop();
    await first?.stop();
    await h?.close();
  });

  it('stopping releases the dropped pull; the next host (after a stop or a crash) pulls an edit made after it started', async () => {
    first = await startLocalHost({ ctx: h.ctx, ...options });
    await liveFor(first);
    // The first pull is slow (its delta request waits), so the second one waits in the definition's lane.
    h.emulator.control.injectFault({ pathPattern: 'delta', count: 1, latencyMs: 1500 });
    await pullNow(first);
    await pullNow(first);
    await first.stop();
    // (The first upkeep's catch-up pull of the new subscription may be queued too.)
    expect(lines.some((l) => /^warn local queue: dropping \d+ queued item\(s\) of projects$/.test(l))).toBe(
      true,
    );
    // The pull is owed: no message claims to be on its way.
    expect(await pending()).toEqual([{ message_sent: false }]);
    // A crash would have left the row as it was: "sent". The next host must not trust it either.
    await h.db.pool.query('UPDATE arcore.pending_pulls SET message_sent = true');

    second = await startLocalHost({ ctx: h.ctx, ...options });
    await eventually('the next host to take over the pending pull', () =>
      lines.includes('info local host: 1 pull(s) left pending by an earlier host enqueued: projects'),
    );
    await liveFor(second);
    const [item] = await h.items('Projects');
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item.id}/fields`, {
      Title: 'edited after the restart',
    });
    expect(edit.status).toBe(200);
    await eventually('the edit to reach Postgres', async () => {
      const { rows } = await h.db.pool.query<{ name: string }>('SELECT name FROM projects WHERE id = 1');
      return rows[0]?.name === 'edited after the restart';
    });
  });

  /**
   * A push its time budget stopped sends its continuation to the queue, which a stop drops (and a crash loses): with a
   * schedule of days or more the rest of the rows waited for it, and the log said only that items were dropped
   * (review r34). The next host sends the push such a run left owed.
   */
  it('the next host continues a push whose continuation the previous host dropped', async () => {
    await second?.stop();
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (2, 'two'), (3, 'three')");
    // As the stopped host's push left it: its first page in, its continuation gone with the queue.
    const cut = await runPush(h.ctx, 'projects', { trigger: 'test', maxSeconds: 0 });
    expect(cut).toMatchObject({ complete: false });
    expect((await h.items('Projects')).length).toBeLessThan(3);
    third = await startLocalHost({ ctx: h.ctx, ...options });
    await eventually(
      'the next host to push the rows left',
      async () => (await h.items('Projects')).length === 3,
    );
    expect(lines).toContain('info local host: 1 push(es) an earlier run left unfinished enqueued: projects');
  });
});

import type { Logger } from '../../src/core/engine/types';
import { listStoredSubscriptions } from '../../src/core/subscriptions';
import { startLocalHost, type LocalHost } from '../../src/serve';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../support/engineHarness';
import { eventually } from '../support/eventually';

type Line = Record<string, unknown>;

const raw: { line: string; level: string }[] = [];
const events = (): Line[] => raw.map((r) => JSON.parse(r.line) as Line);
const log: Logger = { info() {}, warn() {}, error: (m) => raw.push({ line: m, level: 'error' }) };

describe('local host logs you can follow (--log-format json) and shutdown cleanup', () => {
  let h: Harness;
  let host: LocalHost;

  beforeAll(async () => {
    h = await startHarness({ notificationDelayMs: 0 });
    await createProjectsTable(h.db);
    await h.define(projectsDefinition({ schedule: '* * * * * *' }));
    host = await startLocalHost({
      ctx: h.ctx,
      port: 0,
      log,
      events: { format: 'json', write: (line, level) => raw.push({ line, level }) },
      pushIntervalMs: 300,
      safetyIntervalMs: 3_600_000,
      subscriptionIntervalMs: 3_600_000,
      retryDelayMs: 200,
    });
    await eventually(
      'a stored subscription',
      async () => (await listStoredSubscriptions(h.db.pool)).length > 0,
    );
  });

  afterAll(async () => {
    await host?.stop();
    await h?.close();
  });

  it('writes a run start and a run end line, each one JSON object with the run fields', async () => {
    await h.db.pool.query("INSERT INTO projects (id, name, budget) VALUES (1, 'from postgres', 12.5)");
    const end = await eventually('a push run.end line that created the row', () =>
      events().find((e) => e.event === 'run.end' && e.runType === 'PUSH' && e.created === 1),
    );
    expect(end).toMatchObject({
      definition: 'projects',
      trigger: 'queue',
      runId: expect.any(String),
      status: 'SUCCEEDED',
      durationMs: expect.any(Number),
      resourceUnits: expect.any(Number),
      complete: true,
      processed: 1,
      created: 1,
      updated: 0,
      deleted: 0,
      failed: 0,
    });
    expect(Number.isNaN(Date.parse(String(end.timestamp)))).toBe(false);
    expect(end.resourceUnits).toBeGreaterThan(0);
    const starts = events().filter((e) => e.event === 'run.start' && e.runId === end.runId);
    expect(starts).toEqual([
      {
        event: 'run.start',
        timestamp: expect.any(String),
        definition: 'projects',
        runType: 'PUSH',
        trigger: 'queue',
        runId: end.runId,
      },
    ]);
    expect(events().filter((e) => e.event === 'run.end' && e.runId === end.runId)).toHaveLength(1);
    const { rows } = await h.db.pool.query<{ status: string }>(
      'SELECT status FROM arcore.sync_runs WHERE id::text = $1',
      [end.runId],
    );
    expect(rows).toEqual([{ status: 'SUCCEEDED' }]);
  });

  it('writes one line per received notification naming its subscription and definition', async () => {
    const [subscription] = await listStoredSubscriptions(h.db.pool);
    const item = (await h.items('Projects')).find((i) => i.fields.Title === 'from postgres');
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item!.id}/fields`, {
      Title: 'edited by alice',
    });
    expect(edit.status).toBe(200);
    const accepted = await eventually('an accepted notification line', () =>
      events().find((e) => e.event === 'notification' && e.outcome === 'accepted'),
    );
    expect(accepted).toMatchObject({
      subscriptionId: subscription.subscriptionId,
      definition: 'projects',
      reason: null,
    });
    const pullEnd = await eventually('the webhook pull run.end line', () =>
      events().find((e) => e.event === 'run.end' && e.trigger === 'webhook' && e.updated === 1),
    );
    expect(pullEnd).toMatchObject({ definition: 'projects', status: 'SUCCEEDED', complete: true });

    // A forged notification: known subscription, wrong clientState. One line, rejected, and why.
    const before = raw.length;
    const forged = await fetch(host.notificationUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        value: [
          {
            subscriptionId: subscription.subscriptionId,
            clientState: 'not-the-secret',
            changeType: 'updated',
            resource: subscription.resource,
          },
        ],
      }),
    });
    expect(forged.status).toBe(202);
    const lines = raw.slice(before).filter((r) => (JSON.parse(r.line) as Line).event === 'notification');
    expect(lines).toHaveLength(1);
    expect(lines[0].level).toBe('warn');
    expect(JSON.parse(lines[0].line)).toEqual({
      event: 'notification',
      timestamp: expect.any(String),
      subscriptionId: subscription.subscriptionId,
      definition: 'projects',
      outcome: 'rejected',
      reason: 'clientState does not match the subscription',
    });
  });

  it('deletes its own subscriptions at Graph on stop() and marks them REMOVED', async () => {
    const target = h.ctx.target();
    try {
      const live = await target.listSubscriptions();
      expect(live.filter((s) => s.notificationUrl === host.notificationUrl)).toHaveLength(1);
      await host.stop();
      const after = await target.listSubscriptions();
      expect(after.filter((s) => s.notificationUrl === host.notificationUrl)).toEqual([]);
    } finally {
      await target.close();
    }
    const stored = await listStoredSubscriptions(h.db.pool);
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.map((s) => s.state)).toEqual(stored.map(() => 'REMOVED'));
    expect(raw.filter((r) => r.level === 'error')).toEqual([]);
  });
});

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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const lines: string[] = [];
const log: Logger = {
  info: (m) => lines.push(`info ${m}`),
  warn: (m) => lines.push(`warn ${m}`),
  error: (m) => lines.push(`error ${m}`),
};

describe('local host end to end (emulator, real HTTP, real Postgres, no mocks)', () => {
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
      pushIntervalMs: 300,
      safetyIntervalMs: 3_600_000,
      subscriptionIntervalMs: 3_600_000,
      retryDelayMs: 200,
    });
  });

  afterAll(async () => {
    await host?.stop();
    await h?.close();
  });

  it('creates the subscription through the real validation handshake at start-up', async () => {
    const [subscription] = await eventually('a stored subscription', async () => {
      const stored = await listStoredSubscriptions(h.db.pool);
      return stored.length > 0 && stored;
    });
    expect(subscription).toMatchObject({ state: 'ACTIVE', notificationUrl: host.notificationUrl });
    expect(subscription.resource).toMatch(/^sites\/.+\/lists\/.+$/);
    // The emulator validated our endpoint before it answered 201.
    const requests = h.emulator.control
      .requestLog()
      .filter((r) => r.method === 'POST' && r.path === '/subscriptions');
    expect(requests.map((r) => r.status)).toEqual([201]);
    expect((requests[0].body as { notificationUrl: string }).notificationUrl).toBe(host.notificationUrl);
  });

  it('pushes a new row: push timer → queue → push worker → SharePoint item', async () => {
    await h.db.pool.query("INSERT INTO projects (id, name, budget) VALUES (1, 'from postgres', 12.5)");
    const item = await eventually('the pushed item', async () =>
      (await h.items('Projects')).find((i) => i.fields.Title === 'from postgres'),
    );
    expect(item.fields.Budget).toBe(12.5);
    const runs = await eventually('the finished push run', async () => {
      const { rows } = await h.db.pool.query(
        `SELECT trigger, status FROM arcore.sync_runs WHERE run_type = 'PUSH' AND created > 0`,
      );
      return rows.length > 0 && rows;
    });
    expect(runs).toEqual([{ trigger: 'queue', status: 'SUCCEEDED' }]);
  });

  it('pulls a user edit: emulator notification over HTTP → webhook → queue → pull worker → Postgres row', async () => {
    const item = (await h.items('Projects')).find((i) => i.fields.Title === 'from postgres');
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item!.id}/fields`, {
      Title: 'edited by alice',
    });
    expect(edit.status).toBe(200);
    const row = await eventually('the pulled edit in Postgres', async () => {
      const { rows } = await h.db.pool.query<{ name: string }>('SELECT name FROM projects WHERE id = 1');
      return rows[0]?.name === 'edited by alice' && rows[0];
    });
    expect(row.name).toBe('edited by alice');
    const runs = await eventually('the finished pull run', async () => {
      const { rows } = await h.db.pool.query(
        `SELECT trigger, status FROM arcore.sync_runs WHERE run_type = 'PULL' AND updated > 0`,
      );
      return rows.length > 0 && rows;
    });
    expect(runs).toEqual([{ trigger: 'webhook', status: 'SUCCEEDED' }]);
    expect(h.emulator.control.stats().notificationsSent).toBeGreaterThan(0);
    expect(h.emulator.control.stats().notificationsFailed).toBe(0);
  });

  it('serves the ops API over HTTP with the same handler', async () => {
    const response = await fetch(`${host.url}/api/ops/definitions/projects`);
    expect(response.status).toBe(200);
    const status = (await response.json()) as { name: string; ledgerSize: number; subscription: unknown };
    expect(status).toMatchObject({ name: 'projects', ledgerSize: 1, subscription: expect.any(Object) });
    expect((await fetch(`${host.url}/api/ops/definitions/nope`)).status).toBe(404);
    expect((await fetch(`${host.url}/api/elsewhere`)).status).toBe(404);
    const oversized = await fetch(host.notificationUrl, {
      method: 'POST',
      body: 'x'.repeat(1024 * 1024 + 10),
    });
    expect(oversized.status).toBe(413);
  });

  it('reaches quiescence: once idle, another push and pull write nothing (I4)', async () => {
    await host.idle();
    const before = await h.db.pool.query(
      'SELECT count(*)::int AS n FROM arcore.sync_runs WHERE created + updated + deleted > 0',
    );
    await sleep(1000);
    await host.idle();
    const after = await h.db.pool.query(
      'SELECT count(*)::int AS n FROM arcore.sync_runs WHERE created + updated + deleted > 0',
    );
    expect(after.rows[0].n).toBe(before.rows[0].n);
    expect(lines.filter((l) => l.startsWith('error'))).toEqual([]);
  });
});

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { migrate } from '../../../../src/core/store/migrate';
import { PgThrottleGate } from '../../../../src/core/target/sharepoint/pgThrottleGate';
import { freshDatabase, type TestDatabase } from '../../../support/db';
import { startHarness } from './emulatorSupport';
import { eventually } from '../../../support/eventually';
import { nodeArgsFor } from '../../../support/childNode';

const ROOT = join(__dirname, '../../../..');

describe('I10 throttle discipline: the shared throttle gate', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await freshDatabase();
    await migrate(db.pool);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('a block written by one worker is seen by another, timed by the database: the time left added to its own clock', async () => {
    const writer = new PgThrottleGate(db.pool, 0);
    const reader = new PgThrottleGate(db.pool, 0);
    expect(await reader.blockedUntil('app-a')).toBeNull();
    const before = Date.now();
    await writer.block('app-a', 30_000);
    const until = await reader.blockedUntil('app-a');
    // Between the write and the read only a few milliseconds pass: the block ends 30 s after the write, give or take.
    expect(until).toBeGreaterThan(before + 25_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 30_000);
    expect(await reader.blockedUntil('app-b')).toBeNull();
    const { rows } = await db.pool.query<{ left_s: number }>(
      `SELECT extract(epoch FROM blocked_until - clock_timestamp())::float8 AS left_s FROM arcore.graph_throttle
        WHERE app_key = 'app-a'`,
    );
    expect(rows[0].left_s).toBeGreaterThan(25);
    expect(rows[0].left_s).toBeLessThanOrEqual(30);
  });

  it('keeps the later of two blocks', async () => {
    const gate = new PgThrottleGate(db.pool, 0);
    await gate.block('app-c', 60_000, { askedMs: 60_000, reason: 'first' });
    await gate.block('app-c', 10_000, { askedMs: 10_000, reason: 'second' });
    expect(await gate.blockedUntil('app-c')).toBeGreaterThan(Date.now() + 50_000);
    const { rows } = await db.pool.query<{ n: number; reason: string }>(
      `SELECT count(*)::int AS n, min(reason) AS reason FROM arcore.graph_throttle WHERE app_key = 'app-c'`,
    );
    expect(rows[0]).toEqual({ n: 1, reason: 'first' });
  });

  it('a block of no time is no block', async () => {
    const gate = new PgThrottleGate(db.pool, 0);
    await gate.block('app-d', 0);
    expect(await gate.blockedUntil('app-d')).toBeNull();
  });

  it('caches reads for a few seconds instead of querying per request', async () => {
    const cached = new PgThrottleGate(db.pool, 60_000);
    expect(await cached.blockedUntil('app-e')).toBeNull();
    await new PgThrottleGate(db.pool, 0).block('app-e', 30_000);
    // Still the cached answer: at most one query per cache period.
    expect(await cached.blockedUntil('app-e')).toBeNull();
    const fresh = new PgThrottleGate(db.pool, 60_000);
    expect(await fresh.blockedUntil('app-e')).not.toBeNull();
  });

  it('a 429 seen by one worker holds another worker process of the same app until Retry-After', async () => {
    const h = await startHarness();
    try {
      const appKey = `gate-${randomUUID()}`;
      // The second worker loads first (a process through tsx may take seconds on a loaded machine) and sends its
      // request only when told, so that it starts while the block holds.
      const worker = spawn(process.execPath, nodeArgsFor(join(__dirname, 'fixtures', 'gateWorker.ts')), {
        cwd: ROOT,
        env: {
          ...process.env,
          GATE_DATABASE_URL: db.url,
          GATE_BASE_URL: h.emulator.baseUrl,
          GATE_TOKEN: h.emulator.appToken,
          GATE_CA_CERT: h.emulator.caCert,
          GATE_APP_KEY: appKey,
          GATE_SITE_ID: h.siteId,
        },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let stdout = '';
      worker.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      const exited = once(worker, 'exit');
      await eventually('the second worker is loaded', () => stdout.startsWith('ready\n'), 45_000);

      const first = h.target({ appKey, throttleGate: new PgThrottleGate(db.pool) });
      h.emulator.control.injectFault({
        method: 'GET',
        pathPattern: '^/sites/[^/]+$',
        count: 1,
        status: 429,
        retryAfterSeconds: 5,
      });
      const firstRead = first.resolveSite(h.siteId);
      let blockedUntil: number | null = null;
      for (let i = 0; i < 100 && blockedUntil === null; i += 1) {
        blockedUntil = await new PgThrottleGate(db.pool, 0).blockedUntil(appKey);
        if (blockedUntil === null) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(blockedUntil).not.toBeNull();

      worker.stdin.end('go\n');
      const [code] = await exited;
      expect(code).toBe(0);
      stdout = stdout.slice('ready\n'.length);
      const second = JSON.parse(stdout) as {
        startedAt: number;
        finishedAt: number;
        stats: { throttled429: number; throttleWaitMs: number };
      };
      expect(second.finishedAt).toBeGreaterThanOrEqual(blockedUntil ?? Infinity);
      // It started inside the block and waited it out, without a 429 of its own.
      expect(second.startedAt).toBeLessThan(blockedUntil ?? -Infinity);
      expect(second.stats.throttleWaitMs).toBeGreaterThan(0);
      expect(second.stats.throttled429).toBe(0);
      expect((await firstRead).id).toBe(h.siteId);
      expect(h.emulator.control.requestLog().filter((e) => e.status === 429)).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});

import { request as httpRequest } from 'node:http';
import type { EngineContext, Logger } from '../../src/core/engine/types';
import { startLocalHost, type LocalHost } from '../../src/serve';
import type { TestDatabase } from '../support/db';
import { notification, ordersFixture } from '../functions/support/metaFixtures';

/*
 * The local ops API (`arcore-sync serve`) against what a web page in the developer's browser can send:
 * DNS rebinding (foreign Host), cross-origin requests, `text/plain` posts that need no CORS preflight, and
 * (with --token) callers without the token. Real HTTP on 127.0.0.1, real Postgres.
 */

const log: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface Answer {
  status: number;
  body: string;
}

/** node:http, because fetch does not let a caller choose the Host header. */
function send(
  host: LocalHost,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  const url = new URL(path, host.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { hostname: url.hostname, port: url.port, path: url.pathname + url.search, method, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let db: TestDatabase;
let ctx: EngineContext;
let closeFixture: () => Promise<void>;
let ordersId: string;

beforeAll(async () => {
  ({ db, ctx, ordersId, close: closeFixture } = await ordersFixture());
});

afterAll(async () => {
  await closeFixture();
});

async function parkFailure(): Promise<void> {
  await db.pool.query('DELETE FROM arcore.sync_failures');
  await db.pool.query(
    `INSERT INTO arcore.sync_failures (definition_id, direction, item_key, last_error, next_attempt_at)
     VALUES ($1, 'PUSH', 'k1', 'boom', now() + interval '1 hour')`,
    [ordersId],
  );
}
const parkedCount = async () =>
  Number(
    (await db.pool.query(`SELECT count(*) AS n FROM arcore.sync_failures WHERE status = 'PARKED'`)).rows[0].n,
  );

const HOUR = 3_600_000;
const start = (token?: string) =>
  startLocalHost({
    ctx,
    port: 0,
    log,
    token,
    pushIntervalMs: HOUR,
    safetyIntervalMs: HOUR,
    subscriptionIntervalMs: HOUR,
  });

describe('local ops API without a token', () => {
  let host: LocalHost;
  let port: string;
  beforeAll(async () => {
    host = await start();
    port = new URL(host.url).port;
  });
  afterAll(() => host.stop());
  beforeEach(parkFailure);

  it('serves loopback Host values: 127.0.0.1, localhost and [::1]', async () => {
    for (const name of ['127.0.0.1', 'localhost', '[::1]']) {
      const answer = await send(host, 'GET', '/api/ops/definitions', { host: `${name}:${port}` });
      expect({ name, status: answer.status }).toEqual({ name, status: 200 });
    }
  });

  it('refuses a foreign Host (DNS rebinding) with 403, and the write does not happen', async () => {
    const read = await send(host, 'GET', '/api/ops/definitions', { host: `evil.example:${port}` });
    expect(read.status).toBe(403);
    const write = await send(
      host,
      'POST',
      '/api/ops/definitions/orders/failures/discard',
      { host: `evil.example:${port}`, 'content-type': 'application/json' },
      '{}',
    );
    expect(write.status).toBe(403);
    expect(await parkedCount()).toBe(1);
  });

  it('refuses a cross-origin request with 403, even with a JSON body', async () => {
    const answer = await send(
      host,
      'POST',
      '/api/ops/definitions/orders/failures/discard',
      { origin: 'https://evil.example', 'content-type': 'application/json' },
      '{}',
    );
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).error).toContain('cross-origin');
    const otherLocalPort = await send(host, 'GET', '/api/ops/definitions', { origin: 'http://127.0.0.1:1' });
    expect(otherLocalPort.status).toBe(403);
    const fetchSite = await send(host, 'GET', '/api/ops/definitions', { 'sec-fetch-site': 'cross-site' });
    expect(fetchSite.status).toBe(403);
    expect(await parkedCount()).toBe(1);
  });

  it('refuses a write that is not Content-Type: application/json with 415 (the no-preflight form post)', async () => {
    const answer = await send(
      host,
      'POST',
      '/api/ops/definitions/orders/failures/discard',
      { 'content-type': 'text/plain' },
      '{}',
    );
    expect(answer.status).toBe(415);
    const none = await send(host, 'POST', '/api/ops/definitions/orders/failures/discard');
    expect(none.status).toBe(415);
    expect(await parkedCount()).toBe(1);
  });

  it('accepts a same-origin JSON write', async () => {
    const answer = await send(
      host,
      'POST',
      '/api/ops/definitions/orders/failures/discard',
      { origin: host.url, 'content-type': 'application/json; charset=utf-8' },
      '{}',
    );
    expect(answer.status).toBe(200);
    expect(await parkedCount()).toBe(0);
  });

  it('leaves the webhook routes to clientState (they may sit behind a tunnel with another Host)', async () => {
    const answer = await send(
      host,
      'POST',
      '/api/graph/notifications',
      { host: 'tunnel.example', 'content-type': 'application/json' },
      JSON.stringify({ value: [notification('sub-orders', 'right')] }),
    );
    expect(answer.status).toBe(202);
  });
});

describe('local ops API with --token', () => {
  const TOKEN = 'local-token-0123456789abcdef';
  let host: LocalHost;
  beforeAll(async () => {
    host = await start(TOKEN);
  });
  afterAll(() => host.stop());
  beforeEach(parkFailure);

  it('unauthenticated: 401', async () => {
    expect((await send(host, 'GET', '/api/ops/definitions')).status).toBe(401);
  });

  it('wrongly authenticated: 401, and the write does not happen', async () => {
    const answer = await send(
      host,
      'POST',
      '/api/ops/definitions/orders/failures/discard',
      { authorization: `Bearer ${TOKEN}x`, 'content-type': 'application/json' },
      '{}',
    );
    expect(answer.status).toBe(401);
    expect(await parkedCount()).toBe(1);
  });

  it('rightly authenticated: served', async () => {
    const answer = await send(
      host,
      'POST',
      '/api/ops/definitions/orders/failures/discard',
      { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      '{}',
    );
    expect(answer.status).toBe(200);
    expect(await parkedCount()).toBe(0);
  });

  it('refuses a token shorter than 16 characters', async () => {
    await expect(start('short')).rejects.toThrow('at least 16 characters');
  });
});

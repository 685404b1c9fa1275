import { HttpRequest, HttpResponse } from '@azure/functions';
import type { EngineContext } from '../../src/core/engine/types';
import { disabledTelemetry } from '../../src/core/telemetry';
import { opsApi } from '../../src/functions/opsApi';
import { pullQueueOutput, pushQueueOutput } from '../../src/functions/queues';
import { installRuntime } from '../../src/functions/runtime';
import type { TestDatabase } from '../support/db';
import { invocation, queued } from './support/invocation';
import { defineStored, metaDatabase, metaOnlyContext } from './support/metaFixtures';

let db: TestDatabase;
let ctx: EngineContext;
let closeCtx: () => Promise<void>;
let uninstall: () => void;
let ordersId: string;
let parkedId: string;
let conflictId: string;

beforeAll(async () => {
  db = await metaDatabase();
  ordersId = await defineStored(db.pool, 'orders');
  await db.pool.query(
    `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, value) VALUES ($1, 'SOURCE', 'TIMESTAMP', 'x')`,
    [ordersId],
  );
  parkedId = (
    await db.pool.query<{ id: string }>(
      `INSERT INTO arcore.sync_failures (definition_id, direction, item_key, last_error, next_attempt_at)
       VALUES ($1, 'PUSH', 'k1', 'boom', now() + interval '1 hour') RETURNING id::text AS id`,
      [ordersId],
    )
  ).rows[0].id;
  conflictId = (
    await db.pool.query<{ id: string }>(
      `INSERT INTO arcore.sync_conflicts (definition_id, source_identity_hash, source_identity, detected_by, policy,
         outcome, status) VALUES ($1, 'h', '{"id":1}', 'PULL', 'MANUAL', 'PARKED', 'RESOLVED') RETURNING id::text AS id`,
      [ordersId],
    )
  ).rows[0].id;
  ({ ctx, close: closeCtx } = await metaOnlyContext(db));
  uninstall = installRuntime({ ctx, telemetry: disabledTelemetry, webhookUrls: {} });
});

afterAll(async () => {
  uninstall();
  await closeCtx();
  await db.drop();
});

async function ops(method: string, path: string, body?: unknown, viaUrlOnly = false) {
  const [pathname, search = ''] = path.split('?');
  const request = new HttpRequest({
    method,
    url: `http://127.0.0.1:7071/api/ops/${path}`,
    params: viaUrlOnly ? {} : { path: pathname },
    query: Object.fromEntries(new URLSearchParams(search)),
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : { string: typeof body === 'string' ? body : JSON.stringify(body) },
  });
  const { context } = invocation('opsApi');
  const response = new HttpResponse(await opsApi(request, context));
  const text = await response.text();
  return {
    status: response.status,
    json: (text ? JSON.parse(text) : null) as Record<string, unknown>,
    push: queued(context, pushQueueOutput),
    pull: queued(context, pullQueueOutput),
  };
}

describe('ops API: reading', () => {
  it('lists definitions with status', async () => {
    const result = await ops('GET', 'definitions');
    expect(result.status).toBe(200);
    expect(result.json.definitions).toEqual([expect.objectContaining({ name: 'orders', parkedFailures: 1 })]);
  });

  it('shows one definition, found from the URL when the route parameter is absent', async () => {
    const result = await ops('GET', 'definitions/orders', undefined, true);
    expect(result).toMatchObject({ status: 200, json: { name: 'orders', id: ordersId } });
  });

  it('lists runs, conflicts and failures', async () => {
    expect((await ops('GET', 'definitions/orders/runs?limit=5')).json).toEqual({ runs: [] });
    expect((await ops('GET', 'definitions/orders/conflicts?status=resolved')).json.conflicts).toHaveLength(1);
    expect((await ops('GET', 'definitions/orders/conflicts?status=OPEN')).json.conflicts).toHaveLength(0);
    expect((await ops('GET', 'definitions/orders/failures')).json.failures).toEqual([
      expect.objectContaining({ failureId: parkedId, itemKey: 'k1' }),
    ]);
    expect((await ops('GET', `conflicts/${conflictId}`)).json).toMatchObject({
      conflictId,
      status: 'RESOLVED',
    });
  });
});

describe('ops API: run types', () => {
  it('shows a pull recorded as INGRESS (before migration 008) as PULL; runType=PULL and runType=ingress find it', async () => {
    const legacyId = await defineStored(db.pool, 'legacy');
    await db.pool.query(
      `INSERT INTO arcore.sync_runs (definition_id, run_type, trigger, status, finished_at)
       VALUES ($1, 'INGRESS', 'timer', 'SUCCEEDED', now()), ($1, 'PUSH', 'timer', 'SUCCEEDED', now())`,
      [legacyId],
    );
    for (const runType of ['PULL', 'ingress']) {
      const result = await ops('GET', `runs?definition=legacy&runType=${runType}`);
      expect(result.status).toBe(200);
      expect((result.json.runs as { runType: string }[]).map((r) => r.runType)).toEqual(['PULL']);
    }
  });
});

describe('ops API: changing', () => {
  it('resets a cursor', async () => {
    const result = await ops('POST', 'definitions/orders/reset-cursor', { scope: 'source' });
    expect(result).toMatchObject({ status: 200, json: { definition: 'orders', removed: ['SOURCE'] } });
  });

  it('decides a TRUNCATE parked by an LSN push, once', async () => {
    await db.pool.query(`INSERT INTO arcore.capture_truncates (definition_id, lsn) VALUES ($1, '0/1A2B3C')`, [
      ordersId,
    ]);
    const decided = await ops('POST', 'definitions/orders/truncate-decision', { decision: 'IGNORE' });
    expect(decided).toMatchObject({
      status: 200,
      json: { definition: 'orders', truncate: { lsn: '0/1A2B3C', decision: 'IGNORE', appliedAt: null } },
    });
    const again = await ops('POST', 'definitions/orders/truncate-decision', { decision: 'PROPAGATE' });
    expect(again.status).toBe(404);
    expect(String(again.json.error)).toMatch(/no TRUNCATE waiting for a decision/);
  });

  it('retries and then discards parked failures', async () => {
    expect(
      (await ops('POST', 'definitions/orders/failures/retry', { ids: [Number(parkedId)] })).json,
    ).toEqual({
      definition: 'orders',
      failureIds: [parkedId],
    });
    expect((await ops('POST', 'definitions/orders/failures/discard')).json).toEqual({
      definition: 'orders',
      failureIds: [parkedId],
    });
  });

  it('enqueues a push or a pull when asked not to wait', async () => {
    const push = await ops('POST', 'definitions/orders/push', { wait: false });
    expect(push.status).toBe(202);
    expect(push.push).toEqual([expect.objectContaining({ definition: 'orders', trigger: 'ops' })]);
    const pull = await ops('POST', 'definitions/orders/pull', { wait: false });
    expect(pull.status).toBe(202);
    expect(pull.pull).toEqual([expect.objectContaining({ definition: 'orders', definitionId: ordersId })]);
    const { rows } = await db.pool.query('SELECT reason FROM arcore.pending_pulls WHERE definition_id = $1', [
      ordersId,
    ]);
    expect(rows).toEqual([{ reason: 'ops API' }]);
  });
});

describe('ops API: clear 400s', () => {
  it.each([
    ['GET', 'definitions/orders/runs?limit=abc', undefined],
    ['GET', 'definitions/orders/runs?limit=0', undefined],
    ['GET', 'definitions/orders/conflicts?status=maybe', undefined],
    ['GET', 'definitions/orders/failures?status=lost', undefined],
    ['POST', 'definitions/orders/reset-cursor', undefined],
    ['POST', 'definitions/orders/reset-cursor', { scope: 'everything' }],
    ['POST', 'definitions/orders/reset-cursor', { scope: 'all', extra: 1 }],
    ['POST', 'definitions/orders/reset-cursor', '{"scope":'],
    ['POST', 'definitions/orders/push', { wait: 'no' }],
    ['POST', 'definitions/orders/truncate-decision', { decision: 'PARK' }],
    ['POST', 'definitions/orders/failures/retry', { ids: 'all' }],
    ['POST', 'definitions/orders/failures/retry', { ids: [] }],
    ['POST', 'definitions/orders/failures/discard', { ids: ['-1'] }],
    ['POST', `conflicts/1/resolve`, { take: 'both' }],
    ['POST', `conflicts/1/resolve`, { take: 'postgres', values: {} }],
    ['POST', `conflicts/1/resolve`, undefined],
  ])('%s %s %j → 400 naming the problem', async (method, path, body) => {
    const result = await ops(method, path, body);
    expect(result.status).toBe(400);
    expect(typeof result.json.error).toBe('string');
    expect(result.push).toEqual([]);
    expect(result.pull).toEqual([]);
  });
});

describe('ops API: clear 404s and 405s', () => {
  it.each([
    ['GET', 'definitions/nope', undefined],
    ['GET', 'definitions/nope/runs', undefined],
    ['GET', 'definitions/nope/conflicts', undefined],
    ['GET', 'definitions/nope/failures', undefined],
    ['POST', 'definitions/nope/push', undefined],
    ['POST', 'definitions/nope/pull', undefined],
    ['POST', 'definitions/nope/push', { wait: false }],
    ['POST', 'definitions/nope/reset-cursor', { scope: 'all' }],
    ['POST', 'definitions/nope/truncate-decision', { decision: 'IGNORE' }],
    ['POST', 'definitions/nope/failures/retry', undefined],
    ['POST', 'definitions/orders/failures/retry', { ids: ['987654'] }],
    ['GET', 'conflicts/987654', undefined],
    ['GET', 'conflicts/abc', undefined],
    ['POST', 'conflicts/987654/resolve', { take: 'postgres' }],
    ['POST', 'conflicts/abc/resolve', { take: 'postgres' }],
    ['GET', 'nothing/here', undefined],
    ['GET', '', undefined],
  ])('%s %s → 404', async (method, path, body) => {
    const result = await ops(method, path, body);
    expect(result.status).toBe(404);
    expect(result.json.error).toEqual(expect.any(String));
  });

  it('answers 405 with the allowed method for a known path', async () => {
    const result = await ops('POST', 'definitions');
    expect(result).toMatchObject({ status: 405, json: { allowed: 'GET' } });
    expect((await ops('GET', 'definitions/orders/push')).status).toBe(405);
  });

  it('answers 409 for a conflict that is already resolved', async () => {
    const result = await ops('POST', `conflicts/${conflictId}/resolve`, { take: 'postgres' });
    expect(result.status).toBe(409);
  });
});

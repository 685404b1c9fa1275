import { HttpRequest, HttpResponse } from '@azure/functions';
import type { EngineContext } from '../../../src/core/engine/types';
import { disabledTelemetry } from '../../../src/core/telemetry';
import { opsApi } from '../../../src/functions/opsApi';
import { OPS_WRITE_ROLE } from '../../../src/functions/opsAuth';
import { installRuntime } from '../../../src/functions/runtime';
import type { TestDatabase } from '../../support/db';
import { invocation } from '../../functions/support/invocation';
import { ordersFixture } from '../../functions/support/metaFixtures';

/*
 * Review r13 (f8): with Easy Auth letting unauthenticated requests through and the console signing operators in
 * with the AppServiceAuthSession cookie, a browser request to the ops API is authenticated by a cookie the browser
 * attaches by itself. A page on another site can then post to the ops API as the signed-in operator: a `fetch`
 * with mode no-cors and Content-Type text/plain needs no CORS preflight, and its body can be any JSON. The local
 * ops API refuses exactly this (docs/security.md: same-origin only, writes need application/json); the deployed
 * one checks neither, so Easy Auth's injected principal alone lets the write happen.
 */

let db: TestDatabase;
let ctx: EngineContext;
let closeFixture: () => Promise<void>;
let uninstall: () => void;
let ordersId: string;
const saved = process.env.OPS_AUTH;

beforeAll(async () => {
  ({ db, ctx, ordersId, close: closeFixture } = await ordersFixture());
  uninstall = installRuntime({ ctx, telemetry: disabledTelemetry, webhookUrls: {} });
  process.env.OPS_AUTH = 'entra';
});

afterAll(async () => {
  if (saved === undefined) delete process.env.OPS_AUTH;
  else process.env.OPS_AUTH = saved;
  uninstall();
  await closeFixture();
});

/** What Easy Auth injects for an operator whose browser sent the session cookie. */
const operator = Buffer.from(
  JSON.stringify({
    auth_typ: 'aad',
    claims: [
      { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'oid-operator' },
      { typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role', val: OPS_WRITE_ROLE },
    ],
  }),
).toString('base64');

it('a cross-site text/plain post riding the operator session cookie is refused and resets no cursor', async () => {
  await db.pool.query(
    `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, value) VALUES ($1, 'SOURCE', 'TIMESTAMP', 'x')`,
    [ordersId],
  );
  const path = 'definitions/orders/reset-cursor';
  const request = new HttpRequest({
    method: 'POST',
    url: `https://app.example/api/ops/${path}`,
    params: { path },
    headers: {
      'x-ms-client-principal': operator,
      'content-type': 'text/plain;charset=UTF-8',
      origin: 'https://evil.example',
      'sec-fetch-site': 'cross-site',
    },
    body: { string: JSON.stringify({ scope: 'all' }) },
  });
  const { context } = invocation('opsApi');
  const response = new HttpResponse(await opsApi(request, context));
  const cursors = Number(
    (
      await db.pool.query('SELECT count(*) AS n FROM arcore.sync_cursors WHERE definition_id = $1', [
        ordersId,
      ])
    ).rows[0].n,
  );
  expect({ status: response.status, cursors }).toEqual({ status: expect.any(Number), cursors: 1 });
  expect([403, 415]).toContain(response.status);
});

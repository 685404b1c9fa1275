import { HttpRequest, HttpResponse, type HttpHandler } from '@azure/functions';
import type { EngineContext } from '../../src/core/engine/types';
import { disabledTelemetry } from '../../src/core/telemetry';
import { consoleFiles } from '../../src/functions/console';
import { graphLifecycle } from '../../src/functions/graphLifecycle';
import { graphWebhook } from '../../src/functions/graphWebhook';
import { opsApi } from '../../src/functions/opsApi';
import {
  auditName,
  opsAuthLevel,
  opsAuthMode,
  parseClientPrincipal,
  OPS_READ_ROLE,
  OPS_WRITE_ROLE,
} from '../../src/functions/opsAuth';
import { pullQueueOutput } from '../../src/functions/queues';
import { installRuntime } from '../../src/functions/runtime';
import type { TestDatabase } from '../support/db';
import { invocation, postJson, queued } from './support/invocation';
import { notification, ordersFixture } from './support/metaFixtures';

/*
 * What an unauthenticated, a wrongly authenticated and a rightly authenticated caller get from every HTTP
 * function (docs/security.md lists these tests per entry point). Graph's endpoints authenticate by
 * clientState; the ops API by App Service Authentication's principal (OPS_AUTH=entra) or the master key
 * (OPS_AUTH=key, enforced by the Functions host; see the registration test in test/functions/packagedApp).
 */

const NOTIFY = 'https://app.example/api/graph/notifications';
const LIFECYCLE = 'https://app.example/api/graph/lifecycle';
const OPS = 'https://app.example/api/ops';

let db: TestDatabase;
let ctx: EngineContext;
let closeFixture: () => Promise<void>;
let uninstall: () => void;
let ordersId: string;

beforeAll(async () => {
  ({ db, ctx, ordersId, close: closeFixture } = await ordersFixture());
  uninstall = installRuntime({ ctx, telemetry: disabledTelemetry, webhookUrls: {} });
});

afterAll(async () => {
  uninstall();
  await closeFixture();
});

beforeEach(async () => {
  await db.pool.query('DELETE FROM arcore.pending_pulls');
  await db.pool.query('DELETE FROM arcore.sync_cursors');
  await db.pool.query(
    `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, value) VALUES ($1, 'SOURCE', 'TIMESTAMP', 'x')`,
    [ordersId],
  );
});

async function call(handler: HttpHandler, request: HttpRequest, name: string) {
  const { context, logs } = invocation(name);
  const response = new HttpResponse(await handler(request, context));
  const text = await response.text();
  return { status: response.status, text, messages: queued(context, pullQueueOutput), logs };
}

const cursorCount = async () =>
  Number((await db.pool.query('SELECT count(*) AS n FROM arcore.sync_cursors')).rows[0].n);

/** The header App Service Authentication puts in front of the app (base64 JSON of the token's claims). */
function principalHeader(claims: Array<[string, string]>): string {
  return Buffer.from(
    JSON.stringify({
      auth_typ: 'aad',
      name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
      role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
      claims: claims.map(([typ, val]) => ({ typ, val })),
    }),
  ).toString('base64');
}
const OID = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
const ROLE = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';
const NAME = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name';
const reader = principalHeader([
  [OID, 'oid-reader'],
  [NAME, 'rita@contoso.test'],
  [ROLE, OPS_READ_ROLE],
]);
const operator = principalHeader([
  [OID, 'oid-operator'],
  [NAME, 'otto@contoso.test'],
  [ROLE, OPS_WRITE_ROLE],
]);
const noRole = principalHeader([
  [OID, 'oid-nobody'],
  [NAME, 'nina@contoso.test'],
]);

function opsRequest(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: unknown) {
  return new HttpRequest({
    method,
    url: `${OPS}/${path}`,
    params: { path },
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : { string: JSON.stringify(body) },
  });
}

describe('graphWebhook: authenticated by clientState, no key', () => {
  it('unauthenticated (no clientState): 202 for Graph, but nothing is recorded or enqueued', async () => {
    const result = await call(
      graphWebhook,
      postJson(NOTIFY, { value: [notification('sub-orders', undefined)] }),
      'graphWebhook',
    );
    expect(result).toMatchObject({ status: 202, messages: [] });
    expect((await db.pool.query('SELECT 1 FROM arcore.pending_pulls')).rowCount).toBe(0);
  });

  it('wrongly authenticated (wrong clientState): nothing recorded or enqueued, the reason logged', async () => {
    const result = await call(
      graphWebhook,
      postJson(NOTIFY, { value: [notification('sub-orders', 'guess')] }),
      'graphWebhook',
    );
    expect(result).toMatchObject({ status: 202, messages: [] });
    expect(result.logs.map((l) => l.text).join('\n')).toContain('clientState does not match');
    expect(result.logs.map((l) => l.text).join('\n')).not.toContain('guess');
  });

  it('rightly authenticated (right clientState): a pull is enqueued', async () => {
    const result = await call(
      graphWebhook,
      postJson(NOTIFY, { value: [notification('sub-orders', 'right')] }),
      'graphWebhook',
    );
    expect(result.status).toBe(202);
    expect(result.messages).toEqual([expect.objectContaining({ definition: 'orders' })]);
  });

  it('a function key in the URL opens nothing: the same answer with or without ?code=', async () => {
    const body = { value: [notification('sub-orders', 'guess')] };
    const withKey = await call(graphWebhook, postJson(`${NOTIFY}?code=anything`, body), 'graphWebhook');
    expect(withKey).toMatchObject({ status: 202, messages: [] });
  });
});

describe('graphLifecycle: authenticated by clientState, no key', () => {
  const event = (clientState?: string) => ({
    value: [
      {
        subscriptionId: 'sub-orders',
        lifecycleEvent: 'missed',
        resource: 'sites/s/lists/l',
        ...(clientState === undefined ? {} : { clientState }),
      },
    ],
  });

  it('unauthenticated (no clientState): nothing enqueued', async () => {
    const result = await call(graphLifecycle, postJson(LIFECYCLE, event()), 'graphLifecycle');
    expect([202, 400]).toContain(result.status);
    expect(result.messages).toEqual([]);
  });

  it('wrongly authenticated (wrong clientState): 202, nothing enqueued', async () => {
    const result = await call(graphLifecycle, postJson(LIFECYCLE, event('guess')), 'graphLifecycle');
    expect(result).toMatchObject({ status: 202, messages: [] });
  });

  it('rightly authenticated (right clientState): the missed notifications are pulled', async () => {
    const result = await call(graphLifecycle, postJson(LIFECYCLE, event('right')), 'graphLifecycle');
    expect(result.status).toBe(202);
    expect(result.messages).toEqual([expect.objectContaining({ definition: 'orders' })]);
  });
});

describe('opsApi with OPS_AUTH=entra (App Service Authentication in front)', () => {
  const saved = process.env.OPS_AUTH;
  beforeAll(() => {
    process.env.OPS_AUTH = 'entra';
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.OPS_AUTH;
    else process.env.OPS_AUTH = saved;
  });

  it('unauthenticated: 401 for reads and writes, naming where a browser signs in, and nothing changes', async () => {
    const read = await call(opsApi, opsRequest('GET', 'definitions', {}), 'opsApi');
    expect(read.status).toBe(401);
    // Easy Auth lets the request through (AllowAnonymous): the body says what to do, for a script and the console.
    expect(JSON.parse(read.text)).toEqual({
      error: expect.stringMatching(/^not signed in: .*bearer token for the ops API app registration/),
      signIn: '/.auth/login/aad?post_login_redirect_uri=%2Fapi%2Fconsole%2F',
    });
    const write = await call(
      opsApi,
      opsRequest('POST', 'definitions/orders/reset-cursor', {}, { scope: 'all' }),
      'opsApi',
    );
    expect(write.status).toBe(401);
    expect(await cursorCount()).toBe(1);
  });

  it('a bare x-ms-client-principal-name (forgeable without Easy Auth) authenticates nobody', async () => {
    const forged = await call(
      opsApi,
      opsRequest(
        'POST',
        'definitions/orders/reset-cursor',
        { 'x-ms-client-principal-name': 'admin@contoso.test', 'x-ms-client-principal-id': 'x' },
        { scope: 'all' },
      ),
      'opsApi',
    );
    expect(forged.status).toBe(401);
    expect(await cursorCount()).toBe(1);
  });

  it('wrongly authenticated: a malformed principal is 401, a principal without the role 403', async () => {
    const malformed = await call(
      opsApi,
      opsRequest('GET', 'definitions', { 'x-ms-client-principal': 'not base64 json' }),
      'opsApi',
    );
    expect(malformed.status).toBe(401);
    const nobody = await call(
      opsApi,
      opsRequest('GET', 'definitions', { 'x-ms-client-principal': noRole }),
      'opsApi',
    );
    expect(nobody.status).toBe(403);
    expect(JSON.parse(nobody.text).error).toContain('nina@contoso.test');
  });

  it('a reader may GET but not write', async () => {
    const read = await call(
      opsApi,
      opsRequest('GET', 'definitions', { 'x-ms-client-principal': reader }),
      'opsApi',
    );
    expect(read.status).toBe(200);
    const write = await call(
      opsApi,
      opsRequest(
        'POST',
        'definitions/orders/reset-cursor',
        { 'x-ms-client-principal': reader },
        { scope: 'all' },
      ),
      'opsApi',
    );
    expect(write.status).toBe(403);
    expect(JSON.parse(write.text).error).toContain(OPS_WRITE_ROLE);
    expect(await cursorCount()).toBe(1);
  });

  it('rightly authenticated: an operator may write', async () => {
    const write = await call(
      opsApi,
      opsRequest(
        'POST',
        'definitions/orders/reset-cursor',
        { 'x-ms-client-principal': operator },
        { scope: 'all' },
      ),
      'opsApi',
    );
    expect(write.status).toBe(200);
    expect(await cursorCount()).toBe(0);
  });

  /** A browser's post to the ops API as the signed-in operator (Easy Auth turned its session cookie into the principal). */
  const browserPost = (path: string, headers: Record<string, string>, text = '{}') =>
    call(
      opsApi,
      new HttpRequest({
        method: 'POST',
        url: `${OPS}/${path}`,
        params: { path },
        headers: { 'x-ms-client-principal': operator, ...headers },
        body: { string: text },
      }),
      'opsApi',
    );
  const runCount = async () =>
    Number((await db.pool.query('SELECT count(*) AS n FROM arcore.sync_runs')).rows[0].n);
  // Every class of write: runs, cursors, failures, conflicts.
  const writes = [
    'definitions/orders/push',
    'definitions/orders/reset-cursor',
    'definitions/orders/failures/discard',
    'conflicts/1/resolve',
  ];

  it('a cross-site post riding the operator session cookie is refused (403) on every write and changes nothing', async () => {
    const runs = await runCount();
    for (const path of writes) {
      // Review r13: fetch(url, {method: 'POST', mode: 'no-cors', credentials: 'include'}) from another site.
      const plain = await browserPost(
        path,
        {
          'content-type': 'text/plain;charset=UTF-8',
          origin: 'https://evil.example',
          'sec-fetch-site': 'cross-site',
        },
        JSON.stringify({ scope: 'all' }),
      );
      expect({ path, status: plain.status, body: JSON.parse(plain.text) }).toEqual({
        path,
        status: 403,
        body: { error: 'cross-origin requests are refused (Origin "https://evil.example")' },
      });
      // A browser that sends Sec-Fetch-Site but no Origin, and a JSON body (which it could send only after a
      // preflight): still refused.
      const fetchSite = await browserPost(path, {
        'content-type': 'application/json',
        'sec-fetch-site': 'same-site',
      });
      expect({ path, status: fetchSite.status, error: JSON.parse(fetchSite.text).error }).toEqual({
        path,
        status: 403,
        error: 'cross-site requests are refused (Sec-Fetch-Site "same-site")',
      });
      // The opaque origin of a sandboxed frame is no origin of the app.
      expect((await browserPost(path, { 'content-type': 'application/json', origin: 'null' })).status).toBe(
        403,
      );
    }
    expect({ cursors: await cursorCount(), runs: await runCount() }).toEqual({ cursors: 1, runs });
  });

  it("a write that is not JSON is refused (415) unless it carries a bearer token; the console's own posts pass", async () => {
    const runs = await runCount();
    for (const path of writes) {
      // A browser that sends no Origin: only the content type tells a form post from the console's call.
      const form = await browserPost(path, { 'content-type': 'application/x-www-form-urlencoded' }, 'a=1');
      expect({ path, status: form.status, error: JSON.parse(form.text).error }).toEqual({
        path,
        status: 415,
        error: 'writes need Content-Type: application/json (got "application/x-www-form-urlencoded")',
      });
      expect((await browserPost(path, {})).status).toBe(415);
    }
    expect({ cursors: await cursorCount(), runs: await runCount() }).toEqual({ cursors: 1, runs });
    // The console: same origin (the scheme is not compared: the app may see http behind the front end), JSON.
    const console = await browserPost(
      'definitions/orders/reset-cursor',
      {
        'content-type': 'application/json',
        origin: 'http://APP.example',
        'sec-fetch-site': 'same-origin',
      },
      JSON.stringify({ scope: 'source' }),
    );
    expect(console.status).toBe(200);
    expect(await cursorCount()).toBe(0);
    // A script: no Origin, a bearer token (a page cannot send Authorization cross-origin without a preflight
    // the app never grants), and curl -d's default content type.
    await db.pool.query(
      `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, value) VALUES ($1, 'SOURCE', 'TIMESTAMP', 'x')`,
      [ordersId],
    );
    const script = await browserPost(
      'definitions/orders/reset-cursor',
      {
        authorization: 'Bearer token-validated-by-easy-auth',
        'content-type': 'application/x-www-form-urlencoded',
      },
      JSON.stringify({ scope: 'all' }),
    );
    expect(script.status).toBe(200);
    expect(await cursorCount()).toBe(0);
  });

  it('the resolver is never taken from the body', async () => {
    const result = await call(
      opsApi,
      opsRequest(
        'POST',
        'conflicts/1/resolve',
        { 'x-ms-client-principal': operator },
        { take: 'postgres', resolvedBy: 'someone else' },
      ),
      'opsApi',
    );
    expect(result.status).toBe(400);
    expect(JSON.parse(result.text).error).toContain('resolvedBy');
  });
});

describe('console page with OPS_AUTH=entra: a browser not signed in is sent to sign in', () => {
  const saved = process.env.OPS_AUTH;
  afterEach(() => {
    if (saved === undefined) delete process.env.OPS_AUTH;
    else process.env.OPS_AUTH = saved;
  });
  const page = (path: string, headers: Record<string, string> = {}) =>
    call(
      consoleFiles,
      new HttpRequest({
        method: 'GET',
        url: `https://app.example/api/console/${path}`,
        params: { path },
        headers,
      }),
      'console',
    );

  it('redirects the page to Entra sign-in, coming back to the console; serves it once signed in', async () => {
    process.env.OPS_AUTH = 'entra';
    const answer = new HttpResponse(
      await consoleFiles(
        new HttpRequest({ method: 'GET', url: 'https://app.example/api/console/', params: { path: '' } }),
      ),
    );
    expect({ status: answer.status, location: answer.headers.get('location') }).toEqual({
      status: 302,
      location: '/.auth/login/aad?post_login_redirect_uri=%2Fapi%2Fconsole%2F',
    });
    expect((await page('index.html')).status).toBe(302);
    const signedIn = await page('', { 'x-ms-client-principal': reader });
    expect({ status: signedIn.status, page: signedIn.text.includes('app.js') }).toEqual({
      status: 200,
      page: true,
    });
    // The page's script and styles are public code: no sign-in needed to load them.
    expect((await page('app.js')).status).toBe(200);
  });

  it('/api/console without its slash is sent to /api/console/, where the relative files of the page resolve', async () => {
    for (const mode of ['entra', 'key']) {
      process.env.OPS_AUTH = mode;
      const answer = new HttpResponse(
        await consoleFiles(
          new HttpRequest({ method: 'GET', url: 'https://app.example/api/console?x=1', params: {} }),
        ),
      );
      // Before: the page itself (200), whose app.js resolved to /api/app.js: "Loading the console…" for ever.
      expect({ status: answer.status, location: answer.headers.get('location') }).toEqual({
        status: 308,
        location: '/api/console/?x=1',
      });
    }
  });

  it('a malformed principal header is no sign-in; with OPS_AUTH=key the page is served as it is', async () => {
    process.env.OPS_AUTH = 'entra';
    expect((await page('', { 'x-ms-client-principal': 'not base64 json' })).status).toBe(302);
    process.env.OPS_AUTH = 'key';
    expect((await page('')).status).toBe(200);
  });
});

describe('opsApi with OPS_AUTH=key (the host admits only the master key)', () => {
  it('identity headers are ignored: the audit name is the admin key, whatever the headers claim', async () => {
    // The host's key check happens before the handler; here the handler must not trust any identity header.
    const { context } = invocation('opsApi');
    const request = opsRequest('GET', 'definitions', {
      'x-ms-client-principal': operator,
      'x-ms-client-principal-name': 'otto@contoso.test',
    });
    const response = await opsApi(request, context);
    expect(response.status).toBe(200);
    expect(opsAuthMode({})).toBe('key');
    expect(opsAuthLevel('key')).toBe('admin');
    expect(opsAuthLevel('entra')).toBe('anonymous');
  });

  it('an unknown OPS_AUTH is a configuration error (500 naming it), never a silent downgrade', async () => {
    process.env.OPS_AUTH = 'none';
    try {
      const result = await call(opsApi, opsRequest('GET', 'definitions', {}), 'opsApi');
      expect(result.status).toBe(500);
      expect(JSON.parse(result.text).error).toContain('OPS_AUTH');
    } finally {
      delete process.env.OPS_AUTH;
    }
  });
});

describe('the audit identity comes from the validated principal', () => {
  it('parses the documented header shape and names the caller by name and object id', () => {
    const parsed = parseClientPrincipal(operator);
    expect(parsed).toEqual({ id: 'oid-operator', name: 'otto@contoso.test', roles: [OPS_WRITE_ROLE] });
    expect(auditName({ kind: 'entra', ...parsed! })).toBe('otto@contoso.test (oid-operator)');
    expect(auditName({ kind: 'admin-key', name: 'admin-key' })).toBe('admin-key');
  });

  it('refuses headers that are not the documented shape or lack an object id', () => {
    expect(parseClientPrincipal(null)).toBeNull();
    expect(parseClientPrincipal(Buffer.from('{"claims":"x"}').toString('base64'))).toBeNull();
    expect(parseClientPrincipal(principalHeader([[NAME, 'no-oid@contoso.test']]))).toBeNull();
  });
});

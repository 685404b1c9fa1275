import { HttpRequest, HttpResponse } from '@azure/functions';
import { graphLifecycle } from '../../src/functions/graphLifecycle';
import { graphWebhook } from '../../src/functions/graphWebhook';
import { pullQueueOutput } from '../../src/functions/queues';
import type { TestDatabase } from '../support/db';
import { invocation, postJson, queued } from './support/invocation';
import { metaOnlyContext, notification, ordersRuntime, type OrdersRuntime } from './support/metaFixtures';

const URL = 'http://127.0.0.1:7071/api/graph/notifications?code=key';

let fixture: OrdersRuntime;
let db: TestDatabase;
let ordersId: string;

beforeAll(async () => {
  fixture = await ordersRuntime();
  ({ db, ordersId } = fixture);
});
afterAll(() => fixture.close());

beforeEach(() => db.pool.query('DELETE FROM arcore.pending_pulls'));

async function call(request: HttpRequest) {
  const { context, logs } = invocation('graphWebhook');
  const init = await graphWebhook(request, context);
  const response = new HttpResponse(init);
  return {
    status: response.status,
    text: await response.text(),
    response,
    messages: queued(context, pullQueueOutput),
    logs,
  };
}

describe('graph webhook: validation handshake', () => {
  it('echoes the URL-decoded validation token as text/plain with 200', async () => {
    const request = new HttpRequest({
      method: 'POST',
      url: `${URL}&validationToken=Validation%3A%20Testing%20client+a%2Bb`,
    });
    const result = await call(request);
    expect(result.status).toBe(200);
    expect(result.text).toBe('Validation: Testing client a+b');
    expect(result.response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(result.messages).toEqual([]);
  });

  it('echoes on GET too and refuses a GET without a token', async () => {
    expect((await call(new HttpRequest({ method: 'GET', url: `${URL}&validationToken=abc` }))).text).toBe(
      'abc',
    );
    expect((await call(new HttpRequest({ method: 'GET', url: URL }))).status).toBe(405);
  });
});

describe('I11 graph webhook: notifications', () => {
  it('answers 202 and enqueues one pull message for a burst of 100 notifications', async () => {
    const body = { value: Array.from({ length: 100 }, () => notification('sub-orders', 'right')) };
    const result = await call(postJson(URL, body));
    expect(result.status).toBe(202);
    expect(result.messages).toEqual([
      expect.objectContaining({ definition: 'orders', definitionId: ordersId, trigger: 'webhook' }),
    ]);
    const again = await call(postJson(URL, body));
    expect(again.status).toBe(202);
    expect(again.messages).toEqual([]);
  });

  it('answers within the 3 s Graph allows', async () => {
    const started = Date.now();
    await call(postJson(URL, { value: [notification('sub-orders', 'right')] }));
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('I12 graph webhook: bad input never enqueues and never answers 5xx', () => {
  it.each([
    ['bad JSON', 400, '{"value": ['],
    ['an empty body', 400, ''],
    ['a body that is not {value: [...]}', 400, { value: { subscriptionId: 'sub-orders' } }],
    ['a wrong clientState', 202, { value: [notification('sub-orders', 'wrong')] }],
    ['a missing clientState', 202, { value: [notification('sub-orders', undefined)] }],
    ['an unknown subscription', 202, { value: [notification('sub-unknown', 'right')] }],
  ])('%s → %d, nothing enqueued', async (_label, status, body) => {
    const result = await call(postJson(URL, body));
    expect(result.status).toBe(status);
    expect(result.messages).toEqual([]);
    const { rows } = await db.pool.query('SELECT 1 FROM arcore.pending_pulls');
    expect(rows).toHaveLength(0);
  });

  it('refuses an oversized body with 413, by declared length and by actual size', async () => {
    const big = JSON.stringify({
      value: [notification('sub-orders', 'right')],
      pad: 'x'.repeat(1024 * 1024),
    });
    const actual = await call(postJson(URL, big));
    expect(actual.status).toBe(413);
    expect(actual.messages).toEqual([]);
    const declared = await call(postJson(URL, '{"value":[]}', { 'content-length': String(5 * 1024 * 1024) }));
    expect(declared.status).toBe(413);
  });

  it('answers 500 only when the notifications cannot be persisted, so Graph retries', async () => {
    const broken = await metaOnlyContext(db);
    await broken.ctx.meta.end();
    const restore = fixture.runtimeOver(broken.ctx);
    try {
      const result = await call(postJson(URL, { value: [notification('sub-orders', 'right')] }));
      expect(result.status).toBe(500);
      expect(result.messages).toEqual([]);
      expect(result.logs.some((l) => l.level === 'error')).toBe(true);
    } finally {
      restore();
    }
  });
});

describe('graph lifecycle endpoint', () => {
  async function lifecycle(request: HttpRequest) {
    const { context } = invocation('graphLifecycle');
    const response = new HttpResponse(await graphLifecycle(request, context));
    return {
      status: response.status,
      text: await response.text(),
      messages: queued(context, pullQueueOutput),
    };
  }
  const LIFECYCLE = 'http://127.0.0.1:7071/api/graph/lifecycle';

  it('answers the validation handshake', async () => {
    const result = await lifecycle(
      new HttpRequest({ method: 'POST', url: `${LIFECYCLE}?validationToken=t%26k` }),
    );
    expect(result).toMatchObject({ status: 200, text: 't&k' });
  });

  it('queues a pull for a "missed" event with the right clientState, and ignores a wrong one', async () => {
    const event = (clientState: string) => ({
      value: [
        { subscriptionId: 'sub-orders', lifecycleEvent: 'missed', clientState, resource: 'sites/s/lists/l' },
      ],
    });
    const wrong = await lifecycle(postJson(LIFECYCLE, event('wrong')));
    expect(wrong).toMatchObject({ status: 202, messages: [] });
    const right = await lifecycle(postJson(LIFECYCLE, event('right')));
    expect(right.status).toBe(202);
    expect(right.messages).toEqual([
      expect.objectContaining({ definition: 'orders', definitionId: ordersId }),
    ]);
  });

  it('rejects malformed bodies with 400', async () => {
    expect((await lifecycle(postJson(LIFECYCLE, '{'))).status).toBe(400);
    expect((await lifecycle(postJson(LIFECYCLE, { value: 3 }))).status).toBe(400);
  });
});

import {
  startReceiver,
  startTestEmulator,
  sleep,
  type EntityShape,
  type Receiver,
  type TestEmulator,
} from './support';

interface NotificationBody {
  value: Record<string, unknown>[];
}

describe('change notifications', () => {
  let t: TestEmulator;
  let receiver: Receiver;
  beforeAll(async () => {
    t = await startTestEmulator({ notificationDelayMs: 200, notificationRetryWindowMs: 5000 });
  });
  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(() => receiver.close());
  afterAll(() => t.stop());

  async function watchedList(name: string, extra: Record<string, unknown> = {}) {
    const listId = await t.createList(name);
    const subscription = await t.graph<EntityShape>('POST', '/subscriptions', {
      body: {
        changeType: 'updated',
        notificationUrl: receiver.url,
        resource: `sites/${t.siteId}/lists/${listId}`,
        expirationDateTime: new Date(Date.now() + 3_600_000).toISOString(),
        clientState: 'cs-1',
        ...extra,
      },
    });
    expect(subscription.status).toBe(201);
    return {
      listId,
      subscriptionId: subscription.body.id,
      items: `/sites/${t.siteId}/lists/${listId}/items`,
    };
  }

  it('posts the documented payload once per window, batching the changes in it, our own writes included', async () => {
    const { listId, subscriptionId, items } = await watchedList('Notified');
    await t.graph('POST', items, { body: { fields: { Title: 'a' } } });
    await t.graph('POST', items, { body: { fields: { Title: 'b' } }, token: t.emulator.userToken('alice') });
    await t.graph('PATCH', `${items}/1/fields`, { body: { Title: 'c' } });
    const [delivery] = await receiver.waitFor(1);
    await sleep(400);
    const notifications = receiver.received.filter((r) => !r.url.includes('validationToken'));
    expect(notifications).toHaveLength(1);
    expect(delivery.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(delivery.body) as NotificationBody;
    const site = t.siteId.split(',')[1];
    expect(body).toEqual({
      value: [
        {
          subscriptionId,
          clientState: 'cs-1',
          changeType: 'updated',
          resource: `/sites/${site}/lists/${listId}`,
          tenantId: expect.stringMatching(/^[0-9a-f-]{36}$/),
          subscriptionExpirationDateTime: expect.any(String),
          resourceData: { '@odata.type': '#Microsoft.Graph.ListItem' },
        },
      ],
    });
    expect(t.emulator.control.stats().notificationsSent).toBeGreaterThanOrEqual(1);
  });

  it('retries a receiver that fails with exponential backoff until it answers 2xx', async () => {
    const { items } = await watchedList('Flaky');
    let failures = 2;
    receiver.respond = (req, res) => {
      if (req.url.includes('validationToken=')) {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(new URL(req.url, 'http://x').searchParams.get('validationToken')!);
        return;
      }
      res.writeHead(failures-- > 0 ? 503 : 202);
      res.end();
    };
    const sentBefore = t.emulator.control.stats().notificationsSent;
    await t.graph('POST', items, { body: { fields: { Title: 'x' } } });
    const attempts = await receiver.waitFor(3, 5000);
    expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(400);
    expect(attempts[2].at - attempts[1].at).toBeGreaterThan(attempts[1].at - attempts[0].at);
    await sleep(50);
    expect(t.emulator.control.stats().notificationsSent).toBe(sentBefore + 1);
  });

  it('drops a delivery after the retry window and counts it as failed', async () => {
    const short = await startTestEmulator({ notificationDelayMs: 0, notificationRetryWindowMs: 800 });
    try {
      const listId = await short.createList('Dead');
      const created = await short.graph<EntityShape>('POST', '/subscriptions', {
        body: {
          changeType: 'updated',
          notificationUrl: receiver.url,
          resource: `sites/${short.siteId}/lists/${listId}`,
          expirationDateTime: new Date(Date.now() + 3_600_000).toISOString(),
        },
      });
      expect(created.status).toBe(201);
      receiver.respond = (_req, res) => {
        res.writeHead(500);
        res.end();
      };
      await short.graph('POST', `/sites/${short.siteId}/lists/${listId}/items`, {
        body: { fields: { Title: 'x' } },
      });
      await sleep(1500);
      expect(short.emulator.control.stats()).toMatchObject({ notificationsSent: 0, notificationsFailed: 1 });
    } finally {
      await short.stop();
    }
  });

  it('treats a receiver slower than 3 s as failed and retries it', async () => {
    const { items } = await watchedList('Slow');
    let first = true;
    receiver.respond = (req, res) => {
      if (req.url.includes('validationToken=')) {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(new URL(req.url, 'http://x').searchParams.get('validationToken')!);
        return;
      }
      const delay = first ? 3300 : 0;
      first = false;
      setTimeout(() => {
        res.writeHead(202);
        res.end();
      }, delay);
    };
    await t.graph('POST', items, { body: { fields: { Title: 'x' } } });
    const attempts = await receiver.waitFor(2, 6000);
    expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(3000);
  }, 10_000);

  it('sends reauthorizationRequired to the lifecycleNotificationUrl when triggered', async () => {
    const lifecycle = await startReceiver('/lifecycle');
    try {
      const { subscriptionId } = await watchedList('Lifecycle', { lifecycleNotificationUrl: lifecycle.url });
      t.emulator.control.triggerLifecycle(subscriptionId, 'reauthorizationRequired');
      const [event] = await lifecycle.waitFor(1);
      expect(JSON.parse(event.body)).toEqual({
        value: [
          {
            subscriptionId,
            subscriptionExpirationDateTime: expect.any(String),
            tenantId: expect.any(String),
            clientState: 'cs-1',
            lifecycleEvent: 'reauthorizationRequired',
          },
        ],
      });
      expect(() => t.emulator.control.triggerLifecycle('nope', 'reauthorizationRequired')).toThrow(
        /No subscription/,
      );
    } finally {
      await lifecycle.close();
    }
  });
});

import {
  startReceiver,
  startTestEmulator,
  sleep,
  type ErrorShape,
  type EntityShape,
  type PageShape,
  type Receiver,
  type TestEmulator,
} from './support';

describe('subscriptions', () => {
  let t: TestEmulator;
  let receiver: Receiver;
  let listId: string;
  let resource: string;
  beforeAll(async () => {
    t = await startTestEmulator();
    receiver = await startReceiver();
    listId = await t.createList('Watched');
    resource = `sites/${t.siteId}/lists/${listId}`;
  });
  afterAll(async () => {
    await t.stop();
    await receiver.close();
  });

  const inMinutes = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
  const subscribe = (overrides: Record<string, unknown> = {}) =>
    t.graph<EntityShape & ErrorShape>('POST', '/subscriptions', {
      body: {
        changeType: 'updated',
        notificationUrl: receiver.url,
        resource,
        expirationDateTime: inMinutes(60),
        clientState: 'secret',
        ...overrides,
      },
    });

  it('performs the validation handshake, then answers 201 with the subscription', async () => {
    const before = receiver.received.length;
    const answer = await subscribe();
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      resource,
      changeType: 'updated',
      clientState: 'secret',
      notificationUrl: receiver.url,
      applicationId: expect.any(String),
    });
    const handshake = receiver.received[before];
    expect(handshake.method).toBe('POST');
    expect(handshake.headers['content-type']).toMatch(/^text\/plain/);
    const token = new URL(handshake.url, 'http://x').searchParams.get('validationToken')!;
    expect(token).toMatch(/^Validation: Testing client application reachability/);
    expect(handshake.url).not.toContain('+');
  });

  it('validates the lifecycleNotificationUrl the same way', async () => {
    const lifecycle = await startReceiver('/lifecycle');
    try {
      const answer = await subscribe({ lifecycleNotificationUrl: lifecycle.url });
      expect(answer.status).toBe(201);
      expect(answer.body.lifecycleNotificationUrl).toBe(lifecycle.url);
      expect(lifecycle.received.filter((r) => r.url.includes('validationToken='))).toHaveLength(1);
    } finally {
      await lifecycle.close();
    }
  });

  it('answers 400 when the endpoint fails the handshake: wrong status, content type, body, or unreachable', async () => {
    const picky = await startReceiver();
    try {
      picky.respond = (_req, res) => {
        res.writeHead(404);
        res.end();
      };
      const notFound = await subscribe({ notificationUrl: picky.url });
      expect(notFound.status).toBe(400);
      expect(notFound.body.error.message).toMatch(/must respond with 200 OK/);
      picky.respond = (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('"x"');
      };
      expect((await subscribe({ notificationUrl: picky.url })).body.error.message).toMatch(/text\/plain/);
      picky.respond = (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('not the token');
      };
      expect((await subscribe({ notificationUrl: picky.url })).body.error.message).toMatch(
        /exactly match validationToken/,
      );
    } finally {
      await picky.close();
    }
    const unreachable = await subscribe({ notificationUrl: 'http://127.0.0.1:9/notify' });
    expect(unreachable.status).toBe(400);
  });

  it('accepts only changeType updated, https (or loopback http) urls, lifetimes up to 42,300 minutes and clientState up to 128', async () => {
    expect((await subscribe({ changeType: 'created' })).status).toBe(400);
    expect((await subscribe({ changeType: 'updated,deleted' })).status).toBe(400);
    expect((await subscribe({ notificationUrl: 'http://example.com/notify' })).body.error.message).toMatch(
      /https/,
    );
    expect((await subscribe({ expirationDateTime: inMinutes(-1) })).body.error.message).toMatch(/future/);
    expect((await subscribe({ expirationDateTime: inMinutes(42_301) })).body.error.message).toMatch(
      /42300 minutes/,
    );
    expect((await subscribe({ expirationDateTime: inMinutes(42_299) })).status).toBe(201);
    expect((await subscribe({ clientState: 'x'.repeat(129) })).body.error.message).toMatch(/128/);
    expect((await subscribe({ clientState: 'x'.repeat(128) })).status).toBe(201);
    expect((await subscribe({ resource: `sites/${t.siteId}/lists/nope` })).status).toBe(400);
    expect((await subscribe({ resource: 'me/messages' })).status).toBe(400);
  });

  it('lists, gets, renews (PATCH), reauthorizes and deletes subscriptions', async () => {
    const created = await subscribe();
    const id = created.body.id;
    const all = await t.graph<PageShape<EntityShape>>('GET', '/subscriptions');
    expect(all.body.value.map((s) => s.id)).toContain(id);
    // "the clientState property value is not returned for security purposes" by the list
    // (https://learn.microsoft.com/en-us/graph/api/subscription-list); a GET by id shows it.
    expect(all.body.value.find((s) => s.id === id)?.clientState).toBeNull();
    const one = await t.graph<EntityShape>('GET', `/subscriptions/${id}`);
    expect(one.body.id).toBe(id);
    expect(one.body.clientState).toBe('secret');
    const later = inMinutes(600);
    const renewed = await t.graph<EntityShape>('PATCH', `/subscriptions/${id}`, {
      body: { expirationDateTime: later },
    });
    expect(renewed.status).toBe(200);
    expect(Date.parse(String(renewed.body.expirationDateTime))).toBe(Date.parse(later));
    expect(
      (await t.graph('PATCH', `/subscriptions/${id}`, { body: { expirationDateTime: inMinutes(50_000) } }))
        .status,
    ).toBe(400);
    expect((await t.graph('POST', `/subscriptions/${id}/reauthorize`)).status).toBe(204);
    expect((await t.graph('DELETE', `/subscriptions/${id}`)).status).toBe(204);
    expect((await t.graph('GET', `/subscriptions/${id}`)).status).toBe(404);
    const asAlice = await t.graph<PageShape<EntityShape>>('GET', '/subscriptions', {
      token: t.emulator.userToken('alice'),
    });
    expect(asAlice.body.value).toEqual([]);
  });

  it('lets expired subscriptions disappear', async () => {
    const created = await subscribe({ expirationDateTime: new Date(Date.now() + 1200).toISOString() });
    expect(created.status).toBe(201);
    await sleep(1500);
    expect((await t.graph('GET', `/subscriptions/${created.body.id}`)).status).toBe(404);
    const all = await t.graph<PageShape<EntityShape>>('GET', '/subscriptions');
    expect(all.body.value.map((s) => s.id)).not.toContain(created.body.id);
  });
});

import {
  startReceiver,
  startTestEmulator,
  type EntityShape,
  type PageShape,
  type TestEmulator,
} from './support';

describe('control API over HTTPS under /_emulator (no auth)', () => {
  let t: TestEmulator;
  beforeAll(async () => {
    t = await startTestEmulator();
  });
  afterAll(() => t.stop());

  const control = async <T = unknown>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${t.emulator.origin}/_emulator${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: t.dispatcher,
    } as RequestInit);
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  };

  it('gives site ids, items with fields (no RU, not logged), stats by route and the request log', async () => {
    const site = await control<{ id: string }>(
      'GET',
      `/site-id?hostPath=${encodeURIComponent('contoso.sharepoint.com:/sites/demo')}`,
    );
    expect(site).toEqual({ status: 200, body: { id: t.siteId } });
    const listId = await t.createList('Controlled', [{ name: 'Secret', text: {} }]);
    await t.graph('POST', `/sites/${t.siteId}/lists/${listId}/items`, {
      body: { fields: { Title: 'visible' } },
    });
    const statsBefore = t.emulator.control.stats();
    const logBefore = t.emulator.control.requestLog().length;
    const items = await control<{ id: string; fields: Record<string, unknown> }[]>(
      'GET',
      `/items?siteId=${encodeURIComponent(t.siteId)}&list=Controlled`,
    );
    expect(items.body).toEqual([
      expect.objectContaining({ id: '1', fields: expect.objectContaining({ Title: 'visible' }) }),
    ]);
    expect(t.emulator.control.stats().resourceUnits).toBe(statsBefore.resourceUnits);
    expect(t.emulator.control.requestLog()).toHaveLength(logBefore);
    const stats = await control<{ requests: Record<string, number>; resourceUnits: number }>('GET', '/stats');
    expect(stats.body.requests['POST /sites/{site}/lists/{list}/items 201']).toBe(1);
    expect(stats.body.requests['POST /sites/{site}/lists 201']).toBeGreaterThanOrEqual(1);
    expect(stats.body.resourceUnits).toBeGreaterThan(0);
    const log = await control<
      { method: string; path: string; body: { fields?: Record<string, unknown> }; identity: string }[]
    >('GET', '/requests');
    const writes = log.body.filter((e) => e.method === 'POST' && e.path.endsWith('/items'));
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({ identity: 'app', body: { fields: { Title: 'visible' } } });
    // What others use the log for: proving a field was never sent.
    expect(log.body.some((e) => e.body?.fields && 'Secret' in e.body.fields)).toBe(false);
    expect((await control('DELETE', '/requests')).status).toBe(204);
    expect(t.emulator.control.requestLog()).toEqual([]);
  });

  it('switches throttling, latency and notification delay', async () => {
    expect((await control('POST', '/throttling', { enabled: true, resourceUnitsPerMinute: 1 })).status).toBe(
      204,
    );
    expect((await t.graph('GET', `/sites/${t.siteId}/lists`)).status).toBe(429);
    expect((await control('POST', '/throttling', { enabled: false })).status).toBe(204);
    expect((await t.graph('GET', `/sites/${t.siteId}/lists`)).status).toBe(200);
    expect((await control('POST', '/latency', { ms: 200 })).status).toBe(204);
    const start = Date.now();
    await t.graph('GET', `/sites/${t.siteId}`);
    expect(Date.now() - start).toBeGreaterThanOrEqual(190);
    expect((await control('POST', '/latency', { ms: 0 })).status).toBe(204);
    expect((await control('POST', '/notification-delay', { ms: 5 })).status).toBe(204);
    expect((await control('POST', '/latency', { ms: -1 })).status).toBe(400);
  });

  it('injects faults, expires delta tokens and toggles delta repeats', async () => {
    const listId = await t.createList('Remote');
    const items = `/sites/${t.siteId}/lists/${listId}/items`;
    expect(
      (await control('POST', '/faults', { method: 'GET', pathPattern: '/items$', count: 1, status: 500 }))
        .status,
    ).toBe(204);
    expect((await t.graph('GET', items)).status).toBe(500);
    expect((await control('POST', '/faults', { count: 0 })).status).toBe(400);
    const latest = await t.graph<PageShape>('GET', `${items}/delta?token=latest`);
    expect((await control('POST', '/delta/expire')).status).toBe(204);
    expect((await t.graph('GET', latest.body['@odata.deltaLink']!)).status).toBe(410);
    expect((await control('POST', '/delta/repeats', { enabled: false })).status).toBe(204);
    for (let i = 0; i < 30; i++) await t.graph('POST', items, { body: { fields: { Title: `r${i}` } } });
    const once = await t.graph<PageShape>('GET', `${items}/delta?$top=5`);
    const second = await t.graph<PageShape>('GET', once.body['@odata.nextLink']!);
    const ids = [...once.body.value, ...second.body.value].map((i) => i.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect((await control('POST', '/delta/repeats', { enabled: true })).status).toBe(204);
    expect((await control('DELETE', '/faults')).status).toBe(204);
    expect(
      (await control('POST', '/delta/errors', { siteId: t.siteId, list: 'Remote', itemId: '1', count: 1 }))
        .status,
    ).toBe(204);
    const errored = await t.graph<PageShape<unknown>>('GET', `${items}/delta?$top=5`);
    expect(errored.body.value).toContainEqual({
      error: expect.objectContaining({ code: 'InternalServerError' }),
    });
    expect(
      (await control('POST', '/delta/errors', { siteId: t.siteId, list: 'Remote', itemId: 'x' })).status,
    ).toBe(400);
    expect((await control('DELETE', '/delta/errors')).status).toBe(204);
  });

  it('sets site time zones, reports user lookup ids and triggers lifecycle events', async () => {
    expect(
      (await control('POST', '/site-timezone', { site: t.siteId, timeZone: 'Mars/Olympus' })).status,
    ).toBe(400);
    expect((await control('POST', '/site-timezone', { site: t.siteId, timeZone: 'UTC' })).status).toBe(204);
    const lookup = await control<{ lookupId: number }>('GET', '/user-lookup-id?name=bob');
    expect(lookup.body.lookupId).toBe(t.emulator.control.userLookupId('bob'));
    const receiver = await startReceiver();
    try {
      const listId = await t.createList('Lifecycled');
      const subscription = await t.graph<EntityShape>('POST', '/subscriptions', {
        body: {
          changeType: 'updated',
          notificationUrl: receiver.url,
          lifecycleNotificationUrl: receiver.url,
          resource: `sites/${t.siteId}/lists/${listId}`,
          expirationDateTime: new Date(Date.now() + 600_000).toISOString(),
        },
      });
      const triggered = await control('POST', `/subscriptions/${subscription.body.id}/lifecycle`, {
        event: 'reauthorizationRequired',
      });
      expect(triggered.status).toBe(204);
      const [event] = await receiver.waitFor(1);
      expect(JSON.parse(event.body).value[0].lifecycleEvent).toBe('reauthorizationRequired');
      expect(
        (await control('POST', '/subscriptions/nope/lifecycle', { event: 'reauthorizationRequired' })).status,
      ).toBe(400);
    } finally {
      await receiver.close();
    }
  });

  it('resets lists, items, subscriptions, logs and stats, and answers 404 to unknown operations', async () => {
    await t.createList('Doomed');
    expect((await control('POST', '/reset')).status).toBe(204);
    const lists = await t.graph<PageShape<EntityShape>>('GET', `/sites/${t.siteId}/lists`);
    expect(lists.body.value).toEqual([]);
    expect(t.emulator.control.stats().requests).toEqual({ 'GET /sites/{site}/lists 200': 1 });
    expect((await control('POST', '/nonsense')).status).toBe(404);
    expect((await t.graph('GET', '/_emulator/stats')).status).toBe(400);
  });
});

import { GraphError as SdkGraphError } from '@microsoft/microsoft-graph-client';
import { FaultInjector } from '../../src/emulator/faults';
import { startTestEmulator, type ErrorShape, type TestEmulator } from './support';

describe('FaultInjector', () => {
  it('matches method and path pattern, counts down and then lets requests through', () => {
    const faults = new FaultInjector();
    faults.add({ method: 'post', pathPattern: '/items$', count: 2, status: 503 });
    expect(faults.take('GET', '/sites/s/lists/l/items')).toBeUndefined();
    expect(faults.take('POST', '/sites/s/lists/l/items')?.status).toBe(503);
    expect(faults.take('POST', '/sites/s/lists/l/items/1/fields')).toBeUndefined();
    expect(faults.take('POST', '/sites/s/lists/l/items')?.status).toBe(503);
    expect(faults.take('POST', '/sites/s/lists/l/items')).toBeUndefined();
  });

  it('rejects faults that would do nothing or both answer and drop', () => {
    const faults = new FaultInjector();
    expect(() => faults.add({ count: 1 })).toThrow(/status, drop or latencyMs/);
    expect(() => faults.add({ count: 1, status: 500, drop: 'after' })).toThrow(/not both/);
    expect(() => faults.add({ count: 0, status: 500 })).toThrow(/count/);
    expect(() => faults.add({ count: 1, status: 500, pathPattern: '(' })).toThrow(/pathPattern/);
  });
});

describe('I6 crash safety support: injected faults over HTTPS', () => {
  let t: TestEmulator;
  let listId: string;
  let items: string;
  beforeAll(async () => {
    t = await startTestEmulator();
    listId = await t.createList('Faulty');
    items = `/sites/${t.siteId}/lists/${listId}/items`;
  });
  afterAll(() => t.stop());
  afterEach(() => t.emulator.control.clearFaults());

  const count = () => t.emulator.control.listItems(t.siteId, listId).length;

  it('answers the next N matching requests with the injected status and Retry-After, applying nothing', async () => {
    t.emulator.control.injectFault({
      method: 'POST',
      pathPattern: '/items$',
      count: 2,
      status: 503,
      retryAfterSeconds: 7,
    });
    const before = count();
    const first = await t.graph<ErrorShape>('POST', items, { body: { fields: { Title: 'x' } } });
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('7');
    expect(first.body.error.code).toBe('serviceNotAvailable');
    expect((await t.graph('POST', items, { body: { fields: { Title: 'x' } } })).status).toBe(503);
    expect(count()).toBe(before);
    expect((await t.graph('POST', items, { body: { fields: { Title: 'x' } } })).status).toBe(201);
  });

  it('adds latency to matching requests', async () => {
    t.emulator.control.injectFault({ pathPattern: '/items$', method: 'GET', count: 1, latencyMs: 250 });
    const start = Date.now();
    expect((await t.graph('GET', items)).status).toBe(200);
    expect(Date.now() - start).toBeGreaterThanOrEqual(240);
  });

  it("drop 'before' destroys the connection without applying the write", async () => {
    t.emulator.control.injectFault({ method: 'POST', pathPattern: '/items$', count: 1, drop: 'before' });
    const before = count();
    await expect(t.graph('POST', items, { body: { fields: { Title: 'lost' } } })).rejects.toThrow();
    expect(count()).toBe(before);
    expect(t.emulator.control.requestLog().at(-1)).toMatchObject({ status: 0, dropped: 'before' });
  });

  it("drop 'after' applies the write, then destroys the connection: the client never sees the answer", async () => {
    t.emulator.control.injectFault({ method: 'POST', pathPattern: '/items$', count: 1, drop: 'after' });
    const before = count();
    await expect(t.graph('POST', items, { body: { fields: { Title: 'ghost' } } })).rejects.toThrow();
    const after = t.emulator.control.listItems(t.siteId, listId);
    expect(after).toHaveLength(before + 1);
    expect(after.at(-1)!.fields.Title).toBe('ghost');
  });

  it('inside $batch: matching inner requests are applied, then the whole batch connection is dropped', async () => {
    t.emulator.control.injectFault({ method: 'POST', pathPattern: '/items$', count: 1, drop: 'after' });
    const before = count();
    const requests = ['a', 'b', 'c'].map((title, i) => ({
      id: String(i),
      method: 'POST',
      url: items,
      headers: { 'Content-Type': 'application/json' },
      body: { fields: { Title: title } },
    }));
    await expect(t.graph('POST', '/$batch', { body: { requests } })).rejects.toThrow();
    expect(count()).toBe(before + 3);
    t.emulator.control.injectFault({ method: 'POST', pathPattern: '/items$', count: 1, drop: 'before' });
    await expect(t.graph('POST', '/$batch', { body: { requests } })).rejects.toThrow();
    expect(count()).toBe(before + 3);
  });

  it('reaches SDK callers as a GraphError with the status and Graph code', async () => {
    t.emulator.control.injectFault({ method: 'GET', pathPattern: '/items$', count: 1, status: 500 });
    const error = await t
      .sdk()
      .api(items)
      .get()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(SdkGraphError);
    expect(error).toMatchObject({ statusCode: 500, code: 'generalException' });
  });
});

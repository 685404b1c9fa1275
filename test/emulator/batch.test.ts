import {
  BatchRequestContent,
  BatchResponseContent,
  type BatchResponseBody,
} from '@microsoft/microsoft-graph-client';
import { startTestEmulator, type ErrorShape, type ListItemShape, type TestEmulator } from './support';

interface BatchAnswer {
  responses: { id: string; status: number; headers: Record<string, string>; body?: unknown }[];
}

describe('$batch', () => {
  let t: TestEmulator;
  let listId: string;
  let itemsPath: string;
  beforeAll(async () => {
    t = await startTestEmulator();
    listId = await t.createList('Batched');
    itemsPath = `sites/${t.siteId}/lists/${listId}/items`;
  });
  afterAll(() => t.stop());

  const json = { 'Content-Type': 'application/json' };
  const batch = (requests: unknown[]) => t.graph<BatchAnswer>('POST', '/$batch', { body: { requests } });
  const byId = (answer: BatchAnswer) => new Map(answer.responses.map((r) => [r.id, r]));

  it('runs requests with relative urls (with or without leading /), outer 200 even when inner ones fail', async () => {
    const answer = await batch([
      { id: 'a', method: 'POST', url: itemsPath, headers: json, body: { fields: { Title: 'one' } } },
      { id: 'b', method: 'POST', url: `/${itemsPath}`, headers: json, body: { fields: { Title: 'two' } } },
      { id: 'c', method: 'GET', url: `/${itemsPath}/9999` },
      { id: 'd', method: 'POST', url: itemsPath, headers: json, body: { fields: { Nope: 1 } } },
    ]);
    expect(answer.status).toBe(200);
    const responses = byId(answer.body);
    expect(responses.get('a')).toMatchObject({ status: 201, body: { fields: { Title: 'one' } } });
    expect(responses.get('b')!.status).toBe(201);
    expect(responses.get('c')).toMatchObject({ status: 404, body: { error: { code: 'itemNotFound' } } });
    expect(responses.get('d')).toMatchObject({
      status: 400,
      body: { error: { message: "Field 'Nope' is not recognized" } },
    });
    expect(responses.get('a')!.headers['Content-Type']).toMatch(/^application\/json/);
    const inner = t.emulator.control.requestLog().filter((e) => e.batch);
    expect(
      inner
        .slice(-4)
        .map((e) => e.status)
        .sort(),
    ).toEqual([201, 201, 400, 404]);
    // The outer entry keeps the body as sent (its text, not serialised again), beside its inner entries.
    const outer = t.emulator.control
      .requestLog()
      .filter((e) => e.path === '/$batch' && !e.batch)
      .at(-1);
    expect(outer).toMatchObject({ method: 'POST', status: 200, identity: expect.any(String) });
    const sent = outer!.body as { requests: { id: string; body?: unknown }[] };
    expect(sent.requests.map((r) => r.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(sent.requests[3].body).toEqual({ fields: { Nope: 1 } });
  });

  it("counts each outer batch once in the stats' batchWorkMs, by the emulator's own time on it", async () => {
    const before = t.emulator.control.stats().batchWorkMs;
    await batch([{ id: 'a', method: 'GET', url: itemsPath }]);
    await batch([{ id: 'a', method: 'GET', url: itemsPath }]);
    const after = t.emulator.control.stats().batchWorkMs;
    expect(after).toHaveLength(before.length);
    const added = after.map((count, i) => count - before[i]);
    expect(added.reduce((sum, n) => sum + n, 0)).toBe(2);
    expect(added.every((n) => n >= 0)).toBe(true);
  });

  it('times each outer batch from its arrival, and how late the injected latency fired only when there is one', async () => {
    const sum = (counts: number[], before: number[]) => counts.reduce((s, n, i) => s + n - before[i], 0);
    const before = t.emulator.control.stats();
    await batch([{ id: 'a', method: 'GET', url: itemsPath }]);
    const plain = t.emulator.control.stats();
    expect(sum(plain.batchInEmulatorMs, before.batchInEmulatorMs)).toBe(1);
    expect(sum(plain.batchLatencyLateMs, before.batchLatencyLateMs)).toBe(0);
    t.emulator.control.setLatency(30);
    try {
      await batch([{ id: 'a', method: 'GET', url: itemsPath }]);
    } finally {
      t.emulator.control.setLatency(0);
    }
    const delayed = t.emulator.control.stats();
    expect(sum(delayed.batchLatencyLateMs, plain.batchLatencyLateMs)).toBe(1);
    // Its whole time in the emulator holds the 30 ms of latency: no bucket below 30 ms gained a count.
    const gained = delayed.batchInEmulatorMs.map((n, i) => n - plain.batchInEmulatorMs[i]);
    expect(gained.findIndex((n) => n > 0)).toBeGreaterThanOrEqual(60);
  });

  it('rejects more than 20 requests, duplicate ids (compared without case) and bodies without Content-Type with 400', async () => {
    const many = Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: itemsPath }));
    const tooMany = await t.graph<ErrorShape>('POST', '/$batch', { body: { requests: many } });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toMatch(/20/);
    const duplicate = await t.graph('POST', '/$batch', {
      body: {
        requests: [
          { id: '1', method: 'GET', url: itemsPath },
          { id: '1', method: 'GET', url: itemsPath },
        ],
      },
    });
    expect(duplicate.status).toBe(400);
    // "id … Not case-sensitive. Must be unique in the batch, otherwise, the batch request fails with a 400 error
    // code." (https://learn.microsoft.com/en-us/graph/json-batching, "Creating a batch request")
    const sameButCase = await t.graph<ErrorShape>('POST', '/$batch', {
      body: {
        requests: [
          { id: 'a', method: 'GET', url: itemsPath },
          { id: 'A', method: 'GET', url: itemsPath },
        ],
      },
    });
    expect(sameButCase.status).toBe(400);
    expect(sameButCase.body.error.message).toMatch(/'A' is used more than once/);
    const before = t.emulator.control.listItems(t.siteId, listId).length;
    const noType = await t.graph<ErrorShape>('POST', '/$batch', {
      body: { requests: [{ id: '1', method: 'POST', url: itemsPath, body: { fields: { Title: 'x' } } }] },
    });
    expect(noType.status).toBe(400);
    expect(noType.body.error.message).toMatch(/Content-Type/);
    expect(t.emulator.control.listItems(t.siteId, listId)).toHaveLength(before);
  });

  it('orders by dependsOn and answers 424 to children of a failed request', async () => {
    const answer = await batch([
      { id: '3', method: 'GET', url: `${itemsPath}?$top=1`, dependsOn: ['2'] },
      {
        id: '2',
        method: 'POST',
        url: itemsPath,
        headers: json,
        body: { fields: { Title: 'parent' } },
        dependsOn: ['1'],
      },
      { id: '1', method: 'POST', url: itemsPath, headers: json, body: { fields: { Title: 'grandparent' } } },
      { id: 'bad', method: 'GET', url: `${itemsPath}/424242` },
      { id: 'child', method: 'GET', url: itemsPath, dependsOn: ['bad'] },
    ]);
    const responses = byId(answer.body);
    expect(responses.get('1')!.status).toBe(201);
    expect(responses.get('2')!.status).toBe(201);
    expect(responses.get('3')!.status).toBe(200);
    expect(Number((responses.get('2')!.body as ListItemShape).id)).toBe(
      Number((responses.get('1')!.body as ListItemShape).id) + 1,
    );
    expect(responses.get('child')).toMatchObject({ status: 424 });
    const unknownParent = await batch([{ id: 'x', method: 'GET', url: itemsPath, dependsOn: ['ghost'] }]);
    expect(unknownParent.status).toBe(400);
  });

  it('reads /v1.0 inside an inner url as a resource segment, as Graph does', async () => {
    const answer = await batch([{ id: '1', method: 'GET', url: `/v1.0/${itemsPath}` }]);
    expect(answer.status).toBe(200);
    expect(answer.body.responses[0]).toMatchObject({
      status: 400,
      body: { error: { message: "Resource not found for the segment 'v1.0'." } },
    });
  });

  it("works with the SDK's BatchRequestContent and BatchResponseContent", async () => {
    // SDK 3.0.7 keeps the path of a Request's URL: build it without the version (graph.md, SDK issue #1451).
    const create = new Request(`${t.emulator.origin}/${itemsPath}`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ fields: { Title: 'via sdk' } }),
    });
    const read = new Request(`${t.emulator.origin}/${itemsPath}?$top=1&$expand=fields`, { method: 'GET' });
    const content = new BatchRequestContent([
      { id: '1', request: create },
      { id: '2', request: read, dependsOn: ['1'] },
    ]);
    const client = t.sdk();
    const raw = (await client.api('/$batch').post(await content.getContent())) as BatchResponseBody;
    const responses = new BatchResponseContent(raw);
    const created = responses.getResponseById('1');
    expect(created.status).toBe(201);
    expect(((await created.json()) as ListItemShape).fields!.Title).toBe('via sdk');
    const page = responses.getResponseById('2');
    expect(page.status).toBe(200);
    expect(((await page.json()) as { value: unknown[] }).value).toHaveLength(1);
  });
});

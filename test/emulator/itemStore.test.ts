import { randomUUID } from 'node:crypto';
import {
  ItemStore,
  PREVIOUS_VERSIONS_KEPT,
  type ItemRecord,
  type StoredValue,
} from '../../src/emulator/itemStore';
import { REQUEST_LOG_CHAR_LIMIT, RequestRecorder } from '../../src/emulator/requestLog';
import { startTestEmulator, type ListItemShape, type PageShape, type TestEmulator } from './support';

function record(id: number, values: Record<string, StoredValue>, version = 1): ItemRecord {
  return {
    id,
    uniqueId: randomUUID(),
    version,
    values,
    createdMs: Date.UTC(2024, 0, 1),
    modifiedMs: Date.UTC(2024, 0, 2),
    author: 'app',
    editor: 'alice',
    changeSeq: id,
  };
}

describe('packed item store', () => {
  it('gives back every kind of stored value exactly as written', () => {
    const store = new ItemStore();
    const values: Record<string, StoredValue> = {
      Title: 'Zoë — ✓ 𝄞',
      Amount: -1234.56,
      Big: 2 ** 53 - 1,
      Done: false,
      Flag: true,
      Due: '2024-03-10T00:00:00Z',
      // Date-shaped text that is not in the stored form stays text, character for character.
      Loose: '2024-03-10T00:00:00.000Z',
      Odd: '2024-02-30T00:00:00Z',
      Tags: ['red', 'blue'],
      Empty: [],
      People: [7, 9],
      Lookup: 3,
    };
    const item = store.put({ ...record(5, values), uniqueId: 'A1B2C3D4-0000-4000-8000-00000000000F' });
    expect(item.values).toEqual(values);
    expect(item.value('Amount')).toBe(-1234.56);
    expect(item.value('Missing')).toBeUndefined();
    expect(item.uniqueId).toBe('a1b2c3d4-0000-4000-8000-00000000000f');
    expect(item).toMatchObject({ id: 5, version: 1, author: 'app', editor: 'alice', changeSeq: 5 });
    expect(store.has(4)).toBe(false);
    expect(store.view(4)).toBeUndefined();
  });

  it('replacing an item keeps the replaced version as previous and drops fields the new one lacks', () => {
    const store = new ItemStore();
    const first = store.put(record(1, { Title: 'one', Qty: 1 }));
    const second = store.put({ ...record(1, { Title: 'two' }, 2), uniqueId: first.uniqueId });
    expect(second.values).toEqual({ Title: 'two' });
    expect(second.previous).toEqual({
      version: 1,
      values: { Title: 'one', Qty: 1 },
      modifiedMs: Date.UTC(2024, 0, 2),
      editor: 'alice',
    });
    // A view is a snapshot of the version it was read at.
    expect(first.version).toBe(1);
    store.delete(1);
    expect(store.has(1)).toBe(false);
  });

  it('keeps text intact when stale bytes from updates are compacted away', () => {
    const store = new ItemStore();
    const uniqueIds = new Map<number, string>();
    for (let id = 1; id <= 50; id++) uniqueIds.set(id, store.put(record(id, { Note: `n${id}` })).uniqueId);
    // 2,000 rewrites of 1 KB notes make the arena mostly stale, several times over.
    for (let round = 0; round < 40; round++)
      for (let id = 1; id <= 50; id++)
        store.put({
          ...record(id, { Note: `${round}:${id}:`.padEnd(1000, 'x'), Qty: round }, round + 2),
          uniqueId: uniqueIds.get(id)!,
        });
    for (let id = 1; id <= 50; id++)
      expect(store.view(id)!.values).toEqual({ Note: `39:${id}:`.padEnd(1000, 'x'), Qty: 39 });
  });

  it(`keeps previous versions of the latest ${PREVIOUS_VERSIONS_KEPT.toLocaleString('en-US')} updates only`, () => {
    const store = new ItemStore();
    const count = PREVIOUS_VERSIONS_KEPT + 1;
    for (let id = 1; id <= count; id++) store.put(record(id, { Qty: id }));
    for (let id = 1; id <= count; id++) store.put(record(id, { Qty: -id }, 2));
    expect(store.view(1)!.previous).toBeUndefined();
    expect(store.view(2)!.previous?.values).toEqual({ Qty: 2 });
    expect(store.view(count)!.previous?.values).toEqual({ Qty: count });
  });

  it('spans pages of ids and chunks of text, an oversized value included', () => {
    const store = new ItemStore();
    const big = 'é'.repeat(700_000);
    for (let id = 1; id <= 10_000; id++)
      store.put(record(id, { Title: id === 5000 ? big : `t${id}`, Qty: id, Due: '2024-01-01T00:00:00Z' }));
    for (const id of [1, 64, 65, 4095, 4096, 4097, 8192, 10_000])
      expect(store.view(id)!.values).toEqual({ Title: `t${id}`, Qty: id, Due: '2024-01-01T00:00:00Z' });
    expect(store.view(5000)!.value('Title')).toBe(big);
    expect(store.view(5001)!.value('Title')).toBe('t5001');
    expect(store.has(10_001)).toBe(false);
  });

  it('refuses an item without a GUID', () => {
    expect(() => new ItemStore().put({ ...record(1, {}), uniqueId: 'nope' })).toThrow(/not a GUID/);
  });
});

describe('request log size cap', () => {
  it('drops the oldest entries once their text passes the cap, keeping the newest', () => {
    const recorder = new RequestRecorder();
    const body = { fields: { Note: 'x'.repeat(10_000) } };
    const count = Math.ceil(REQUEST_LOG_CHAR_LIMIT / 10_000) + 10;
    for (let i = 0; i < count; i++)
      recorder.record(
        { method: 'POST', path: `/items/${i}`, query: '', status: 201, body, identity: 'app', headers: {} },
        'POST /items',
      );
    const log = recorder.log();
    expect(log.length).toBeLessThan(count);
    expect(log.length).toBeGreaterThan(count / 2);
    expect(log[log.length - 1]).toEqual({
      method: 'POST',
      path: `/items/${count - 1}`,
      query: '',
      status: 201,
      body,
      identity: 'app',
      headers: {},
    });
    expect(recorder.stats(0).requests['POST /items 201']).toBe(count);
  });
});

describe('eTags and delta over the packed store', () => {
  let t: TestEmulator;
  beforeAll(async () => {
    t = await startTestEmulator({ deltaRepeats: false, deltaOrder: 'stable' });
  });
  afterAll(() => t.stop());

  it('one GUID and a version that counts every write; the old eTag answers 412', async () => {
    const listId = await t.createList('ETagSequence', [{ name: 'Qty', number: {} }]);
    const items = `/sites/${t.siteId}/lists/${listId}/items`;
    const created = await t.graph<ListItemShape>('POST', items, { body: { fields: { Title: 'a', Qty: 1 } } });
    const eTags = [created.body.eTag];
    for (let qty = 2; qty <= 4; qty++) {
      const patched = await t.graph('PATCH', `${items}/${created.body.id}/fields`, { body: { Qty: qty } });
      eTags.push(patched.headers.get('etag')!);
    }
    const guid = /^"\{([0-9A-F-]{36})\},1"$/.exec(eTags[0])![1];
    expect(eTags).toEqual([1, 2, 3, 4].map((v) => `"{${guid}},${v}"`));
    const stale = await t.graph('PATCH', `${items}/${created.body.id}/fields`, {
      headers: { 'if-match': eTags[1] },
      body: { Qty: 9 },
    });
    expect(stale.status).toBe(412);
    const read = await t.graph<ListItemShape>('GET', `${items}/${created.body.id}?$expand=fields`);
    expect(read.body.fields).toMatchObject({ Title: 'a', Qty: 4, _UIVersionString: '4.0' });
  });

  it('a delta token from before thousands of superseded writes still gives each item once, latest version', async () => {
    const listId = await t.createList('CompactedDelta', [{ name: 'Qty', number: {} }]);
    const items = `/sites/${t.siteId}/lists/${listId}/items`;
    for (let i = 1; i <= 3; i++)
      await t.graph('POST', items, { body: { fields: { Title: `t${i}`, Qty: 0 } } });
    const start = await t.graph<PageShape>(
      'GET',
      `/sites/${t.siteId}/lists/${listId}/items/delta?token=latest`,
    );
    const deltaLink = start.body['@odata.deltaLink']!;
    // 1,200 updates in $batch requests of 20: the change log passes 2 × live + 1,024 entries and compacts.
    for (let round = 1; round <= 60; round++) {
      const requests = Array.from({ length: 20 }, (_, n) => ({
        id: String(n),
        method: 'PATCH',
        url: `${items}/${(n % 2) + 1}/fields`,
        headers: { 'content-type': 'application/json' },
        body: { Qty: round * 100 + n },
      }));
      const batch = await t.graph<{ responses: { status: number }[] }>('POST', '/$batch', {
        body: { requests },
      });
      expect(batch.body.responses.every((r) => r.status === 200 || r.status === 503)).toBe(true);
    }
    await t.graph('DELETE', `${items}/3`);
    const changes = await t.graph<PageShape>('GET', deltaLink);
    expect(changes.status).toBe(200);
    const byId = new Map(changes.body.value.map((entry) => [entry.id, entry]));
    expect([...byId.keys()].sort()).toEqual(['1', '2', '3']);
    expect(changes.body.value).toHaveLength(3);
    expect(byId.get('3')!.deleted).toEqual({ state: 'deleted' });
    const current = await t.graph<ListItemShape>('GET', `${items}/1?$expand=fields`);
    expect(byId.get('1')!.eTag).toBe(current.body.eTag);
    expect(current.body.fields).toMatchObject({ Qty: 6018, _UIVersionString: '601.0' });
  });
});

import {
  startTestEmulator,
  sleep,
  type ErrorShape,
  type ListItemShape,
  type PageShape,
  type TestEmulator,
} from './support';

describe('listItem delta', () => {
  let t: TestEmulator;
  beforeAll(async () => {
    // These tests pin exact page positions and orders: they relax repeats and order, which the
    // 'realistic delta defaults' block below tests with the defaults.
    t = await startTestEmulator({ deltaTokenMaxAgeMs: 60_000, deltaRepeats: false, deltaOrder: 'stable' });
  });
  afterAll(() => t.stop());

  async function newList(name: string, count: number): Promise<string> {
    const listId = await t.createList(name, [{ name: 'Qty', number: {} }]);
    for (let i = 1; i <= count; i++)
      await t.graph('POST', `/sites/${t.siteId}/lists/${listId}/items`, {
        body: { fields: { Title: `t${i}`, Qty: i } },
      });
    return listId;
  }

  /** Follows nextLinks until a deltaLink; returns every item seen and the deltaLink. */
  async function drain(url: string): Promise<{ items: ListItemShape[]; deltaLink: string; pages: number }> {
    const items: ListItemShape[] = [];
    let pages = 0;
    let next = url;
    for (;;) {
      const page: { status: number; body: PageShape } = await t.graph<PageShape>('GET', next);
      expect(page.status).toBe(200);
      pages++;
      items.push(...page.body.value);
      if (page.body['@odata.deltaLink']) return { items, deltaLink: page.body['@odata.deltaLink'], pages };
      const nextLink = page.body['@odata.nextLink'];
      if (!nextLink) throw new Error('a delta page carries neither @odata.nextLink nor @odata.deltaLink');
      next = nextLink;
    }
  }

  it('enumerates everything in pages: absolute nextLinks, then a deltaLink, all carrying token=', async () => {
    const listId = await newList('Full', 5);
    const first = await t.graph<PageShape>(
      'GET',
      `/sites/${t.siteId}/lists/${listId}/items/delta?$top=2&$expand=fields`,
    );
    const next = first.body['@odata.nextLink']!;
    expect(next).toMatch(
      new RegExp(`^${t.emulator.baseUrl.replace(/[.]/g, '\\.')}/sites/.+/items/delta\\?token=`),
    );
    expect(first.body['@odata.deltaLink']).toBeUndefined();
    const rest = await drain(next);
    expect(rest.deltaLink).toMatch(/\/items\/delta\?token=[^&]+$/);
    const all = [...first.body.value, ...rest.items];
    expect(all.map((i) => i.id)).toEqual(['1', '2', '3', '4', '5']);
    // $expand given on the first call is remembered by the links.
    expect(all.every((i) => i.fields?.Title !== undefined)).toBe(true);
  });

  it('returns changes since a deltaLink: latest state per item, each once, deletions as tombstones without fields', async () => {
    const listId = await newList('Changes', 4);
    const items = `/sites/${t.siteId}/lists/${listId}/items`;
    const { deltaLink } = await drain(`${items}/delta?$expand=fields`);
    expect((await t.graph<PageShape>('GET', deltaLink)).body.value).toEqual([]);
    await t.graph('PATCH', `${items}/2/fields`, { body: { Qty: 20 } });
    await t.graph('PATCH', `${items}/2/fields`, { body: { Qty: 200 } });
    await t.graph('DELETE', `${items}/3`);
    await t.graph('POST', items, { body: { fields: { Title: 'new' } } });
    const changes = await drain(deltaLink);
    expect(changes.items.map((i) => i.id).sort()).toEqual(['2', '3', '5']);
    const two = changes.items.find((i) => i.id === '2')!;
    expect(two.fields).toMatchObject({ Qty: 200, _UIVersionString: '3.0' });
    const three = changes.items.find((i) => i.id === '3')!;
    expect(three).toMatchObject({ id: '3', deleted: { state: 'deleted' } });
    expect(three.fields).toBeUndefined();
    const none = await drain(changes.deltaLink);
    expect(none.items).toEqual([]);
  });

  it('answers token=latest with no items and a current deltaLink', async () => {
    const listId = await newList('Latest', 3);
    const latest = await t.graph<PageShape>(
      'GET',
      `/sites/${t.siteId}/lists/${listId}/items/delta?token=latest`,
    );
    expect(latest.status).toBe(200);
    expect(latest.body.value).toEqual([]);
    await t.graph('POST', `/sites/${t.siteId}/lists/${listId}/items`, {
      body: { fields: { Title: 'after' } },
    });
    const changes = await drain(latest.body['@odata.deltaLink']!);
    expect(changes.items.map((i) => i.id)).toEqual(['4']);
  });

  it('pages incremental changes with $top too', async () => {
    const listId = await newList('IncrementalPages', 0);
    const items = `/sites/${t.siteId}/lists/${listId}/items`;
    const latest = await t.graph<PageShape>('GET', `${items}/delta?token=latest&$top=2`);
    for (let i = 0; i < 5; i++) await t.graph('POST', items, { body: { fields: { Title: `n${i}` } } });
    const changes = await drain(latest.body['@odata.deltaLink']!);
    expect(changes.pages).toBe(3);
    expect(changes.items.map((i) => i.id)).toEqual(['1', '2', '3', '4', '5']);
  });

  it('I5 cursor safety: items changed while enumerating are delivered by the deltaLink', async () => {
    const listId = await newList('Moving', 4);
    const items = `/sites/${t.siteId}/lists/${listId}/items`;
    const first = await t.graph<PageShape>('GET', `${items}/delta?$top=2&$expand=fields`);
    await t.graph('PATCH', `${items}/1/fields`, { body: { Qty: 100 } });
    const rest = await drain(first.body['@odata.nextLink']!);
    const after = await drain(rest.deltaLink);
    expect(after.items.map((i) => i.id)).toEqual(['1']);
    expect(after.items[0].fields!.Qty).toBe(100);
  });

  it('answers 410 resyncChangesApplyDifferences with a Location that restarts enumeration after expireDeltaTokens()', async () => {
    const listId = await newList('Expiring', 3);
    const { deltaLink } = await drain(
      `/sites/${t.siteId}/lists/${listId}/items/delta?$expand=fields(select=Qty)`,
    );
    t.emulator.control.expireDeltaTokens();
    const gone = await t.graph<ErrorShape>('GET', deltaLink);
    expect(gone.status).toBe(410);
    expect(gone.body.error.code).toBe('resyncChangesApplyDifferences');
    const location = gone.headers.get('location')!;
    expect(location).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\.0\/.+\/items\/delta\?token=/);
    const restarted = await drain(location);
    expect(restarted.items.map((i) => i.id)).toEqual(['1', '2', '3']);
    expect(restarted.items[0].fields).toEqual({ '@odata.etag': expect.any(String), Qty: 1 });
  });

  it('a token it cannot read answers 410 with a Location that restarts without the options the token carried', async () => {
    // Options live in the token (delta-query-overview, "State tokens"): a service that cannot read it cannot know
    // them. The engine therefore restarts from its own first enumeration (SharePointTarget.deltaPages).
    const listId = await newList('Unreadable', 1);
    const gone = await t.graph('GET', `/sites/${t.siteId}/lists/${listId}/items/delta?token=unreadable`);
    expect(gone.status).toBe(410);
    const restarted = await drain(gone.headers.get('location')!);
    expect(restarted.items.map((i) => i.id)).toEqual(['1']);
    expect(restarted.items[0].fields).toBeUndefined();
  });

  it('applies the options its token encodes, never ones added to the link later', async () => {
    // "If you use any query parameter (other than $deltatoken and $skiptoken), you must specify it in the initial
    // delta request. … You only need to specify any query parameters once upfront."
    // (https://learn.microsoft.com/en-us/graph/delta-query-overview, "State tokens")
    const listId = await newList('LateOptions', 1);
    const items = `/sites/${t.siteId}/lists/${listId}/items`;
    const { deltaLink } = await drain(`${items}/delta`);
    await t.graph('PATCH', `${items}/1/fields`, { body: { Qty: 2 } });
    const changes = await drain(`${deltaLink}&$expand=fields($select=Qty)`);
    expect(changes.items.map((i) => i.id)).toEqual(['1']);
    expect(changes.items[0].fields).toBeUndefined();
    // …and one the first request gave stays applied on its later links.
    const selected = await drain(`${items}/delta?$expand=fields($select=Qty)`);
    await t.graph('PATCH', `${items}/1/fields`, { body: { Qty: 3 } });
    const later = await drain(selected.deltaLink);
    expect(later.items[0].fields).toEqual({ '@odata.etag': expect.any(String), Qty: 3 });
  });

  it('answers 410 for tokens that are garbage or belong to another list', async () => {
    const a = await newList('TokenA', 1);
    const b = await newList('TokenB', 1);
    const { deltaLink } = await drain(`/sites/${t.siteId}/lists/${a}/items/delta`);
    const token = new URL(deltaLink).searchParams.get('token')!;
    expect((await t.graph('GET', `/sites/${t.siteId}/lists/${b}/items/delta?token=${token}`)).status).toBe(
      410,
    );
    expect((await t.graph('GET', `/sites/${t.siteId}/lists/${a}/items/delta?token=not-a-token`)).status).toBe(
      410,
    );
  });

  it('keeps answering correctly after the change log compacts many superseded writes', async () => {
    const listId = await newList('Churn', 3);
    const items = `/sites/${t.siteId}/lists/${listId}/items`;
    const { deltaLink } = await drain(`${items}/delta?$expand=fields`);
    const requests = Array.from({ length: 20 }, (_, i) => ({
      id: String(i),
      method: 'PATCH',
      url: `${items}/2/fields`,
      headers: { 'Content-Type': 'application/json' },
      body: { Qty: i },
    }));
    for (let round = 0; round < 60; round++) await t.graph('POST', '/$batch', { body: { requests } });
    const changes = await drain(deltaLink);
    expect(changes.items.map((i) => i.id)).toEqual(['2']);
    expect(changes.items[0].fields!.Qty).toBe(19);
  });

  it('injectDeltaError: answers that show the item carry a Graph {"error"} entry in its place, no id, for count answers', async () => {
    const listId = await newList('Errors', 3);
    const items = `/sites/${t.siteId}/lists/${listId}/items`;
    t.emulator.control.injectDeltaError({ siteId: t.siteId, list: 'Errors', itemId: '2', count: 2 });
    const first = await drain(`${items}/delta?$expand=fields`);
    expect(first.items.map((i) => i.id)).toEqual(['1', undefined, '3']);
    const entry = first.items[1] as unknown as ErrorShape;
    expect(Object.keys(entry)).toEqual(['error']);
    expect(entry.error).toMatchObject({ code: 'InternalServerError', message: expect.any(String) });
    expect(Object.keys(entry.error.innerError).sort()).toEqual(['client-request-id', 'date', 'request-id']);
    // A tombstone too; the second answer used the count up, so the third shows the item again.
    await t.graph('DELETE', `${items}/2`);
    const changes = await drain(first.deltaLink);
    expect(changes.items).toEqual([expect.objectContaining({ error: expect.anything() })]);
    expect((await drain(first.deltaLink)).items).toEqual([
      expect.objectContaining({ id: '2', deleted: { state: 'deleted' } }),
    ]);
    // Without a count until cleared; another item is shown as it is.
    t.emulator.control.injectDeltaError({
      siteId: t.siteId,
      list: listId,
      itemId: '1',
      code: 'generalException',
      message: 'General exception while processing',
    });
    for (let i = 0; i < 3; i++)
      expect((await drain(`${items}/delta`)).items).toEqual([
        {
          error: expect.objectContaining({
            code: 'generalException',
            message: 'General exception while processing',
          }),
        },
        expect.objectContaining({ id: '3' }),
      ]);
    t.emulator.control.clearDeltaErrors();
    expect((await drain(`${items}/delta`)).items.map((i) => i.id)).toEqual(['1', '3']);
    expect(() =>
      t.emulator.control.injectDeltaError({ siteId: t.siteId, list: 'Nope', itemId: '1' }),
    ).toThrow(/No list 'Nope'/);
  });

  it('works through the Graph SDK with absolute delta links', async () => {
    const listId = await newList('Sdk', 2);
    const client = t.sdk();
    const first = (await client.api(`/sites/${t.siteId}/lists/${listId}/items/delta`).get()) as PageShape;
    expect(first.value).toHaveLength(2);
    await t.graph('PATCH', `/sites/${t.siteId}/lists/${listId}/items/1/fields`, { body: { Qty: 9 } });
    const next = (await client.api(first['@odata.deltaLink']!).get()) as PageShape;
    expect(next.value.map((i) => i.id)).toEqual(['1']);
  });
});

describe('delta token age', () => {
  it('answers 410 once a token is older than deltaTokenMaxAgeMs', async () => {
    const t = await startTestEmulator({ deltaTokenMaxAgeMs: 300 });
    try {
      const listId = await t.createList('Aging');
      const latest = await t.graph<PageShape>(
        'GET',
        `/sites/${t.siteId}/lists/${listId}/items/delta?token=latest`,
      );
      const link = latest.body['@odata.deltaLink']!;
      expect((await t.graph('GET', link)).status).toBe(200);
      await sleep(400);
      expect((await t.graph('GET', link)).status).toBe(410);
    } finally {
      await t.stop();
    }
  });
});

describe('realistic delta defaults', () => {
  it('repeats items across pages and within them, stale occurrences first, in no fixed order', async () => {
    const t = await startTestEmulator();
    try {
      const listId = await t.createList('Disorder', [{ name: 'Qty', number: {} }]);
      const items = `/sites/${t.siteId}/lists/${listId}/items`;
      for (let i = 1; i <= 40; i++) await t.graph('POST', items, { body: { fields: { Qty: i } } });
      const first = await t.graph<PageShape>('GET', `${items}/delta?$top=10&$expand=fields`);
      let next = first.body['@odata.nextLink'];
      const seen: ListItemShape[] = [...first.body.value];
      let deltaLink: string | undefined;
      while (next) {
        const page = await t.graph<PageShape>('GET', next);
        seen.push(...page.body.value);
        next = page.body['@odata.nextLink'];
        deltaLink = page.body['@odata.deltaLink'] ?? deltaLink;
      }
      const ids = seen.map((i) => Number(i.id));
      expect(new Set(ids).size).toBe(40);
      expect(ids.length).toBeGreaterThan(40);
      expect(ids).not.toEqual([...ids].sort((a, b) => a - b));

      for (let i = 1; i <= 40; i++)
        await t.graph('PATCH', `${items}/${i}/fields`, { body: { Qty: i + 100 } });
      const changes: ListItemShape[] = [];
      let url: string | undefined = deltaLink;
      for (let guard = 0; url && guard < 50; guard++) {
        const page = await t.graph<PageShape>('GET', url);
        changes.push(...page.body.value);
        url = page.body['@odata.nextLink'];
      }
      // The last occurrence of each item is its latest state; some earlier ones are stale.
      const last = new Map(changes.map((i) => [i.id, i.fields!.Qty]));
      expect(last.size).toBe(40);
      for (const [id, qty] of last) expect(qty).toBe(Number(id) + 100);
      expect(changes.some((i) => (i.fields!.Qty as number) < 100)).toBe(true);
    } finally {
      await t.stop();
    }
  });
});

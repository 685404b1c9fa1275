import {
  startTestEmulator,
  type ErrorShape,
  type ListItemShape,
  type PageShape,
  type TestEmulator,
} from './support';

type Fields = Record<string, unknown>;

describe('list items', () => {
  let t: TestEmulator;
  let listId: string;
  let items: string;
  beforeAll(async () => {
    t = await startTestEmulator();
    listId = await t.createList('Tasks', [
      { name: 'Status', text: {}, indexed: true },
      { name: 'Points', number: {} },
    ]);
    items = `/sites/${t.siteId}/lists/${listId}/items`;
  });
  afterAll(() => t.stop());

  const create = (fields: Fields) => t.graph<ListItemShape>('POST', items, { body: { fields } });

  it('creates with 201 a listItem whose id is a string, with fields, system fields and item-level properties', async () => {
    const answer = await create({ Title: 'Write tests', Points: 3 });
    expect(answer.status).toBe(201);
    const item = answer.body;
    expect(typeof item.id).toBe('string');
    // Graph's documented item eTag: braces, upper-case GUID; the fields @odata.etag is spelled otherwise.
    expect(item.eTag).toMatch(/^"\{[0-9A-F-]{36}\},1"$/);
    expect(item['@odata.etag']).toBe(item.eTag);
    expect(item.fields!['@odata.etag']).toMatch(/^"[0-9a-f-]{36},1"$/);
    expect(item.fields!['@odata.etag']).not.toBe(item.eTag);
    expect(item.createdDateTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(item).toMatchObject({
      webUrl: `https://contoso.sharepoint.com/sites/demo/Lists/Tasks/${item.id}_.000`,
      parentReference: { siteId: t.siteId },
      contentType: { id: expect.stringMatching(/^0x0100/), name: 'Item' },
    });
    expect(item.fields).toMatchObject({
      '@odata.etag': item.fields!['@odata.etag'],
      Title: 'Write tests',
      Points: 3,
      id: item.id,
      ContentType: 'Item',
      Created: item.createdDateTime,
      Modified: item.lastModifiedDateTime,
      AuthorLookupId: expect.stringMatching(/^\d+$/),
      EditorLookupId: expect.stringMatching(/^\d+$/),
      _UIVersionString: '1.0',
      Attachments: false,
      LinkTitle: 'Write tests',
    });
  });

  it('never reuses ids after a delete', async () => {
    const a = await create({ Title: 'a' });
    expect((await t.graph('DELETE', `${items}/${a.body.id}`)).status).toBe(204);
    const b = await create({ Title: 'b' });
    expect(Number(b.body.id)).toBe(Number(a.body.id) + 1);
    expect((await t.graph('GET', `${items}/${a.body.id}`)).status).toBe(404);
  });

  it('updates with PATCH …/fields: 200 with the whole field map, omitted columns kept, eTag and version bumped', async () => {
    const created = await create({ Title: 'Patch me', Status: 'open', Points: 1 });
    const patched = await t.graph<Fields>('PATCH', `${items}/${created.body.id}/fields`, {
      body: { Points: 5 },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      Title: 'Patch me',
      Status: 'open',
      Points: 5,
      _UIVersionString: '2.0',
    });
    expect(patched.body['@odata.etag']).not.toBe(created.body.eTag);
    expect(patched.body['@odata.etag']).toMatch(/,2"$/);
    const again = await t.graph<Fields>('PATCH', `${items}/${created.body.id}/fields`, { body: {} });
    expect(again.body._UIVersionString).toBe('3.0');
  });

  it('I7 conflicts: If-Match with a stale eTag answers 412 and changes nothing; a current eTag or * succeeds', async () => {
    const created = await create({ Title: 'Guarded' });
    const url = `${items}/${created.body.id}/fields`;
    const first = await t.graph<Fields>('PATCH', url, {
      body: { Title: 'v2' },
      headers: { 'If-Match': created.body.eTag },
    });
    expect(first.status).toBe(200);
    const stale = await t.graph<ErrorShape>('PATCH', url, {
      body: { Title: 'lost' },
      headers: { 'If-Match': created.body.eTag },
    });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('resourceModified');
    const current = await t.graph<Fields>('GET', url);
    expect(current.body.Title).toBe('v2');
    const star = await t.graph('PATCH', url, { body: { Title: 'v3' }, headers: { 'If-Match': '*' } });
    expect(star.status).toBe(200);
    const staleDelete = await t.graph('DELETE', `${items}/${created.body.id}`, {
      headers: { 'If-Match': String(first.body['@odata.etag']) },
    });
    expect(staleDelete.status).toBe(412);
    const del = await t.graph('DELETE', `${items}/${created.body.id}`, { headers: { 'If-Match': '*' } });
    expect(del.status).toBe(204);
  });

  it('answers 404 itemNotFound for missing items and 400 for ids that are not numbers', async () => {
    const missing = await t.graph<ErrorShape>('GET', `${items}/99999`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('itemNotFound');
    expect((await t.graph('PATCH', `${items}/99999/fields`, { body: { Title: 'x' } })).status).toBe(404);
    expect((await t.graph('DELETE', `${items}/99999`)).status).toBe(404);
    expect((await t.graph('GET', `${items}/abc`)).status).toBe(400);
  });

  it('gets an item without fields unless expanded, and with fields(select=…) only the selected ones', async () => {
    const created = await create({ Title: 'Select', Status: 'done', Points: 8 });
    const plain = await t.graph<ListItemShape>('GET', `${items}/${created.body.id}`);
    expect(plain.body.fields).toBeUndefined();
    const expanded = await t.graph<ListItemShape>(
      'GET',
      `${items}/${created.body.id}?$expand=fields(select=Title,Points)`,
    );
    expect(expanded.body.fields).toEqual({
      '@odata.etag': created.body.fields!['@odata.etag'],
      Title: 'Select',
      Points: 8,
    });
    const odataStyle = await t.graph<ListItemShape>(
      'GET',
      `${items}/${created.body.id}?expand=fields($select=Status)`,
    );
    expect(odataStyle.body.fields).toEqual({
      '@odata.etag': created.body.fields!['@odata.etag'],
      Status: 'done',
    });
    const selectTop = await t.graph<Record<string, unknown>>(
      'GET',
      `${items}/${created.body.id}?$select=id,eTag`,
    );
    expect(Object.keys(selectTop.body).filter((k) => !k.startsWith('@odata'))).toEqual(['eTag', 'id']);
    const fields = await t.graph<Fields>('GET', `${items}/${created.body.id}/fields?$select=Points`);
    expect(fields.body).toMatchObject({ Points: 8 });
    expect(fields.body.Title).toBeUndefined();
    const unknown = await t.graph<ErrorShape>(
      'GET',
      `${items}/${created.body.id}?$expand=fields(select=Nope)`,
    );
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/Column 'Nope' does not exist/);
  });

  it('lists items with $top and absolute @odata.nextLink paging, keeping $expand across pages', async () => {
    const pagedList = await t.createList('Paged');
    const base = `/sites/${t.siteId}/lists/${pagedList}/items`;
    for (let i = 0; i < 7; i++) await t.graph('POST', base, { body: { fields: { Title: `row ${i}` } } });
    const titles: unknown[] = [];
    let url: string | undefined = `${base}?$expand=fields(select=Title)&$top=3`;
    let pages = 0;
    while (url) {
      const page: { body: PageShape } = await t.graph<PageShape>('GET', url);
      pages++;
      titles.push(...page.body.value.map((i) => i.fields?.Title));
      url = page.body['@odata.nextLink'];
      if (url) expect(url.startsWith(`${t.emulator.baseUrl}/`)).toBe(true);
    }
    expect(pages).toBe(3);
    expect(titles).toEqual(Array.from({ length: 7 }, (_, i) => `row ${i}`));
  });

  it('defaults to pages of 200 and rejects $top above 5000', async () => {
    const bulk = await t.createList('Bulk');
    const base = `/sites/${t.siteId}/lists/${bulk}/items`;
    for (let i = 0; i < 201; i += 20)
      await t.graph('POST', '/$batch', {
        body: {
          requests: Array.from({ length: Math.min(20, 201 - i) }, (_, j) => ({
            id: String(j),
            method: 'POST',
            url: base,
            headers: { 'Content-Type': 'application/json' },
            body: { fields: { Title: `b${i + j}` } },
          })),
        },
      });
    const first = await t.graph<PageShape>('GET', base);
    expect(first.body.value).toHaveLength(200);
    expect(first.body['@odata.nextLink']).toBeDefined();
    expect((await t.graph('GET', `${base}?$top=5001`)).status).toBe(400);
  });
});

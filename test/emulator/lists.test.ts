import {
  startTestEmulator,
  type EntityShape,
  type ErrorShape,
  type PageShape,
  type TestEmulator,
} from './support';

interface ColumnShape {
  name: string;
  displayName: string;
  readOnly: boolean;
  hidden: boolean;
  indexed: boolean;
  [facet: string]: unknown;
}

describe('lists and columns', () => {
  let t: TestEmulator;
  beforeAll(async () => {
    t = await startTestEmulator();
  });
  afterAll(() => t.stop());

  it('creates a genericList with 201, adding Title to the requested columns', async () => {
    const answer = await t.graph<EntityShape>('POST', `/sites/${t.siteId}/lists`, {
      body: {
        displayName: 'Books',
        columns: [
          { name: 'Author', text: {} },
          { name: 'Pages', number: {} },
        ],
        list: { template: 'genericList' },
      },
    });
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      displayName: 'Books',
      name: 'Books',
      list: { template: 'genericList' },
      webUrl: 'https://contoso.sharepoint.com/sites/demo/Lists/Books',
      parentReference: { siteId: t.siteId },
    });
    expect(answer.body.id).toMatch(/^[0-9a-f-]{36}$/);
    const columns = await t.graph<PageShape<ColumnShape>>(
      'GET',
      `/sites/${t.siteId}/lists/${answer.body.id}/columns`,
    );
    const byDisplayName = new Map(columns.body.value.map((c) => [c.displayName, c]));
    expect(columns.body.value.find((c) => c.name === 'Title')).toMatchObject({
      readOnly: false,
      text: expect.any(Object),
    });
    expect(byDisplayName.get('Pages')).toMatchObject({ name: 'Pages', number: expect.any(Object) });
    // The requested internal name collides with the system Author column: SharePoint appends a digit.
    expect(byDisplayName.get('Author')).toMatchObject({ name: 'Author0', readOnly: false });
    expect(byDisplayName.get('Created By')).toMatchObject({ name: 'Author', readOnly: true });
  });

  it('lists system columns as read-only', async () => {
    const listId = await t.createList('Systemic');
    const columns = await t.graph<PageShape<ColumnShape>>(
      'GET',
      `/sites/${t.siteId}/lists/${listId}/columns`,
    );
    const byName = new Map(columns.body.value.map((c) => [c.name, c]));
    for (const name of [
      'ID',
      'Created',
      'Modified',
      'Author',
      'Editor',
      '_UIVersionString',
      'Attachments',
      'ContentType',
      'Edit',
      'LinkTitle',
      'LinkTitleNoMenu',
      'ItemChildCount',
      'FolderChildCount',
    ])
      expect(byName.get(name)).toMatchObject({ readOnly: true });
    expect(byName.get('Created')).toMatchObject({ dateTime: { format: 'dateTime' } });
    expect(byName.get('ID')).toMatchObject({ indexed: true });
  });

  it('answers 409 nameAlreadyExists for a duplicate list name (case-insensitive)', async () => {
    await t.createList('Unique');
    const answer = await t.graph<ErrorShape>('POST', `/sites/${t.siteId}/lists`, {
      body: { displayName: 'UNIQUE' },
    });
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe('nameAlreadyExists');
  });

  it('gets a list by GUID and by display name, and lists all lists', async () => {
    const listId = await t.createList('Project Tasks');
    const byId = await t.graph<EntityShape>('GET', `/sites/${t.siteId}/lists/${listId}`);
    const byName = await t.graph<EntityShape>(
      'GET',
      `/sites/${t.siteId}/lists/${encodeURIComponent('Project Tasks')}`,
    );
    expect(byId.status).toBe(200);
    expect(byName.body.id).toBe(listId);
    const all = await t.graph<PageShape<EntityShape>>('GET', `/sites/${t.siteId}/lists`);
    expect(all.body.value.map((l) => l.id)).toContain(listId);
    const missing = await t.graph<ErrorShape>('GET', `/sites/${t.siteId}/lists/Nope`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('itemNotFound');
  });

  it("adds a column with 201, returns it in $expand=columns, and updates a text column's maxLength", async () => {
    const listId = await t.createList('Grow');
    const added = await t.graph<ColumnShape>('POST', `/sites/${t.siteId}/lists/${listId}/columns`, {
      body: { name: 'Due Date', dateTime: { format: 'dateOnly' }, indexed: true },
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ name: 'Due_x0020_Date', displayName: 'Due Date', indexed: true });
    const list = await t.graph<{ columns: ColumnShape[] }>(
      'GET',
      `/sites/${t.siteId}/lists/${listId}?$expand=columns`,
    );
    expect(list.body.columns.map((c) => c.name)).toContain('Due_x0020_Date');
    const one = await t.graph<ColumnShape>(
      'GET',
      `/sites/${t.siteId}/lists/${listId}/columns/Due_x0020_Date`,
    );
    expect(one.body.displayName).toBe('Due Date');
    // PATCH: a single line of text's maxLength only; anything else is refused.
    const code = `/sites/${t.siteId}/lists/${listId}/columns/Code`;
    await t.graph('POST', `/sites/${t.siteId}/lists/${listId}/columns`, { body: { name: 'Code', text: {} } });
    const narrowed = await t.graph<ColumnShape>('PATCH', code, { body: { text: { maxLength: 10 } } });
    expect(narrowed.status).toBe(200);
    expect((await t.graph<ColumnShape>('GET', code)).body.text).toMatchObject({ maxLength: 10 });
    for (const [path, body] of [
      [code, { displayName: 'Other' }],
      [`/sites/${t.siteId}/lists/${listId}/columns/Due_x0020_Date`, { text: { maxLength: 10 } }],
    ] as const)
      expect((await t.graph('PATCH', path, { body })).status).toBe(400);
  });

  it('creates lookup columns against lists of the same site and rejects unknown targets', async () => {
    const targetId = await t.createList('Authors');
    const ok = await t.graph('POST', `/sites/${t.siteId}/lists`, {
      body: {
        displayName: 'Papers',
        columns: [{ name: 'Writer', lookup: { listId: targetId, columnName: 'Title' } }],
      },
    });
    expect(ok.status).toBe(201);
    const bad = await t.graph<ErrorShape>('POST', `/sites/${t.siteId}/lists`, {
      body: { displayName: 'Papers2', columns: [{ name: 'Writer', lookup: { listId: 'no-such-list' } }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/no-such-list/);
  });

  it('rejects unsupported templates and invalid bodies with 400', async () => {
    const template = await t.graph<ErrorShape>('POST', `/sites/${t.siteId}/lists`, {
      body: { displayName: 'Docs', list: { template: 'documentLibrary' } },
    });
    expect(template.status).toBe(400);
    const noName = await t.graph('POST', `/sites/${t.siteId}/lists`, { body: { columns: [] } });
    expect(noName.status).toBe(400);
  });

  it('deletes a list with 204', async () => {
    const listId = await t.createList('Temporary');
    expect((await t.graph('DELETE', `/sites/${t.siteId}/lists/${listId}`)).status).toBe(204);
    expect((await t.graph('GET', `/sites/${t.siteId}/lists/${listId}`)).status).toBe(404);
  });
});

import { startTestEmulator, type ErrorShape, type ListItemShape, type TestEmulator } from './support';

type Fields = Record<string, unknown>;

describe('field values stored as SharePoint stores them (I2 canonical form)', () => {
  let t: TestEmulator;
  let items: string;
  let targetItems: string;
  let targetListId: string;

  beforeAll(async () => {
    t = await startTestEmulator({ siteTimeZones: { 'contoso.sharepoint.com:/sites/demo': '+01:00' } });
    targetListId = await t.createList('Categories');
    targetItems = `/sites/${t.siteId}/lists/${targetListId}/items`;
    await t.graph('POST', targetItems, { body: { fields: { Title: 'Books' } } });
    await t.graph('POST', targetItems, { body: { fields: { Title: 'Music' } } });
    const listId = await t.createList('Everything', [
      { name: 'Text', text: {} },
      { name: 'Short', text: { maxLength: 5 } },
      { name: 'Note', text: { allowMultipleLines: true } },
      { name: 'Log', text: { allowMultipleLines: true, appendChangesToExistingText: true } },
      { name: 'Num', number: {} },
      { name: 'Rounded', number: { decimalPlaces: 'two' } },
      { name: 'Bounded', number: { minimum: 0, maximum: 10 } },
      { name: 'Price', currency: {} },
      { name: 'When', dateTime: { format: 'dateTime' } },
      { name: 'Day', dateTime: { format: 'dateOnly' } },
      { name: 'Flag', boolean: {} },
      { name: 'Color', choice: { choices: ['Red', 'Green'] } },
      { name: 'Free', choice: { choices: ['A'], allowTextEntry: true } },
      { name: 'Tags', choice: { choices: ['x', 'y', 'z'], displayAs: 'checkBoxes' } },
      { name: 'Category', lookup: { listId: targetListId, columnName: 'Title' } },
      { name: 'Categories', lookup: { listId: targetListId, allowMultipleValues: true } },
      { name: 'Owner', personOrGroup: {} },
      { name: 'Reviewers', personOrGroup: { allowMultipleSelection: true } },
      { name: 'Link', hyperlinkOrPicture: {} },
      { name: 'Shout', calculated: { formula: '=UPPER([Text])&"!"', outputType: 'text' } },
      { name: 'Double', calculated: { formula: '=[Num]*2', outputType: 'number' } },
    ]);
    items = `/sites/${t.siteId}/lists/${listId}/items`;
  });
  afterAll(() => t.stop());

  const create = (fields: Fields) => t.graph<ListItemShape>('POST', items, { body: { fields } });
  const rejected = async (fields: Fields): Promise<string> => {
    const answer = await t.graph<ErrorShape>('POST', items, { body: { fields } });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalidRequest');
    return answer.body.error.message;
  };

  it('keeps numbers as doubles as sent, also in columns showing a number of decimals (decimalPlaces)', async () => {
    const item = await create({ Num: 0.1 + 0.2, Rounded: 1.005, Price: 12.345678 });
    expect(item.body.fields).toMatchObject({ Num: 0.30000000000000004, Rounded: 1.005, Price: 12.345678 });
    expect(await rejected({ Bounded: 11 })).toMatch(/maximum/);
  });

  it('truncates dateTime to whole seconds in UTC, printed YYYY-MM-DDTHH:MM:SSZ', async () => {
    const item = await create({ When: '2024-03-10T08:26:59.987+02:00' });
    expect(item.body.fields!.When).toBe('2024-03-10T06:26:59Z');
    expect(await rejected({ When: '2024-03-10T08:26:00' })).toMatch(/zone designator/);
    expect(await rejected({ When: 'yesterday' })).toMatch(/When/);
    expect(await rejected({ When: '1899-12-31T00:00:00Z' })).toMatch(/1900/);
  });

  it('stores date-only values at midnight of the site time zone (a +01:00 site reads a day early in UTC)', async () => {
    const fromDate = await create({ Day: '2024-03-10' });
    expect(fromDate.body.fields!.Day).toBe('2024-03-09T23:00:00Z');
    const roundTrip = await create({ Day: '2024-03-09T23:00:00Z' });
    expect(roundTrip.body.fields!.Day).toBe('2024-03-09T23:00:00Z');
    const midday = await create({ Day: '2024-03-10T12:00:00Z' });
    expect(midday.body.fields!.Day).toBe('2024-03-09T23:00:00Z');
  });

  it('follows daylight saving time for IANA site time zones', async () => {
    t.emulator.control.setSiteTimeZone(t.siteId, 'Europe/Berlin');
    try {
      expect((await create({ Day: '2024-01-15' })).body.fields!.Day).toBe('2024-01-14T23:00:00Z');
      expect((await create({ Day: '2024-07-15' })).body.fields!.Day).toBe('2024-07-14T22:00:00Z');
    } finally {
      t.emulator.control.setSiteTimeZone(t.siteId, '+01:00');
    }
  });

  it('stores empty text as no value: the key is absent on read, and null clears a value', async () => {
    const item = await create({ Text: '', Note: 'line1\nline2', Num: 4 });
    expect(item.body.fields).not.toHaveProperty('Text');
    expect(item.body.fields!.Note).toBe('line1\nline2');
    const cleared = await t.graph<Fields>('PATCH', `${items}/${item.body.id}/fields`, {
      body: { Num: null },
    });
    expect(cleared.body).not.toHaveProperty('Num');
    // Like Excel, a formula reads a blank number as 0.
    expect(cleared.body.Double).toBe(0);
    expect(await rejected({ Short: 'toolong' })).toMatch(/allows 5/);
  });

  it('keeps writes of an append-only multi-line column but reads it empty (its text is in version history)', async () => {
    const item = await create({ Log: 'first entry', Note: 'kept' });
    expect(item.body.fields).not.toHaveProperty('Log');
    const read = await t.graph<ListItemShape>(
      'GET',
      `${items}/${item.body.id}?expand=fields(select=Log,Note)`,
    );
    expect(read.body.fields).toEqual(expect.objectContaining({ Note: 'kept' }));
    expect(read.body.fields).not.toHaveProperty('Log');
    const stored = t.emulator.control.listItems(t.siteId, 'Everything').find((i) => i.id === item.body.id);
    expect(stored?.fields.Log).toBe('first entry');
  });

  it('validates booleans and choices; allowTextEntry accepts other text', async () => {
    const item = await create({ Flag: true, Color: 'Red', Free: 'anything' });
    expect(item.body.fields).toMatchObject({ Flag: true, Color: 'Red', Free: 'anything' });
    expect(await rejected({ Flag: 'true' })).toMatch(/Flag/);
    expect(await rejected({ Color: 'Blue' })).toMatch(/'Blue' is not one of the column's choices/);
  });

  it('requires the Collection(Edm.String) annotation for multi-choice writes', async () => {
    expect(await rejected({ Tags: ['x', 'y'] })).toMatch(/A value without a type name was found/);
    const item = await create({ 'Tags@odata.type': 'Collection(Edm.String)', Tags: ['x', 'z'] });
    expect(item.body.fields!.Tags).toEqual(['x', 'z']);
    expect(await rejected({ 'Tags@odata.type': 'Collection(Edm.String)', Tags: ['w'] })).toMatch(/'w'/);
    expect(await rejected({ Tags: 'x' })).toMatch(/Tags/);
  });

  it('writes lookups as XLookupId numbers and reads them back as strings; multi-lookups need Collection(Edm.Int32)', async () => {
    const item = await create({
      CategoryLookupId: 2,
      'CategoriesLookupId@odata.type': 'Collection(Edm.Int32)',
      CategoriesLookupId: [1, 2],
    });
    expect(item.body.fields!.CategoryLookupId).toBe('2');
    expect(item.body.fields!.Categories).toEqual([
      { LookupId: 1, LookupValue: 'Books' },
      { LookupId: 2, LookupValue: 'Music' },
    ]);
    const selected = await t.graph<ListItemShape>(
      'GET',
      `${items}/${item.body.id}?$expand=fields(select=Category,CategoryLookupId)`,
    );
    expect(selected.body.fields).toMatchObject({ Category: 'Music', CategoryLookupId: '2' });
    expect(await rejected({ CategoriesLookupId: [1] })).toMatch(/A value without a type name/);
    expect(await rejected({ Category: 2 })).toMatch(/write 'CategoryLookupId'/);
    expect(await rejected({ CategoryLookupId: '2' })).toMatch(/CategoryLookupId/);
  });

  it('writes person columns with hidden-user-list ids and rejects ids of nobody', async () => {
    const alice = t.emulator.control.userLookupId('alice');
    const bob = t.emulator.control.userLookupId('bob');
    const item = await create({
      OwnerLookupId: alice,
      'ReviewersLookupId@odata.type': 'Collection(Edm.Int32)',
      ReviewersLookupId: [alice, bob],
    });
    expect(item.body.fields!.OwnerLookupId).toBe(String(alice));
    expect(item.body.fields!.Reviewers).toEqual([
      { LookupId: alice, LookupValue: 'Alice', Email: 'alice@contoso.onmicrosoft.com' },
      { LookupId: bob, LookupValue: 'Bob', Email: 'bob@contoso.onmicrosoft.com' },
    ]);
    expect(await rejected({ OwnerLookupId: 4242 })).toMatch(/no user with lookup id 4242/);
  });

  it('rejects unknown fields naming them, and writes to read-only, system, calculated and hyperlink columns', async () => {
    expect(await rejected({ Nope: 1 })).toBe("Field 'Nope' is not recognized");
    for (const key of [
      'Created',
      'Modified',
      'AuthorLookupId',
      'EditorLookupId',
      '_UIVersionString',
      'Attachments',
      'ContentType',
      'id',
      'ID',
      '@odata.etag',
      'Shout',
      'Link',
    ])
      expect(await rejected({ [key]: 'x' })).toBe(`Field '${key}' is read-only`);
    expect(await rejected({ Num: '12' })).toMatch(/Num/);
    expect(await rejected({ Text: 5 })).toMatch(/Text/);
  });

  it('computes calculated columns on every write', async () => {
    const item = await create({ Text: 'hey', Num: 21 });
    expect(item.body.fields).toMatchObject({ Shout: 'HEY!', Double: 42 });
    const patched = await t.graph<Fields>('PATCH', `${items}/${item.body.id}/fields`, {
      body: { Text: 'ho' },
    });
    expect(patched.body).toMatchObject({ Shout: 'HO!', Double: 42 });
  });

  it('leaves an item unchanged when any field of a write is rejected', async () => {
    const item = await create({ Text: 'keep', Num: 1 });
    const answer = await t.graph('PATCH', `${items}/${item.body.id}/fields`, { body: { Num: 2, Nope: 3 } });
    expect(answer.status).toBe(400);
    const now = await t.graph<Fields>('GET', `${items}/${item.body.id}/fields`);
    expect(now.body).toMatchObject({ Num: 1, _UIVersionString: '1.0' });
  });
});

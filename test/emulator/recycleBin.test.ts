/**
 * SharePoint keeps a deleted item in the site's recycle bin, and a user who restores it brings it back under its id
 * with the values it had. Graph has no restore for list items, so the emulator offers it as a control operation
 * (`POST /_emulator/recycle-bin/restore`): the engine's handling of a restored item is tested against it.
 */
import { startTestEmulator, type ListItemShape, type PageShape, type TestEmulator } from './support';

describe('recycle bin restore (control operation)', () => {
  let t: TestEmulator;
  let listId: string;
  let items: string;
  beforeAll(async () => {
    t = await startTestEmulator();
    listId = await t.createList('Bin', [{ name: 'Points', number: {} }]);
    items = `/sites/${t.siteId}/lists/${listId}/items`;
  });
  afterAll(() => t.stop());

  const restore = (itemId: string) =>
    fetch(`${t.emulator.origin}/_emulator/recycle-bin/restore`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ siteId: t.siteId, list: listId, itemId, user: 'alice' }),
      dispatcher: t.dispatcher,
    } as RequestInit);

  async function deltaAll(url: string): Promise<{ entries: ListItemShape[]; link: string }> {
    const entries: ListItemShape[] = [];
    let next: string | undefined = url;
    let link = '';
    while (next) {
      const page: PageShape = (await t.graph<PageShape>('GET', next)).body;
      entries.push(...page.value);
      next = page['@odata.nextLink'];
      if (page['@odata.deltaLink']) link = page['@odata.deltaLink'];
    }
    return { entries, link };
  }

  it('brings a deleted item back under its id with its values, as a new version delta reports', async () => {
    const created = await t.graph<ListItemShape>('POST', items, {
      body: { fields: { Title: 'kept', Points: 7 } },
    });
    const id = created.body.id;
    const { link } = await deltaAll(`${items}/delta?$expand=fields($select=Title,Points)`);
    expect((await t.graph('DELETE', `${items}/${id}`)).status).toBe(204);
    const afterDelete = await deltaAll(link);
    expect(afterDelete.entries).toEqual([expect.objectContaining({ id, deleted: { state: 'deleted' } })]);

    expect((await restore(id)).status).toBe(204);
    const item = (await t.graph<ListItemShape>('GET', `${items}/${id}?$expand=fields`)).body;
    expect(item.fields).toMatchObject({ Title: 'kept', Points: 7, _UIVersionString: '2.0' });
    expect(item.eTag).not.toBe(created.body.eTag);
    expect(item.fields?.EditorLookupId).toBe(String(t.emulator.control.userLookupId('alice')));
    const afterRestore = await deltaAll(afterDelete.link);
    expect(afterRestore.entries.map((e) => [e.id, e.fields?.Title, e.eTag])).toEqual([
      [id, 'kept', item.eTag],
    ]);

    // Once restored it is out of the bin; an item never deleted was never in it.
    expect((await restore(id)).status).toBe(400);
    expect((await restore('424242')).status).toBe(400);
  });
});

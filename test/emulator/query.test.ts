import { PageIterator, type PageCollection } from '@microsoft/microsoft-graph-client';
import { GraphError } from '../../src/emulator/errors';
import {
  applySelect,
  decodeSkipToken,
  encodeSkipToken,
  parseExpand,
  parseSelect,
  parseTop,
  queryOption,
} from '../../src/emulator/query';
import { startTestEmulator, type ListItemShape, type TestEmulator } from './support';

describe('OData query options', () => {
  it('parses $expand=fields with select in both the Graph and the OData spelling', () => {
    expect(parseExpand('fields')).toMatchObject({ fields: true, fieldSelect: undefined });
    expect(parseExpand('fields(select=Title,Color)')).toMatchObject({
      fields: true,
      fieldSelect: ['Title', 'Color'],
    });
    expect(parseExpand('fields($select=Title; )')).toMatchObject({ fieldSelect: ['Title'] });
    expect(parseExpand('columns').names.has('columns')).toBe(true);
    expect(() => parseExpand('fields($top=3)')).toThrow(GraphError);
  });

  it('accepts options with or without $, bounds $top, and round-trips SharePoint skip tokens', () => {
    expect(queryOption(new URLSearchParams('top=3'), 'top')).toBe('3');
    expect(queryOption(new URLSearchParams('$top=4&top=3'), 'top')).toBe('4');
    expect(parseTop(null)).toBe(200);
    expect(parseTop('5000')).toBe(5000);
    expect(() => parseTop('0')).toThrow(GraphError);
    expect(() => parseTop('x')).toThrow(GraphError);
    expect(Buffer.from(encodeSkipToken(200), 'base64').toString()).toBe('Paged=TRUE&p_ID=200');
    expect(decodeSkipToken(encodeSkipToken(42))).toBe(42);
    expect(() => decodeSkipToken('garbage')).toThrow(GraphError);
    expect(parseSelect('id, eTag')).toEqual(['id', 'eTag']);
    expect(applySelect({ '@odata.etag': 'e', id: '1', eTag: 'e', webUrl: 'w' }, ['id'])).toEqual({
      '@odata.etag': 'e',
      id: '1',
    });
  });
});

describe('paging with the Graph SDK', () => {
  let t: TestEmulator;
  beforeAll(async () => {
    t = await startTestEmulator();
  });
  afterAll(() => t.stop());

  it("walks every page with the SDK's PageIterator following absolute nextLinks", async () => {
    const listId = await t.createList('Iterated');
    const client = t.sdk();
    for (let i = 1; i <= 11; i++)
      await client.api(`/sites/${t.siteId}/lists/${listId}/items`).post({ fields: { Title: `item ${i}` } });
    const first = (await client
      .api(`/sites/${t.siteId}/lists/${listId}/items`)
      .expand('fields(select=Title)')
      .top(4)
      .get()) as PageCollection;
    const seen: string[] = [];
    const iterator = new PageIterator(client, first, (item: ListItemShape) => {
      seen.push(String(item.fields?.Title));
      return true;
    });
    await iterator.iterate();
    expect(seen).toEqual(Array.from({ length: 11 }, (_, i) => `item ${i + 1}`));
    const pages = t.emulator.control
      .requestLog()
      .filter((e) => e.method === 'GET' && e.path.endsWith('/items'));
    expect(pages).toHaveLength(3);
  });
});

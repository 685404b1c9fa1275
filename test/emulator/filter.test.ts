import { GraphError } from '../../src/emulator/errors';
import { evaluateFilter, parseFilter, referencedFields } from '../../src/emulator/filter';
import {
  startTestEmulator,
  type GraphAnswer,
  type ErrorShape,
  type PageShape,
  type TestEmulator,
} from './support';

describe('$filter parsing and evaluation', () => {
  const values: Record<string, string | number | boolean | string[]> = {
    Title: "O'Brien",
    Points: 5,
    Done: true,
    Due: '2024-03-10T00:00:00Z',
    Tags: ['x', 'y'],
  };
  const matches = (text: string) => evaluateFilter(parseFilter(text), (f) => values[f]);

  it('compares strings (case-insensitive, quotes doubled), numbers unquoted, booleans and dates', () => {
    expect(matches("fields/Title eq 'o''brien'")).toBe(true);
    expect(matches('fields/Points eq 5')).toBe(true);
    expect(matches("fields/Points eq '5'")).toBe(true);
    expect(matches('fields/Points gt 4 and fields/Points le 5')).toBe(true);
    expect(matches('fields/Points lt 5 or fields/Done eq true')).toBe(true);
    expect(matches("fields/Due ge '2024-03-09T23:59:59Z'")).toBe(true);
    expect(matches("startswith(fields/Title,'o''b')")).toBe(true);
    expect(matches("fields/Tags eq 'y'")).toBe(true);
    expect(matches('fields/Missing eq null')).toBe(true);
    expect(matches("(fields/Points ne 5) or (fields/Title eq 'x')")).toBe(false);
  });

  it('names the fields a filter refers to, and rejects malformed clauses with 400', () => {
    expect(
      referencedFields(parseFilter("fields/A eq 1 and (fields/B eq 'x' or startswith(fields/C,'y'))")),
    ).toEqual(['A', 'B', 'C']);
    for (const bad of ['Title eq 1', "fields/Title like 'x'", "fields/Title eq 'open", 'fields/A eq'])
      expect(() => parseFilter(bad)).toThrow(GraphError);
  });
});

describe('$filter over HTTPS', () => {
  let t: TestEmulator;
  let items: string;
  beforeAll(async () => {
    t = await startTestEmulator();
    const listId = await t.createList('Filtered', [
      { name: 'Code', text: {}, indexed: true },
      { name: 'Size', number: {}, indexed: true },
      { name: 'Plain', text: {} },
    ]);
    items = `/sites/${t.siteId}/lists/${listId}/items`;
    for (const [code, size, plain] of [
      ['a', 1, 'p'],
      ['b', 2, 'q'],
      ['c', 2, 'p'],
    ] as const)
      await t.graph('POST', items, { body: { fields: { Code: code, Size: size, Plain: plain } } });
  });
  afterAll(() => t.stop());

  const ids = (page: PageShape) => page.value.map((i) => i.id);

  it("filters on an indexed column with fields/X eq 'v' and with unquoted numbers", async () => {
    const byCode = await t.graph<PageShape>('GET', `${items}?$filter=fields/Code eq 'b'&$expand=fields`);
    expect(byCode.status).toBe(200);
    expect(ids(byCode.body)).toEqual(['2']);
    const bySize = await t.graph<PageShape>(
      'GET',
      `${items}?$filter=${encodeURIComponent('fields/Size eq 2')}`,
    );
    expect(ids(bySize.body)).toEqual(['2', '3']);
    const byId = await t.graph<PageShape>('GET', `${items}?$filter=fields/id eq 3`);
    expect(ids(byId.body)).toEqual(['3']);
  });

  it('refuses a non-indexed column with 400 unless Prefer: HonorNonIndexedQueriesWarningMayFailRandomly', async () => {
    const refused = await t.graph<ErrorShape>('GET', `${items}?$filter=fields/Plain eq 'p'`);
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(
      /cannot be referenced in filter or orderby as it is not indexed/,
    );
    const allowed = await t.graph<PageShape>('GET', `${items}?$filter=fields/Plain eq 'p'`, {
      headers: { Prefer: 'HonorNonIndexedQueriesWarningMayFailRandomly' },
    });
    expect(allowed.status).toBe(200);
    expect(ids(allowed.body)).toEqual(['1', '3']);
  });

  it('an indexed text column answers eq as a scan would, through updates, deletes, case and paging', async () => {
    // Key is indexed (answered from the list's equality index), Copy holds the same values without an index (read
    // item by item): both must name the same items after every change.
    const listId = await t.createList('IndexedEq', [
      { name: 'Key', text: {}, indexed: true },
      { name: 'Copy', text: {} },
    ]);
    const base = `/sites/${t.siteId}/lists/${listId}/items`;
    const ids: string[] = [];
    for (const value of ['k1', 'K1', 'k2', 'k1', '2026-01-01', 'k3']) {
      const made = await t.graph<{ id: string }>('POST', base, {
        body: { fields: { Key: value, Copy: value } },
      });
      ids.push(made.body.id);
    }
    const both = async (value: string, top?: number) => {
      const get = async (field: string) => {
        const found: string[] = [];
        let url: string | undefined =
          `${base}?$filter=${encodeURIComponent(`fields/${field} eq '${value}'`)}${top ? `&$top=${top}` : ''}`;
        while (url) {
          const page: GraphAnswer<PageShape & { '@odata.nextLink'?: string }> = await t.graph('GET', url, {
            headers: { Prefer: 'HonorNonIndexedQueriesWarningMayFailRandomly' },
          });
          expect(page.status).toBe(200);
          found.push(...page.body.value.map((i) => i.id));
          url = page.body['@odata.nextLink'];
        }
        return found;
      };
      const indexed = await get('Key');
      expect(indexed).toEqual(await get('Copy'));
      return indexed;
    };
    // The first lookup builds the index; text compares without case.
    expect(await both('k1')).toEqual([ids[0], ids[1], ids[3]]);
    expect(await both('K1', 1)).toEqual([ids[0], ids[1], ids[3]]);
    // Changes after the index exists: an update moves an item between values, a delete takes it out.
    await t.graph('PATCH', `${base}/${ids[0]}/fields`, { body: { Key: 'k2', Copy: 'k2' } });
    await t.graph('DELETE', `${base}/${ids[3]}`);
    const added = await t.graph<{ id: string }>('POST', base, {
      body: { fields: { Key: 'k1', Copy: 'k1' } },
    });
    expect(await both('k1')).toEqual([ids[1], added.body.id]);
    expect(await both('k2', 1)).toEqual([ids[0], ids[2]]);
    expect(await both('none')).toEqual([]);
    // A date-like value compares by instant, not as text: answered by the scan on both columns.
    expect(await both('2026-01-01T00:00:00Z')).toEqual([ids[4]]);
  });

  it('answers 400 for filters on unknown columns', async () => {
    const answer = await t.graph<ErrorShape>('GET', `${items}?$filter=fields/Nope eq 1`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(/Column 'Nope' does not exist/);
  });
});

import {
  fieldKindFor,
  fromGraphFields,
  graphFieldKey,
  toCanonical,
  toGraphFields,
  type CanonicalRecord,
  type MappedColumn,
  type PgColumnInfo,
} from '../../../../src/core/canonical';
import type { SharePointTarget, WriteOutcome } from '../../../../src/core/target/sharepoint';
import { SITE, startHarness, type EmulatorHarness } from './emulatorSupport';

/**
 * I2 through the adapter: for every SharePoint column type, a Postgres value made canonical, serialised
 * with toGraphFields, written with writeItems and read back through Graph, is the same canonical value.
 */

let h: EmulatorHarness;
let target: SharePointTarget;
let categories: string[];
let categoryListId: string;

beforeAll(async () => {
  h = await startHarness();
  target = h.target();
  const categoryList = await target.createList(h.siteId, 'Categories', []);
  const outcomes = await target.writeItems(h.siteId, categoryList.id, [
    { kind: 'create', ref: 'c1', fields: { Title: 'Hardware' } },
    { kind: 'create', ref: 'c2', fields: { Title: 'Software' } },
  ]);
  categories = outcomes.map((o) => (o.status === 'created' ? o.itemId : ''));
  categoryListId = categoryList.id;
});
afterAll(async () => {
  await h.close();
});

const pg = (name: string, udtName: string, dataType = udtName): PgColumnInfo => ({
  name,
  dataType,
  udtName,
  isNullable: true,
  numericScale: udtName === 'numeric' ? 2 : null,
});

/** One column per SharePoint type (and Postgres type where one SharePoint type takes several). */
function columnsUnderTest() {
  return [
    { graph: { name: 'Txt', text: {} }, pg: pg('Txt', 'text') },
    { graph: { name: 'Notes', text: { allowMultipleLines: true } }, pg: pg('Notes', 'text') },
    { graph: { name: 'Ident', text: {} }, pg: pg('Ident', 'uuid') },
    { graph: { name: 'Meta', text: { allowMultipleLines: true } }, pg: pg('Meta', 'jsonb') },
    { graph: { name: 'Qty', number: {} }, pg: pg('Qty', 'int4', 'integer') },
    { graph: { name: 'Ratio', number: {} }, pg: pg('Ratio', 'float8', 'double precision') },
    { graph: { name: 'Price', currency: { locale: 'en-us' } }, pg: pg('Price', 'numeric') },
    { graph: { name: 'At', dateTime: { format: 'dateTime' } }, pg: pg('At', 'timestamptz') },
    { graph: { name: 'Day', dateTime: { format: 'dateOnly' } }, pg: pg('Day', 'date') },
    { graph: { name: 'Flag', boolean: {} }, pg: pg('Flag', 'bool', 'boolean') },
    { graph: { name: 'Status', choice: { choices: ['Open', 'Closed'] } }, pg: pg('Status', 'text') },
    {
      graph: { name: 'Tags', choice: { choices: ['a', 'b', 'c'], displayAs: 'checkBoxes' } },
      pg: pg('Tags', '_text', 'ARRAY'),
    },
    {
      graph: { name: 'Category', lookup: { listId: categoryListId, columnName: 'Title' } },
      pg: pg('Category', 'int4', 'integer'),
    },
    {
      graph: {
        name: 'Categories',
        lookup: { listId: categoryListId, columnName: 'Title', allowMultipleValues: true },
      },
      pg: pg('Categories', '_int4', 'ARRAY'),
    },
    { graph: { name: 'Owner', personOrGroup: {} }, pg: pg('Owner', 'int4', 'integer') },
    {
      graph: { name: 'Reviewers', personOrGroup: { allowMultipleSelection: true } },
      pg: pg('Reviewers', '_int4', 'ARRAY'),
    },
  ];
}

/** Values as node-pg hands them over. */
function postgresRow(): Record<string, unknown> {
  const alice = h.emulator.control.userLookupId('alice');
  const bob = h.emulator.control.userLookupId('bob');
  return {
    Txt: 'Grüße, "world" & <friends>',
    Notes: 'line one\nline two',
    Ident: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
    Meta: { z: 1, a: [true, null, 'x'] },
    Qty: 42,
    Ratio: 0.1 + 0.2,
    Price: '1234.56',
    At: new Date('2024-02-29T23:45:07.891Z'),
    Day: '2024-03-01',
    Flag: false,
    Status: 'Closed',
    Tags: ['c', 'a'],
    Category: Number(categories[1]),
    Categories: [Number(categories[0]), Number(categories[1])],
    Owner: alice,
    Reviewers: [bob, alice],
  };
}

async function provision(): Promise<{ listId: string; mapped: Map<string, MappedColumn> }> {
  const under = columnsUnderTest();
  const listId = await h.newList(under.map((c) => c.graph));
  const spColumns = await target.getColumns(h.siteId, listId);
  const mapped = new Map<string, MappedColumn>();
  for (const column of under) {
    const sp = spColumns.find((candidate) => candidate.name === column.graph.name);
    if (!sp) throw new Error(`column ${column.graph.name} was not created`);
    mapped.set(column.graph.name, { kind: fieldKindFor(column.pg, sp), sp });
  }
  return { listId, mapped };
}

function canonicalOf(row: Record<string, unknown>, mapped: Map<string, MappedColumn>): CanonicalRecord {
  const record: CanonicalRecord = {};
  for (const [name, { kind }] of mapped) record[name] = toCanonical(kind, row[name]);
  return record;
}

function itemIdOf(outcome: WriteOutcome): string {
  if (outcome.status !== 'created') throw new Error(`not created: ${JSON.stringify(outcome)}`);
  return outcome.itemId;
}

describe('I2 canonical form: every column type round-trips through SharePoint', () => {
  it('covers every writable column type', async () => {
    const { mapped } = await provision();
    expect(new Set([...mapped.values()].map((c) => c.sp?.type))).toEqual(
      new Set([
        'text',
        'note',
        'number',
        'currency',
        'dateTime',
        'boolean',
        'choice',
        'multiChoice',
        'lookup',
        'person',
      ]),
    );
    expect(new Set([...mapped.values()].map((c) => c.kind)).size).toBe(13);
  });

  it('values written through toGraphFields read back equal, by item and by listing', async () => {
    const { listId, mapped } = await provision();
    const canonical = canonicalOf(postgresRow(), mapped);
    const [outcome] = await target.writeItems(h.siteId, listId, [
      { kind: 'create', ref: 'row', fields: toGraphFields(canonical, mapped) },
    ]);
    const item = await target.getItem(h.siteId, listId, itemIdOf(outcome));
    expect(fromGraphFields(item?.fields ?? {}, mapped)).toEqual(canonical);
    // $select names Graph field keys: a lookup's id is `<name>LookupId`; a multi-valued lookup reads as
    // [{LookupId, LookupValue}] under its own name.
    const select = [...mapped].flatMap(([name, { kind }]) => [name, graphFieldKey(name, kind)]);
    const [page] = await toArray(target.listItems(h.siteId, listId, { select }));
    expect(fromGraphFields(page[0].fields, mapped)).toEqual(canonical);
  });

  it('empty values round-trip, and an update replaces every value', async () => {
    const { listId, mapped } = await provision();
    const empty = canonicalOf(Object.fromEntries([...mapped.keys()].map((name) => [name, null])), mapped);
    const [outcome] = await target.writeItems(h.siteId, listId, [
      { kind: 'create', ref: 'empty', fields: toGraphFields(empty, mapped) },
    ]);
    const itemId = itemIdOf(outcome);
    expect(fromGraphFields((await target.getItem(h.siteId, listId, itemId))?.fields ?? {}, mapped)).toEqual(
      empty,
    );

    const full = canonicalOf(postgresRow(), mapped);
    const [update] = await target.writeItems(h.siteId, listId, [
      { kind: 'update', ref: 'fill', itemId, fields: toGraphFields(full, mapped) },
    ]);
    expect(update.status).toBe('updated');
    expect(fromGraphFields((await target.getItem(h.siteId, listId, itemId))?.fields ?? {}, mapped)).toEqual(
      full,
    );
  });

  // toGraphFields sends date-only values at noon UTC, which is the intended calendar day in every zone
  // from UTC−12 to UTC+11:59; reading back rounds the stored local midnight to the nearest UTC day. Known
  // gap: at UTC+12:45/+13/+14 both assumptions fail (Graph v1.0 does not expose the site's time zone).
  it('a date-only value does not shift a day in sites east and west of UTC', async () => {
    const { listId, mapped } = await provision();
    const canonical = canonicalOf(postgresRow(), mapped);
    for (const timeZone of [
      'Asia/Tokyo',
      'Europe/Berlin',
      'Asia/Kolkata',
      'America/New_York',
      'Pacific/Honolulu',
    ]) {
      h.emulator.control.setSiteTimeZone(SITE, timeZone);
      try {
        const [outcome] = await target.writeItems(h.siteId, listId, [
          { kind: 'create', ref: timeZone, fields: toGraphFields(canonical, mapped) },
        ]);
        const item = await target.getItem(h.siteId, listId, itemIdOf(outcome));
        expect(fromGraphFields(item?.fields ?? {}, mapped).Day).toBe('2024-03-01');
      } finally {
        h.emulator.control.setSiteTimeZone(SITE, 'UTC');
      }
    }
  });
});

async function toArray<T>(pages: AsyncGenerator<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages) all.push(page);
  return all;
}

import fc from 'fast-check';
import {
  CanonicalValueError,
  FIELD_KINDS,
  MalformedGraphFieldsError,
  SHAREPOINT_SYSTEM_FIELDS,
  UnmappedFieldError,
  canonicalEquals,
  fromGraphFields,
  fromGraphValue,
  toCanonical,
  toGraphFields,
  type CanonicalValue,
  type FieldKind,
  type MappedColumn,
  type SpColumnInfo,
} from '../../../src/core/canonical';
import { postgresValueOf } from './arbitraries';
import {
  SITE_TIME_ZONES_BEYOND_12_HOURS,
  SITE_TIME_ZONES_WITHIN_12_HOURS,
  simulatedColumnFor,
  writeAndRead,
  type SimulatedSite,
} from './sharePointSimulation';

function spColumn(name: string, overrides: Partial<SpColumnInfo> = {}): SpColumnInfo {
  return {
    name,
    displayName: name,
    type: 'text',
    readOnly: false,
    hidden: false,
    indexed: false,
    isSystem: false,
    ...overrides,
  };
}

/**
 * What SharePoint gives back for a canonical value written through toGraphFields, read by fromGraphValue, by an
 * engine set to `engineZone` (`target.siteTimeZone`; absent: UTC).
 */
function graphRoundTrip(
  kind: FieldKind,
  canonical: CanonicalValue,
  site: SimulatedSite,
  engineZone?: string,
): CanonicalValue {
  const column: MappedColumn = engineZone === undefined ? { kind } : { kind, siteTimeZone: engineZone };
  const columns = new Map<string, MappedColumn>([['Field', column]]);
  const body = toGraphFields({ Field: canonical }, columns);
  const fields = writeAndRead(body, [simulatedColumnFor('Field', kind)], site);
  const viaRecord = fromGraphFields(fields, columns).Field;
  const rawKey = kind === 'lookupId' ? 'FieldLookupId' : kind === 'multiLookupId' ? undefined : 'Field';
  if (rawKey !== undefined)
    expect(canonicalEquals(fromGraphValue(kind, fields[rawKey], engineZone), viaRecord)).toBe(true);
  return viaRecord;
}

const anySiteZone = fc.constantFrom(...SITE_TIME_ZONES_WITHIN_12_HOURS, ...SITE_TIME_ZONES_BEYOND_12_HOURS);
const readAs = fc.constantFrom('expanded' as const, 'ids' as const);
/** The site, and the engine told its zone. */
const site: fc.Arbitrary<SimulatedSite> = fc.record({ timeZone: anySiteZone, multiLookupReadAs: readAs });

/** The calendar day SharePoint shows its users for a stored date-only instant: its day in the site's zone. */
function dayShownIn(zone: string, iso: string): string {
  return new Date(iso).toLocaleString('sv-SE', { timeZone: zone }).slice(0, 10);
}

describe('I2 canonical form: a value written to SharePoint reads back to the same canonical value', () => {
  it.each(FIELD_KINDS.map((kind) => [kind]))('%s', (kind) => {
    fc.assert(
      fc.property(postgresValueOf(kind), site, (value, where) => {
        const canonical = toCanonical(kind, value);
        const readBack = graphRoundTrip(kind, canonical, where, where.timeZone);
        expect(readBack).toEqual(canonical);
      }),
      { numRuns: 300 },
    );
  });

  it('date-only values keep their day in every site zone the engine is told, daylight saving included', () => {
    fc.assert(
      fc.property(postgresValueOf('dateOnly'), anySiteZone, (value, timeZone) => {
        const day = toCanonical('dateOnly', value) as string | null;
        if (day === null) return;
        const body = toGraphFields(
          { Due: day },
          new Map([['Due', { kind: 'dateOnly' as const, siteTimeZone: timeZone }]]),
        );
        const stored = writeAndRead(body, [simulatedColumnFor('Due', 'dateOnly')], {
          timeZone,
          multiLookupReadAs: 'ids',
        });
        // What the site's users see, and what the engine reads back.
        expect(dayShownIn(timeZone, stored.Due as string)).toBe(day);
        expect(graphRoundTrip('dateOnly', day, { timeZone, multiLookupReadAs: 'ids' }, timeZone)).toBe(day);
      }),
      { numRuns: 500 },
    );
  });

  it('a day a user picks on a site at UTC+13 reads as that day (midnight of the site zone)', () => {
    // 15 March 2024 in Auckland (daylight saving, UTC+13) is stored as 2024-03-14T11:00:00Z.
    expect(fromGraphValue('dateOnly', '2024-03-14T11:00:00Z', 'Pacific/Auckland')).toBe('2024-03-15');
    expect(fromGraphValue('dateOnly', '2024-07-14T12:00:00Z', 'Pacific/Auckland')).toBe('2024-07-15');
    expect(fromGraphValue('dateOnly', '2024-03-14T10:00:00Z', 'Pacific/Kiritimati')).toBe('2024-03-15');
  });

  it('without a site zone (UTC) date-only values keep their day on sites from UTC−12 to UTC+11:59', () => {
    fc.assert(
      fc.property(
        postgresValueOf('dateOnly'),
        fc.constantFrom(...SITE_TIME_ZONES_WITHIN_12_HOURS),
        (value, timeZone) => {
          const day = toCanonical('dateOnly', value) as string;
          expect(graphRoundTrip('dateOnly', day, { timeZone, multiLookupReadAs: 'ids' })).toBe(day);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('without a site zone, a site at UTC+13 shows the next day: target.siteTimeZone is what keeps it', () => {
    const body = toGraphFields({ Due: '2024-03-10' }, new Map([['Due', { kind: 'dateOnly' as const }]]));
    const stored = writeAndRead(body, [simulatedColumnFor('Due', 'dateOnly')], {
      timeZone: 'Pacific/Auckland',
      multiLookupReadAs: 'ids',
    });
    expect(dayShownIn('Pacific/Auckland', stored.Due as string)).toBe('2024-03-11');
  });
});

describe('I9 direction and system fields: toGraphFields', () => {
  it('serialises each kind in the shape Graph expects', () => {
    const columns = new Map<string, MappedColumn>([
      ['Title', { kind: 'text' }],
      ['Due', { kind: 'dateOnly' }],
      ['At', { kind: 'dateTime' }],
      ['Tags', { kind: 'multiChoice' }],
      ['Owner', { kind: 'lookupId' }],
      ['Reviewers', { kind: 'multiLookupId' }],
      ['Payload', { kind: 'json' }],
      ['Amount', { kind: 'number' }],
      ['Done', { kind: 'boolean' }],
      ['Notes', { kind: 'note' }],
    ]);
    const body = toGraphFields(
      {
        Title: 'A',
        Due: '2024-03-01',
        At: '2024-03-01T10:00:00Z',
        Tags: ['x', 'y'],
        Owner: 6,
        Reviewers: [11, 12],
        Payload: '{"a":1}',
        Amount: 1.5,
        Done: false,
        Notes: null,
      },
      columns,
    );
    expect(body).toEqual({
      Title: 'A',
      Due: '2024-03-01T12:00:00Z',
      At: '2024-03-01T10:00:00Z',
      'Tags@odata.type': 'Collection(Edm.String)',
      Tags: ['x', 'y'],
      OwnerLookupId: 6,
      'ReviewersLookupId@odata.type': 'Collection(Edm.Int32)',
      ReviewersLookupId: [11, 12],
      Payload: '{"a":1}',
      Amount: 1.5,
      Done: false,
      Notes: null,
    });
  });

  it('clears multi-valued fields with an annotated empty collection', () => {
    const columns = new Map<string, MappedColumn>([
      ['Tags', { kind: 'multiChoice' }],
      ['Reviewers', { kind: 'multiLookupId' }],
      ['Owner', { kind: 'lookupId' }],
    ]);
    expect(toGraphFields({ Tags: null, Reviewers: null, Owner: null }, columns)).toEqual({
      'Tags@odata.type': 'Collection(Edm.String)',
      Tags: [],
      'ReviewersLookupId@odata.type': 'Collection(Edm.Int32)',
      ReviewersLookupId: [],
      OwnerLookupId: null,
    });
  });

  it('never emits system or read-only fields, whatever the mapping says', () => {
    const columns = new Map<string, MappedColumn>();
    const values: Record<string, CanonicalValue> = {};
    for (const system of SHAREPOINT_SYSTEM_FIELDS) {
      columns.set(system, { kind: 'text' });
      values[system] = 'x';
    }
    columns.set('created', { kind: 'dateTime' }); // Graph field names are case-insensitive
    values.created = '2024-01-01T00:00:00Z';
    columns.set('Author', { kind: 'lookupId' }); // written as AuthorLookupId
    values.Author = 3;
    columns.set('Locked', { kind: 'text', sp: spColumn('Locked', { readOnly: true }) });
    values.Locked = 'x';
    columns.set('_Hidden', { kind: 'text', sp: spColumn('_Hidden', { isSystem: true }) });
    values._Hidden = 'x';
    columns.set('Total', { kind: 'number', sp: spColumn('Total', { type: 'calculated' }) });
    values.Total = 1;
    columns.set('Link', { kind: 'text', sp: spColumn('Link', { type: 'hyperlink' }) });
    values.Link = 'x';
    columns.set('Title', { kind: 'text', sp: spColumn('Title') });
    values.Title = 'kept';
    expect(toGraphFields(values, columns)).toEqual({ Title: 'kept' });
  });

  it('refuses fields without a mapping and values not in canonical form', () => {
    expect(() => toGraphFields({ Stray: 'x' }, new Map())).toThrow(UnmappedFieldError);
    const columns = new Map<string, MappedColumn>([
      ['When', { kind: 'dateTime' }],
      ['Name', { kind: 'text' }],
    ]);
    expect(() => toGraphFields({ When: '2024-01-01 10:00:00.5' }, columns)).toThrow(
      /field When: .*canonical form/,
    );
    expect(() => toGraphFields({ Name: '' }, columns)).toThrow(CanonicalValueError);
    expect(() => toGraphFields({ Name: 3 }, columns)).toThrow(/field Name: invalid text value 3/);
  });
});

describe('I2 canonical form: fromGraphFields', () => {
  const columns = new Map<string, MappedColumn>([
    ['Title', { kind: 'text' }],
    ['Amount', { kind: 'number' }],
    ['Owner', { kind: 'lookupId' }],
    ['Reviewers', { kind: 'multiLookupId' }],
    ['Tags', { kind: 'multiChoice' }],
    ['Due', { kind: 'dateOnly' }],
  ]);

  it('reads X or XLookupId and treats absent fields as null', () => {
    const fields = {
      '@odata.etag': '"{A},3"',
      id: '3',
      Title: 'Hello',
      OwnerLookupId: '6',
      Owner: 'Ann Smith',
      Reviewers: [{ LookupId: 11, LookupValue: 'Bo' }],
      Due: '2024-02-29T23:00:00Z',
    };
    expect(fromGraphFields(fields, columns)).toEqual({
      Title: 'Hello',
      Amount: null,
      Owner: 6,
      Reviewers: [11],
      Tags: null,
      Due: '2024-03-01',
    });
  });

  it('reads a date in a date-and-time column as the day its instant falls on, not the nearest midnight', () => {
    const sp = spColumn('Day', { type: 'dateTime', dateOnly: false });
    const utc = new Map<string, MappedColumn>([['Day', { kind: 'dateOnly', sp, siteTimeZone: 'UTC' }]]);
    const auckland = new Map<string, MappedColumn>([
      ['Day', { kind: 'dateOnly', sp, siteTimeZone: 'Pacific/Auckland' }],
    ]);
    // The noon the engine writes, and an evening a user picks, are that day (the nearest midnight was the next).
    expect(fromGraphFields({ Day: '2024-03-10T12:00:00Z' }, utc)).toEqual({ Day: '2024-03-10' });
    expect(fromGraphFields({ Day: '2024-03-10T23:59:59Z' }, utc)).toEqual({ Day: '2024-03-10' });
    expect(fromGraphFields({ Day: '2024-03-10T00:00:00Z' }, utc)).toEqual({ Day: '2024-03-10' });
    // 20:00 on the 11th in Auckland (UTC+13 in March) is 07:00Z on the 11th.
    expect(fromGraphFields({ Day: '2024-03-11T07:00:00Z' }, auckland)).toEqual({ Day: '2024-03-11' });
    expect(fromGraphFields(toGraphFields({ Day: '2024-03-11' }, auckland), auckland)).toEqual({
      Day: '2024-03-11',
    });
  });

  it('names the field of an invalid value and rejects a non-object', () => {
    expect(() => fromGraphFields({ Amount: 'lots' }, columns)).toThrow(
      /field Amount: invalid number value "lots"/,
    );
    expect(() =>
      fromGraphFields(['not', 'an', 'object'] as unknown as Record<string, unknown>, columns),
    ).toThrow(MalformedGraphFieldsError);
  });
});

import {
  UnsupportedMappingError,
  fieldKindFor,
  spColumnTypeForProvisioning,
  type FieldKind,
  type PgColumnInfo,
  type SpColumnInfo,
  type SpColumnType,
} from '../../../src/core/canonical';

function pgColumn(udtName: string, dataType = udtName.startsWith('_') ? 'ARRAY' : udtName): PgColumnInfo {
  return { name: `col_${udtName}`, dataType, udtName, isNullable: true, numericScale: null };
}

function spColumn(type: SpColumnType, extra: Partial<SpColumnInfo> = {}): SpColumnInfo {
  return {
    name: `Sp_${type}`,
    displayName: type,
    type,
    readOnly: false,
    hidden: false,
    indexed: false,
    isSystem: false,
    ...extra,
  };
}

describe('fieldKindFor without a SharePoint column (provisioned from the Postgres type)', () => {
  it.each<[string, FieldKind]>([
    ['text', 'text'],
    ['varchar', 'text'],
    ['int2', 'integer'],
    ['int4', 'integer'],
    ['int8', 'number'],
    ['numeric', 'number'],
    ['float4', 'number'],
    ['float8', 'number'],
    ['bool', 'boolean'],
    ['date', 'dateOnly'],
    ['timestamp', 'dateTime'],
    ['timestamptz', 'dateTime'],
    ['uuid', 'uuid'],
    ['json', 'json'],
    ['jsonb', 'json'],
    ['_text', 'multiChoice'],
    ['_varchar', 'multiChoice'],
  ])('%s → %s', (udt, kind) => {
    expect(fieldKindFor(pgColumn(udt), undefined)).toBe(kind);
  });

  it('refuses integer arrays (they need an existing lookup column) and unknown types', () => {
    expect(() => fieldKindFor(pgColumn('_int4'), undefined)).toThrow(/lookup/);
    expect(() => fieldKindFor(pgColumn('bytea'), undefined)).toThrow(UnsupportedMappingError);
  });
});

describe('fieldKindFor with a SharePoint column', () => {
  it.each<[string, SpColumnType, Partial<SpColumnInfo>, FieldKind]>([
    ['text', 'choice', {}, 'choice'],
    ['_text', 'choice', { allowMultiple: true }, 'multiChoice'],
    ['_varchar', 'multiChoice', {}, 'multiChoice'],
    ['int4', 'lookup', {}, 'lookupId'],
    ['int8', 'person', {}, 'lookupId'],
    ['_int4', 'lookup', { allowMultiple: true }, 'multiLookupId'],
    ['_int4', 'person', { allowMultiple: true }, 'multiLookupId'],
    ['text', 'note', {}, 'note'],
    ['jsonb', 'note', {}, 'json'],
    ['json', 'text', {}, 'json'],
    ['uuid', 'text', {}, 'uuid'],
    ['timestamptz', 'dateTime', { dateOnly: true }, 'dateOnly'],
    ['timestamp', 'dateTime', {}, 'dateTime'],
    ['date', 'dateTime', {}, 'dateOnly'],
    ['int4', 'number', {}, 'integer'],
    ['numeric', 'currency', {}, 'number'],
    ['bool', 'boolean', {}, 'boolean'],
  ])('%s + %s %p → %s', (udt, type, extra, kind) => {
    expect(fieldKindFor(pgColumn(udt), spColumn(type, extra))).toBe(kind);
  });

  it.each<[string, SpColumnType, Partial<SpColumnInfo>]>([
    ['int4', 'text', {}],
    ['text', 'number', {}],
    ['_text', 'choice', {}],
    ['text', 'choice', { allowMultiple: true }],
    ['int4', 'lookup', { allowMultiple: true }],
    ['_int4', 'lookup', {}],
    ['text', 'boolean', {}],
    ['text', 'calculated', {}],
    ['text', 'hyperlink', {}],
    ['text', 'unknown', {}],
    ['uuid', 'note', {}],
  ])('%s + %s %p is refused, naming both columns and the type', (udt, type, extra) => {
    const pg = pgColumn(udt);
    const sp = spColumn(type, extra);
    let caught: unknown;
    try {
      fieldKindFor(pg, sp);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnsupportedMappingError);
    const error = caught as UnsupportedMappingError;
    expect(error.pgColumn).toBe(pg.name);
    expect(error.spColumn).toBe(sp.name);
    expect(error.message).toContain(pg.name);
    expect(error.message).toContain(udt);
    expect(error.message).toContain(sp.name);
  });
});

describe('spColumnTypeForProvisioning', () => {
  it.each<[string, unknown]>([
    ['text', { text: {} }],
    ['uuid', { text: {} }],
    ['jsonb', { text: { allowMultipleLines: true } }],
    ['int4', { number: {} }],
    ['int8', { number: {} }],
    ['numeric', { number: {} }],
    ['bool', { boolean: {} }],
    ['date', { dateTime: { format: 'dateOnly' } }],
    ['timestamptz', { dateTime: { format: 'dateTime' } }],
    ['_text', { choice: { allowTextEntry: true, choices: [], displayAs: 'checkBoxes' } }],
  ])('%s → %p', (udt, facet) => {
    expect(spColumnTypeForProvisioning(pgColumn(udt))).toEqual(facet);
  });

  it('gives a column whose kind equals the provisioned kind', () => {
    const asSpColumn: Record<string, SpColumnInfo> = {
      text: spColumn('text'),
      uuid: spColumn('text'),
      jsonb: spColumn('note'),
      int4: spColumn('number'),
      int8: spColumn('number'),
      numeric: spColumn('number'),
      bool: spColumn('boolean'),
      date: spColumn('dateTime', { dateOnly: true }),
      timestamptz: spColumn('dateTime', { dateOnly: false }),
      _text: spColumn('choice', { allowMultiple: true }),
    };
    for (const [udt, sp] of Object.entries(asSpColumn)) {
      const facet = spColumnTypeForProvisioning(pgColumn(udt));
      const facetName = Object.keys(facet)[0];
      const expectedFacet: Record<SpColumnType, string> = {
        text: 'text',
        note: 'text',
        number: 'number',
        currency: 'currency',
        dateTime: 'dateTime',
        boolean: 'boolean',
        choice: 'choice',
        multiChoice: 'choice',
        lookup: 'lookup',
        person: 'personOrGroup',
        calculated: 'calculated',
        hyperlink: 'hyperlinkOrPicture',
        unknown: '',
      };
      expect(facetName).toBe(expectedFacet[sp.type]);
      expect(fieldKindFor(pgColumn(udt), sp)).toBe(fieldKindFor(pgColumn(udt), undefined));
    }
  });

  it('refuses types it cannot provision', () => {
    expect(() => spColumnTypeForProvisioning(pgColumn('_int4'))).toThrow(UnsupportedMappingError);
    expect(() => spColumnTypeForProvisioning(pgColumn('interval'))).toThrow(/col_interval \(interval\)/);
  });
});

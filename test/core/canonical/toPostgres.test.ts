import {
  CanonicalValueError,
  UnsupportedMappingError,
  pgCastFor,
  toPgParam,
  type PgColumnInfo,
} from '../../../src/core/canonical';

function pgColumn(udtName: string, numericScale: number | null = null): PgColumnInfo {
  return {
    name: `col_${udtName}`,
    dataType: udtName.startsWith('_') ? 'ARRAY' : udtName,
    udtName,
    isNullable: true,
    numericScale,
  };
}

describe('pgCastFor', () => {
  it.each([
    ['timestamptz', '::timestamptz'],
    ['timestamp', '::timestamp'],
    ['_text', '::text[]'],
    ['_int4', '::integer[]'],
    ['float8', '::double precision'],
    ['int8', '::bigint'],
    ['jsonb', '::jsonb'],
    ['varchar', '::varchar'],
  ])('%s → %s', (udt, cast) => {
    expect(pgCastFor(pgColumn(udt))).toBe(cast);
  });

  it('refuses unsupported types', () => {
    expect(() => pgCastFor(pgColumn('bytea'))).toThrow(UnsupportedMappingError);
  });
});

describe('toPgParam', () => {
  it('binds each kind in a form Postgres reads without a time-zone shift or rounding by JS', () => {
    expect(toPgParam('dateOnly', '2024-02-29', pgColumn('date'))).toBe('2024-02-29');
    expect(toPgParam('dateOnly', '2024-02-29', pgColumn('timestamp'))).toBe('2024-02-29');
    expect(toPgParam('dateTime', '2024-02-29T10:00:00Z', pgColumn('timestamptz'))).toBe(
      '2024-02-29T10:00:00Z',
    );
    expect(toPgParam('dateTime', '2024-02-29T10:00:00Z', pgColumn('timestamp'))).toBe('2024-02-29 10:00:00');
    expect(toPgParam('json', '{"a":1}', pgColumn('jsonb'))).toBe('{"a":1}');
    expect(toPgParam('multiChoice', ['a', 'b'], pgColumn('_text'))).toEqual(['a', 'b']);
    expect(toPgParam('multiLookupId', [3, 4], pgColumn('_int4'))).toEqual(['3', '4']);
    expect(toPgParam('lookupId', 6, pgColumn('int4'))).toBe('6');
    expect(toPgParam('number', 9007199254740992, pgColumn('int8'))).toBe('9007199254740992');
    expect(toPgParam('number', 1e20, pgColumn('numeric', 6))).toBe('100000000000000000000');
    expect(toPgParam('number', 0.1, pgColumn('numeric', 6))).toBe('0.1');
    expect(toPgParam('number', 0.1, pgColumn('float8'))).toBe(0.1);
    expect(toPgParam('boolean', false, pgColumn('bool'))).toBe(false);
    expect(toPgParam('uuid', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', pgColumn('uuid'))).toBe(
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    );
    expect(toPgParam('text', null, pgColumn('text'))).toBeNull();
  });

  it("writes null into a NOT NULL text column as '' and into a NOT NULL array column as '{}' (I2), NULL elsewhere", () => {
    const notNull = (udt: string): PgColumnInfo => ({ ...pgColumn(udt), isNullable: false });
    expect(toPgParam('text', null, notNull('text'))).toBe('');
    expect(toPgParam('note', null, notNull('varchar'))).toBe('');
    expect(toPgParam('multiChoice', null, notNull('_text'))).toEqual([]);
    expect(toPgParam('multiLookupId', null, notNull('_int4'))).toEqual([]);
    // No empty value to stand for null: Postgres refuses the NULL, naming the column.
    expect(toPgParam('number', null, notNull('int4'))).toBeNull();
    expect(toPgParam('dateTime', null, notNull('timestamptz'))).toBeNull();
    expect(toPgParam('text', null, pgColumn('text'))).toBeNull();
    expect(toPgParam('multiChoice', null, pgColumn('_text'))).toBeNull();
  });

  it('writes 2^63, the double SharePoint holds for the top bigint values, as the largest bigint', () => {
    expect(toPgParam('number', 2 ** 63, pgColumn('int8'))).toBe('9223372036854775807');
    expect(toPgParam('number', -(2 ** 63), pgColumn('int8'))).toBe('-9223372036854775808');
  });

  it('refuses a non-integer or out-of-range value for an integer column', () => {
    expect(() => toPgParam('number', 1.5, pgColumn('int4'))).toThrow(CanonicalValueError);
    expect(() => toPgParam('number', 1.5, pgColumn('int8'))).toThrow(/holds only integers/);
    expect(() => toPgParam('integer', 40000, pgColumn('int2'))).toThrow(/out of range for column col_int2/);
    expect(() => toPgParam('number', 2 ** 64, pgColumn('int8'))).toThrow(/out of range/);
    expect(() => toPgParam('multiLookupId', [1, 2.5], pgColumn('_int4'))).toThrow(/holds only integers/);
  });

  it('refuses values of the wrong shape and kinds the column cannot hold', () => {
    expect(() => toPgParam('number', '1.5', pgColumn('numeric'))).toThrow(/canonical finite number/);
    expect(() => toPgParam('boolean', 't', pgColumn('bool'))).toThrow(CanonicalValueError);
    expect(() => toPgParam('dateTime', '2024-01-01T00:00:00Z', pgColumn('int4'))).toThrow(
      UnsupportedMappingError,
    );
    expect(() => toPgParam('multiChoice', ['a'], pgColumn('text'))).toThrow(UnsupportedMappingError);
  });
});

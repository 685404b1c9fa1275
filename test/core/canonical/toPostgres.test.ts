import fc from 'fast-check';
import {
  CanonicalValueError,
  UnsupportedMappingError,
  pgCastFor,
  toPgParam,
  type PgColumnInfo,
} from '../../../src/core/canonical';
import { freshDatabase, type TestDatabase } from '../../support/db';

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

/*
 * Postgres refuses a text too long for varchar(n) and a number too large for numeric(p, s) without naming the column
 * ("value too long for type character varying(5)", "numeric field overflow"): toPgParam refuses them first, naming
 * the column, so a parked pull item says which value to change (I12). Held to Postgres's own verdict below.
 */
describe('toPgParam: varchar(n) and numeric(p, s) limits', () => {
  const varchar = (max: number, udtName = 'varchar'): PgColumnInfo => ({
    ...pgColumn(udtName),
    maxLength: max,
  });
  const numeric = (precision: number, scale: number): PgColumnInfo => ({
    ...pgColumn('numeric', scale),
    numericPrecision: precision,
  });

  it('refuses a text longer than varchar(n), counting characters, not UTF-16 units; trailing spaces are cut', () => {
    expect(toPgParam('text', 'abcde', varchar(5))).toBe('abcde');
    expect(toPgParam('text', '😀😀😀😀😀', varchar(5))).toBe('😀😀😀😀😀');
    expect(toPgParam('text', 'abcde   ', varchar(5))).toBe('abcde   ');
    expect(() => toPgParam('text', 'abcdef', varchar(5))).toThrow(
      'invalid text value "abcdef": 6 characters, more than column col_varchar (varchar(5)) holds',
    );
    expect(() => toPgParam('multiChoice', ['ok', 'too long'], varchar(5, '_varchar'))).toThrow(
      /8 characters, more than column col__varchar \(varchar\(5\)\) holds/,
    );
  });

  it('refuses a number with more digits before the point than numeric(p, s) holds, after rounding to s', () => {
    expect(toPgParam('number', 999.994, numeric(5, 2))).toBe('999.994');
    expect(toPgParam('number', -999.99, numeric(5, 2))).toBe('-999.99');
    expect(() => toPgParam('number', 999.995, numeric(5, 2))).toThrow(
      'out of range for column col_numeric (numeric(5,2)): it holds at most 3 digits before the point',
    );
    expect(() => toPgParam('number', 123456, numeric(5, 2))).toThrow(CanonicalValueError);
    expect(() => toPgParam('number', 1e21, numeric(20, 0))).toThrow(/at most 20 digits/);
    expect(toPgParam('number', 0.004, numeric(2, 2))).toBe('0.004');
  });

  describe('agrees with Postgres', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await freshDatabase();
    });
    afterAll(async () => db.drop());

    /** Whether Postgres stores the parameter into a column of `sqlType` (rolled back either way). */
    const postgresTakes = async (sqlType: string, cast: string, param: unknown): Promise<boolean> => {
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`CREATE TEMP TABLE t (v ${sqlType}) ON COMMIT DROP`);
        await client.query(`INSERT INTO t (v) VALUES ($1${cast})`, [param]);
        return true;
      } catch {
        return false;
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    };
    const toPgTakes = (run: () => unknown): boolean => {
      try {
        run();
        return true;
      } catch (error) {
        if (error instanceof CanonicalValueError) return false;
        throw error;
      }
    };

    it('on numbers for numeric(p, s)', async () => {
      const spec = fc.record({
        precision: fc.integer({ min: 1, max: 25 }),
        scaleShare: fc.double({ min: 0, max: 1, noNaN: true }),
        value: fc.oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e30, max: 1e30 }),
          fc.integer({ min: -100000, max: 100000 }).map((n) => n / 1000 + 0.0005),
          fc.constantFrom(999.995, 99.5, 9.95, 0.995, 1e21, -0.5),
        ),
      });
      await fc.assert(
        fc.asyncProperty(spec, async ({ precision, scaleShare, value }) => {
          const scale = Math.floor(scaleShare * precision);
          const column = numeric(precision, scale);
          const canonical = value === 0 ? 0 : value;
          expect(toPgTakes(() => toPgParam('number', canonical, column))).toBe(
            await postgresTakes(`numeric(${precision},${scale})`, '::numeric', String(canonical)),
          );
        }),
        { numRuns: 150, seed: 42 },
      );
    });

    it('on texts for varchar(n)', async () => {
      const spec = fc.record({
        max: fc.integer({ min: 1, max: 8 }),
        text: fc.oneof(
          fc.string({ maxLength: 12, unit: 'grapheme' }),
          fc.tuple(fc.string({ minLength: 1, maxLength: 6 }), fc.nat(6)).map(([t, n]) => t + ' '.repeat(n)),
        ),
      });
      await fc.assert(
        fc.asyncProperty(spec, async ({ max, text }) => {
          fc.pre(text !== '' && !text.includes('\u0000'));
          expect(toPgTakes(() => toPgParam('text', text, varchar(max)))).toBe(
            await postgresTakes(`varchar(${max})`, '::varchar', text),
          );
        }),
        { numRuns: 150, seed: 42 },
      );
    });
  });
});

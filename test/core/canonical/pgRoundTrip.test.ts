import fc from 'fast-check';
import { Pool } from 'pg';
import {
  fieldKindFor,
  fromGraphFields,
  pgCastFor,
  pgTypeParsers,
  toCanonical,
  toGraphFields,
  toPgParam,
  type CanonicalRecord,
  type FieldKind,
  type MappedColumn,
  type PgColumnInfo,
} from '../../../src/core/canonical';
import { freshDatabase, type TestDatabase } from '../../support/db';
import {
  choiceText,
  finiteDouble,
  jsonValue,
  pgDateText,
  pgInt8Text,
  pgNumeric20x6Text,
  pgText,
  pgTimestampText,
} from './arbitraries';
import {
  SITE_TIME_ZONES_BEYOND_12_HOURS,
  SITE_TIME_ZONES_WITHIN_12_HOURS,
  simulatedColumnFor,
  writeAndRead,
} from './sharePointSimulation';

/** One column of each supported type, and how fast-check generates a value to INSERT into it. */
const COLUMNS: { name: string; sqlType: string; value: fc.Arbitrary<unknown> }[] = [
  { name: 'c_text', sqlType: 'text', value: pgText() },
  { name: 'c_varchar', sqlType: 'varchar(300)', value: pgText().filter((text) => text.length <= 300) },
  { name: 'c_int4', sqlType: 'int4', value: fc.integer() },
  { name: 'c_int8', sqlType: 'int8', value: pgInt8Text },
  { name: 'c_numeric', sqlType: 'numeric(20,6)', value: pgNumeric20x6Text },
  {
    name: 'c_real',
    sqlType: 'real',
    // Normal float4 values: Postgres refuses float4 input that underflows into the denormal range.
    value: fc
      .float({ noNaN: true, noDefaultInfinity: true })
      .filter((n) => n === 0 || Math.abs(n) >= 1.2e-38),
  },
  { name: 'c_double', sqlType: 'double precision', value: finiteDouble },
  { name: 'c_bool', sqlType: 'boolean', value: fc.boolean() },
  { name: 'c_date', sqlType: 'date', value: pgDateText },
  { name: 'c_timestamp', sqlType: 'timestamp', value: pgTimestampText(false) },
  { name: 'c_timestamptz', sqlType: 'timestamptz', value: pgTimestampText(true) },
  { name: 'c_uuid', sqlType: 'uuid', value: fc.uuid() },
  { name: 'c_json', sqlType: 'json', value: jsonValue.map((value) => JSON.stringify(value, null, 1)) },
  { name: 'c_jsonb', sqlType: 'jsonb', value: jsonValue.map((value) => JSON.stringify(value)) },
  { name: 'c_text_array', sqlType: 'text[]', value: fc.array(choiceText, { maxLength: 4 }) },
];

const rowValues = fc.tuple(
  ...COLUMNS.map(({ value }) =>
    fc.oneof({ weight: 9, arbitrary: value }, { weight: 1, arbitrary: fc.constant(null) }),
  ),
);

describe('I2 canonical form: Postgres → canonical → Postgres round trip on a real database', () => {
  let db: TestDatabase;
  let pool: Pool;
  let pgColumns: PgColumnInfo[];
  let kinds: FieldKind[];
  const columnList = COLUMNS.map(({ name }) => name).join(', ');

  beforeAll(async () => {
    db = await freshDatabase();
    // A non-UTC session time zone proves timestamptz text with offsets is read right.
    pool = new Pool({
      connectionString: db.url,
      types: pgTypeParsers,
      options: '-c TimeZone=Asia/Kolkata',
      max: 2,
    });
    await pool.query(
      `CREATE TABLE sample (id serial PRIMARY KEY, ${COLUMNS.map(({ name, sqlType }) => `${name} ${sqlType}`).join(', ')})`,
    );
    const { rows } = await pool.query<{
      column_name: string;
      data_type: string;
      udt_name: string;
      is_nullable: string;
      numeric_scale: number | null;
    }>(
      `SELECT column_name, data_type, udt_name, is_nullable, numeric_scale
         FROM information_schema.columns WHERE table_name = 'sample' AND column_name <> 'id'
        ORDER BY ordinal_position`,
    );
    pgColumns = rows.map((row) => ({
      name: row.column_name,
      dataType: row.data_type,
      udtName: row.udt_name,
      isNullable: row.is_nullable === 'YES',
      numericScale: row.numeric_scale,
    }));
    kinds = pgColumns.map((column) => fieldKindFor(column, undefined));
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  async function readCanonical(id: number): Promise<CanonicalRecord> {
    const { rows } = await pool.query<Record<string, unknown>>(
      `SELECT ${columnList} FROM sample WHERE id = $1`,
      [id],
    );
    const record: CanonicalRecord = {};
    pgColumns.forEach((column, index) => {
      record[column.name] = toCanonical(kinds[index], rows[0][column.name]);
    });
    return record;
  }

  it('reads every supported type with the kind the mapping expects', () => {
    expect(pgColumns.map(({ name }) => name)).toEqual(COLUMNS.map(({ name }) => name));
    expect(kinds).toEqual([
      'text',
      'text',
      'integer',
      'number',
      'number',
      'number',
      'number',
      'boolean',
      'dateOnly',
      'dateTime',
      'dateTime',
      'uuid',
      'json',
      'json',
      'multiChoice',
    ]);
  });

  it('canonical(read) → toPgParam → write → read → canonical is unchanged, and SharePoint agrees', async () => {
    const placeholders = (from: number) =>
      pgColumns.map((column, index) => `$${from + index}${pgCastFor(column)}`).join(', ');
    const insert = `INSERT INTO sample (${columnList}) VALUES (${placeholders(1)}) RETURNING id`;
    const graphColumns = new Map<string, MappedColumn>(
      pgColumns.map((column, index) => [column.name, { kind: kinds[index] }]),
    );
    const simulated = pgColumns.map((column, index) => simulatedColumnFor(column.name, kinds[index]));
    /** The columns of an engine told the site's zone (target.siteTimeZone). */
    const inZone = (siteTimeZone: string) =>
      new Map<string, MappedColumn>(
        [...graphColumns].map(([name, column]) => [name, { ...column, siteTimeZone }]),
      );

    await fc.assert(
      fc.asyncProperty(
        rowValues,
        fc.constantFrom(...SITE_TIME_ZONES_WITHIN_12_HOURS, ...SITE_TIME_ZONES_BEYOND_12_HOURS),
        async (values, timeZone) => {
          const first = await pool.query<{ id: number }>(insert, values);
          const canonical = await readCanonical(first.rows[0].id);

          const params = pgColumns.map((column, index) =>
            toPgParam(kinds[index], canonical[column.name], column),
          );
          const second = await pool.query<{ id: number }>(insert, params);
          expect(await readCanonical(second.rows[0].id)).toEqual(canonical);

          const fromSharePoint = fromGraphFields(
            writeAndRead(toGraphFields(canonical, inZone(timeZone)), simulated, {
              timeZone,
              multiLookupReadAs: 'ids',
            }),
            inZone(timeZone),
          );
          expect(fromSharePoint).toEqual(canonical);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('rounds as SharePoint would, without shifting dates or timestamps', async () => {
    const { rows } = await pool.query<{ id: number }>(
      `INSERT INTO sample (c_int8, c_numeric, c_date, c_timestamp, c_timestamptz, c_text, c_jsonb)
       VALUES ('9223372036854775807', '12345678901234.123456', '1900-01-01', '2024-02-29 23:59:59.999999',
               '2024-03-01 00:30:00.75+01', '', '{"b": [1, 2], "a": null}')
       RETURNING id`,
    );
    const canonical = await readCanonical(rows[0].id);
    expect(canonical).toMatchObject({
      c_int8: 9223372036854775808,
      c_numeric: 12345678901234.123,
      c_date: '1900-01-01',
      c_timestamp: '2024-02-29T23:59:59Z',
      c_timestamptz: '2024-02-29T23:30:00Z',
      c_text: null,
      c_jsonb: '{"a":null,"b":[1,2]}',
    });
    const params = pgColumns.map((column, index) => toPgParam(kinds[index], canonical[column.name], column));
    const insert = `INSERT INTO sample (${columnList}) VALUES (${pgColumns
      .map((column, index) => `$${index + 1}${pgCastFor(column)}`)
      .join(', ')}) RETURNING id`;
    const again = await pool.query<{ id: number }>(insert, params);
    const { rows: stored } = await pool.query<{ c_int8: string; c_timestamptz: string }>(
      'SELECT c_int8, c_timestamptz FROM sample WHERE id = $1',
      [again.rows[0].id],
    );
    expect(stored[0]).toEqual({ c_int8: '9223372036854775807', c_timestamptz: '2024-03-01 05:00:00+05:30' });
  });
});

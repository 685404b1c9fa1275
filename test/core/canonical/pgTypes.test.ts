import { Pool } from 'pg';
import { pgTypeParsers } from '../../../src/core/canonical';
import { freshDatabase, type TestDatabase } from '../../support/db';

describe('I2 canonical form: pgTypeParsers hand over what Postgres stored', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await freshDatabase();
    // A session time zone far from UTC: nothing may shift by it except timestamptz's rendered offset.
    pool = new Pool({
      connectionString: db.url,
      types: pgTypeParsers,
      options: '-c TimeZone=Pacific/Kiritimati',
    });
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('returns raw text for date, timestamp, timestamptz, numeric, int8, json and their arrays', async () => {
    const { rows } = await pool.query(`SELECT
      '2024-02-29'::date AS d,
      '2024-02-29 23:59:59.123456'::timestamp AS ts,
      '2024-02-29 23:59:59.123456Z'::timestamptz AS tstz,
      '12345678901234567890.123456'::numeric AS n,
      '9223372036854775807'::int8 AS big,
      '{"b": 1, "a": "x"}'::jsonb AS jb,
      '"123"'::json AS js,
      ARRAY['2024-01-01'::date, NULL] AS ds,
      ARRAY['2024-01-01 00:00:00.5'::timestamp] AS tss,
      ARRAY['2024-01-01 00:00:00Z'::timestamptz] AS tstzs,
      ARRAY[1.10::numeric, 2] AS ns,
      ARRAY[9007199254740993::int8] AS bigs`);
    expect(rows[0]).toEqual({
      d: '2024-02-29',
      ts: '2024-02-29 23:59:59.123456',
      tstz: '2024-03-01 13:59:59.123456+14',
      n: '12345678901234567890.123456',
      big: '9223372036854775807',
      jb: '{"a": "x", "b": 1}',
      js: '"123"',
      ds: ['2024-01-01', null],
      tss: ['2024-01-01 00:00:00.5'],
      tstzs: ['2024-01-01 14:00:00+14'],
      ns: ['1.10', '2'],
      bigs: ['9007199254740993'],
    });
  });

  it('keeps the default parsers for everything else', async () => {
    const { rows } = await pool.query(`SELECT 42::int4 AS i, 1.5::float8 AS f, true AS b,
      ARRAY['a', 'b'] AS t, ARRAY[1, 2]::int4[] AS ia, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u`);
    expect(rows[0]).toEqual({
      i: 42,
      f: 1.5,
      b: true,
      t: ['a', 'b'],
      ia: [1, 2],
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    });
  });
});

import { pgTypeParsers } from '../../../../src/core/canonical/pgTypes';
import { holdsInserted, valuesJson } from '../../../../src/core/engine/pull/insertedValues';
import { freshDatabase, type TestDatabase } from '../../../support/db';

/**
 * An intent taken on another database pairs its item only with a row that still holds what the stopped page
 * inserted (engine/pull/intents.ts). A copy of the source on a server whose TimeZone differs prints the same
 * timestamptz differently: that must not make the row look like another one.
 */
describe('the values a stopped pull page inserted, compared with a row read later', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await freshDatabase();
    await db.pool.query(
      `CREATE TABLE t (id int PRIMARY KEY, name text, at timestamptz, ats timestamptz[], n numeric, f float8,
      iv interval)`,
    );
    await db.pool.query(`INSERT INTO t VALUES (1, 'first', '2026-12-06 17:00:00.123456+00',
      ARRAY['2026-12-06 10:00:00+00'::timestamptz, NULL], 12.50, 1/3::float8, '1 day 2 hours')`);
  });
  afterAll(() => db.drop());

  const readIn = async (timeZone: string, settings = '') => {
    const client = await db.pool.connect();
    try {
      await client.query(`SET TimeZone = '${timeZone}'; ${settings}`);
      const { rows } = await client.query<Record<string, unknown>>({
        text: 'SELECT id, name, at, ats, n, f, iv FROM t WHERE id = 1',
        types: pgTypeParsers,
      });
      return { values: rows[0] };
    } finally {
      client.release();
    }
  };
  const udt = new Map([
    ['at', 'timestamptz'],
    ['ats', '_timestamptz'],
    ['n', 'numeric'],
    ['f', 'float8'],
    ['iv', 'interval'],
  ]);

  it('a timestamptz printed in another session time zone is the same instant', async () => {
    const paris = await readIn('Europe/Paris');
    const utc = await readIn('UTC');
    expect(paris.values.at).not.toBe(utc.values.at); // the texts differ…
    expect(holdsInserted(valuesJson(paris.values), utc, udt)).toBe(true); // …the instants do not
    expect(holdsInserted(valuesJson(utc.values), paris, udt)).toBe(true);
  });

  it('a float printed with fewer digits is the same float; an interval (printed by settings) is left out', async () => {
    const other = await readIn('UTC', 'SET extra_float_digits = 0; SET IntervalStyle = iso_8601');
    const utc = await readIn('UTC', 'SET extra_float_digits = 1; SET IntervalStyle = postgres');
    expect(other.values.f).not.toBe(utc.values.f);
    expect(holdsInserted(valuesJson(other.values), utc, udt)).toBe(true);
    // Another float is another row, whatever the digits.
    expect(holdsInserted(valuesJson(other.values), { values: { ...utc.values, f: 0.3334 } }, udt)).toBe(
      false,
    );
  });

  it('a float8 tie rounded to even at 15 digits is the same float; two units off is another', () => {
    const recorded = valuesJson({ f: 123456789012344.5 });
    expect(holdsInserted(recorded, { values: { f: 123456789012344 } }, udt)).toBe(true);
    expect(holdsInserted(recorded, { values: { f: 123456789012346.5 } }, udt)).toBe(false);
    expect(holdsInserted(valuesJson({ f: [1.5, null] }), { values: { f: [1.5, null] } }, udt)).toBe(true);
  });

  it('another instant, another text or a column gone is another row', async () => {
    const utc = await readIn('UTC');
    const recorded = valuesJson(utc.values);
    const oneMicrosecondLater = { values: { ...utc.values, at: '2026-12-06 17:00:00.123457+00' } };
    expect(holdsInserted(recorded, oneMicrosecondLater, udt)).toBe(false);
    expect(holdsInserted(recorded, { values: { ...utc.values, name: 'app row' } }, udt)).toBe(false);
    expect(holdsInserted(recorded, { values: { ...utc.values, n: '12.5' } }, udt)).toBe(false);
    const { n: _n, ...withoutN } = utc.values;
    expect(holdsInserted(recorded, { values: withoutN }, udt)).toBe(false);
    expect(holdsInserted(recorded, undefined, udt)).toBe(false);
  });
});

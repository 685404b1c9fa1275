import { Client, type Pool } from 'pg';
import { createPool } from '../../../src/core/db/pool';
import { sessionSettingsProblems, type SessionSettings } from '../../../src/core/db/sessionSettings';
import { freshDatabase, type TestDatabase } from '../../support/db';

const PINNED: SessionSettings = { DateStyle: 'ISO, MDY', IntervalStyle: 'postgres', extra_float_digits: '3' };

describe('session settings of engine connections', () => {
  let db: TestDatabase;
  let pool: Pool;
  beforeAll(async () => {
    db = await freshDatabase();
    const database = new URL(db.url).pathname.slice(1);
    await db.pool.query(`ALTER DATABASE "${database}" SET DateStyle = 'German, DMY'`);
    await db.pool.query(`ALTER DATABASE "${database}" SET extra_float_digits = -2`);
    pool = createPool({ connectionString: db.url, auth: 'password', max: 2 });
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('a client built from the pool options, as the LSN peek builds its cursor connection, is pinned too', async () => {
    const ClientClass = pool.options.Client as typeof Client;
    const client = new ClientClass(pool.options);
    await client.connect();
    try {
      const { rows } = await client.query<{ day: string; ratio: string }>(
        "SELECT DATE '2026-12-06'::text AS day, (0.1::float8 + 0.2::float8)::text AS ratio",
      );
      expect(rows[0]).toEqual({ day: '2026-12-06', ratio: '0.30000000000000004' });
    } finally {
      await client.end();
    }
  });

  it('validate finds nothing wrong with the pinned settings and names each unfit one with its fix', () => {
    expect(sessionSettingsProblems(PINNED)).toEqual([]);
    expect(sessionSettingsProblems({ ...PINNED, extra_float_digits: '1' })).toEqual([]);
    const problems = sessionSettingsProblems({
      DateStyle: 'Postgres, DMY',
      IntervalStyle: 'sql_standard',
      extra_float_digits: '0',
    });
    // IntervalStyle is pinned, not checked: no interval column is mapped.
    expect(problems).toEqual([
      expect.stringMatching(/^DateStyle is 'Postgres, DMY'.*SET DateStyle = 'ISO, MDY'/),
      expect.stringMatching(/^extra_float_digits is 0: .*SET extra_float_digits = 3/),
    ]);
  });
});

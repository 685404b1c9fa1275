import { Client, type Pool } from 'pg';
import { createPool } from '../../../src/core/db/pool';
import {
  SessionSettingsError,
  sessionSettingsProblems,
  type SessionSettings,
} from '../../../src/core/db/sessionSettings';
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

  it('a query on a session whose DateStyle was changed after connecting fails naming the setting, its value and the fix', async () => {
    const client = await pool.connect();
    try {
      await client.query("SET DateStyle = 'SQL, DMY'");
      const promised = client.query("SELECT DATE '2026-12-06' AS day");
      await expect(promised).rejects.toBeInstanceOf(SessionSettingsError);
      await expect(promised).rejects.toMatchObject({
        setting: 'DateStyle',
        value: 'SQL, DMY',
        errorKind: 'invalid_input',
        message: expect.stringMatching(
          /prints dates in 'SQL, DMY' style.*ALTER DATABASE … SET DateStyle = 'ISO, MDY'/,
        ),
      });
      // The callback form (pool.query's) gets the same error, and no unhandled rejection is left behind.
      const viaCallback = await new Promise<Error | null>((resolve) =>
        client.query('SELECT 1', (error: Error | null) => resolve(error)),
      );
      expect(viaCallback).toBeInstanceOf(SessionSettingsError);
    } finally {
      client.release(true);
    }
    // The broken session was discarded; a new one is pinned again.
    expect((await pool.query<{ d: string }>("SELECT current_setting('DateStyle') AS d")).rows[0].d).toBe(
      'ISO, MDY',
    );
  });

  it('validate finds nothing wrong with the pinned settings and names each unfit one with its fix', () => {
    expect(sessionSettingsProblems(PINNED)).toEqual([]);
    expect(sessionSettingsProblems({ ...PINNED, extra_float_digits: '1' })).toEqual([]);
    const problems = sessionSettingsProblems({
      DateStyle: 'Postgres, DMY',
      IntervalStyle: 'sql_standard',
      extra_float_digits: '0',
    });
    expect(problems).toEqual([
      expect.stringMatching(/^DateStyle is 'Postgres, DMY'.*SET DateStyle = 'ISO, MDY'/),
      expect.stringMatching(/^IntervalStyle is 'sql_standard'.*SET IntervalStyle = 'postgres'/),
      expect.stringMatching(/^extra_float_digits is 0: .*SET extra_float_digits = 3/),
    ]);
  });
});

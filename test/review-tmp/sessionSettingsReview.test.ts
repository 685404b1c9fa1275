import { Client, type Pool } from 'pg';
import { createPool } from '../../src/core/db/pool';
import { inTransaction } from '../../src/core/db/transaction';
import { SessionSettingsError } from '../../src/core/db/sessionSettings';
import { freshDatabase, type TestDatabase } from '../support/db';

const APP = 'review-tmp-session';

describe('review: sessions whose DateStyle turns non-ISO while in use', () => {
  let db: TestDatabase;
  const pools: Pool[] = [];
  const newPool = (max = 2) => {
    const pool = createPool({ connectionString: db.url, auth: 'password', max, applicationName: APP });
    pools.push(pool);
    return pool;
  };
  beforeAll(async () => {
    db = await freshDatabase();
    await db.pool.query(`CREATE TABLE t (id int PRIMARY KEY, v text)`);
    await db.pool.query(`INSERT INTO t VALUES (1, 'a')`);
    // A user's trigger that prints dates its own way for the rest of its transaction (SET LOCAL).
    await db.pool.query(`CREATE FUNCTION t_style() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM set_config('DateStyle', 'SQL, DMY', true); RETURN NEW; END $$`);
    await db.pool.query(`CREATE TRIGGER t_style BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION t_style()`);
  });
  afterAll(async () => {
    for (const pool of pools) await pool.end();
    await db.drop();
  });

  it('a transaction that fails with SessionSettingsError is rolled back, not returned to the pool open', async () => {
    const pool = newPool(1);
    const failure = await inTransaction(pool, async (c) => {
      await c.query(`UPDATE t SET v = 'b' WHERE id = 1`); // fires the trigger's SET LOCAL DateStyle
      await c.query('SELECT 1'); // refused: SessionSettingsError; then ROLLBACK is refused too
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(SessionSettingsError);

    // The pool must not hand the broken session out again ...
    const next = await pool.connect();
    try {
      await expect(next.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
    } finally {
      next.release();
    }
    // ... no engine session may be left idle in transaction (holding row 1's lock) ...
    const { rows } = await db.pool.query<{ state: string }>(
      'SELECT state FROM pg_stat_activity WHERE application_name = $1',
      [APP],
    );
    expect(rows.map((r) => r.state)).not.toContain('idle in transaction');
    // ... and another writer of row 1 is not blocked.
    const other = new Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query(`SET lock_timeout = '1s'`);
      await expect(other.query(`UPDATE t SET v = 'c' WHERE id = 1`)).resolves.toBeDefined();
    } finally {
      await other.end();
    }
  });

  it('a query config carrying its own callback gets the SessionSettingsError through it', async () => {
    const client = await newPool().connect();
    try {
      await client.query(`SET DateStyle = 'SQL, DMY'`);
      let rejectedPromiseReturned = false;
      const got = await new Promise<unknown>((resolve) => {
        const timer = setTimeout(() => resolve('callback never called'), 1000);
        // pg documents { text, callback } as a query form (Query's config.callback).
        const returned = (client.query as unknown as (c: object) => Promise<unknown> | undefined)({
          text: 'SELECT 1',
          callback: (err: Error | null) => {
            clearTimeout(timer);
            resolve(err);
          },
        });
        // pg returns undefined for the callback forms; here a rejected promise comes back, which a caller of
        // the callback form never handles (caught here only to keep jest from failing on it).
        if (returned) returned.catch(() => (rejectedPromiseReturned = true));
      });
      expect(got).toBeInstanceOf(SessionSettingsError);
      expect(rejectedPromiseReturned).toBe(false);
    } finally {
      client.release(true);
    }
  });

  it('fine: a function-level SET DateStyle clause (restored at exit) does not trip the check', async () => {
    await db.pool.query(`CREATE FUNCTION styled_day() RETURNS text LANGUAGE sql SET DateStyle = 'SQL, DMY'
      AS $$ SELECT now()::date::text $$`);
    const client = await newPool().connect();
    try {
      await client.query('SELECT styled_day()');
      await expect(client.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
    } finally {
      client.release();
    }
  });

  it('a query issued before connect() resolves runs before the pin (unpinned)', async () => {
    await db.pool.query(`ALTER DATABASE "${new URL(db.url).pathname.slice(1)}" SET DateStyle = 'German, DMY'`);
    const pool = newPool();
    const ClientClass = pool.options.Client as typeof Client;
    const client = new ClientClass(pool.options);
    const connecting = client.connect();
    const early = client.query<{ d: string }>("SELECT current_setting('DateStyle') AS d");
    await connecting;
    try {
      expect((await early).rows[0].d).toBe('ISO, MDY');
    } finally {
      await client.end();
    }
  });
});

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Pool, PoolClient } from 'pg';
import { loadSettings } from '../../../src/config/settings';
import { createPool, isAzurePostgresHost, poolFromSettings } from '../../../src/core/db/pool';
import type { EntraAccessToken } from '../../../src/core/db/entraToken';
import {
  DatabaseConfigError,
  DatabaseConnectionLostError,
  DatabaseTokenError,
  DatabaseUnreachableError,
} from '../../../src/core/db/errors';
import { freshDatabase, type TestDatabase } from '../../support/db';

const MINUTE = 60_000;

/** A JWT-sized random token: real Entra tokens are 1–2 kB, longer than any password a person would pick. */
function fakeToken(): string {
  return randomBytes(900).toString('base64url');
}

/** The only double: stands in for the identity endpoint, handing out whatever token the test sets. */
class TokenProviderDouble {
  calls = 0;
  next: EntraAccessToken | Error;

  constructor(first: EntraAccessToken) {
    this.next = first;
  }

  readonly provide = async (): Promise<EntraAccessToken> => {
    this.calls += 1;
    if (this.next instanceof Error) throw this.next;
    return this.next;
  };
}

let db: TestDatabase;
let role: string;
const pools: Pool[] = [];

async function setRolePassword(password: string): Promise<void> {
  const { rows } = await db.pool.query<{ sql: string }>(
    'SELECT format($1::text, $2::text, $3::text) AS sql',
    ['ALTER ROLE %I PASSWORD %L', role, password],
  );
  await db.pool.query(rows[0].sql);
}

/** The database URL with the test role as user and no password, as Bicep builds DATABASE_URL. */
function roleUrl(): string {
  const url = new URL(db.url);
  url.username = role;
  url.password = '';
  return url.toString();
}

function track(pool: Pool): Pool {
  pools.push(pool);
  return pool;
}

async function currentUser(client: PoolClient): Promise<string> {
  const { rows } = await client.query<{ current_user: string }>('SELECT current_user');
  return rows[0].current_user;
}

beforeAll(async () => {
  db = await freshDatabase();
  role = `arcore_entra_${randomBytes(4).toString('hex')}`;
  const { rows } = await db.pool.query<{ sql: string }>('SELECT format($1::text, $2::text) AS sql', [
    'CREATE ROLE %I LOGIN',
    role,
  ]);
  await db.pool.query(rows[0].sql);
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await db.drop();
  const admin = createPool({ connectionString: process.env.ARCORE_TEST_ADMIN_URL ?? '', auth: 'password' });
  try {
    const { rows } = await admin.query<{ sql: string }>('SELECT format($1::text, $2::text) AS sql', [
      'DROP ROLE IF EXISTS %I',
      role,
    ]);
    await admin.query(rows[0].sql);
  } finally {
    await admin.end();
  }
});

describe('Entra token as the pg password (real Postgres, provider double)', () => {
  test('logs in as the role with the token the provider returns', async () => {
    const token = fakeToken();
    await setRolePassword(token);
    const provider = new TokenProviderDouble({ token, expiresOnTimestamp: Date.now() + 60 * MINUTE });
    const pool = track(
      createPool({ connectionString: roleUrl(), auth: 'entra', tokenProvider: provider.provide }),
    );

    const { rows } = await pool.query<{ current_user: string }>('SELECT current_user');

    expect(rows[0].current_user).toBe(role);
    expect(provider.calls).toBe(1);
  });

  test('new connections share one cached token while it is far from expiry', async () => {
    const token = fakeToken();
    await setRolePassword(token);
    const provider = new TokenProviderDouble({ token, expiresOnTimestamp: Date.now() + 60 * MINUTE });
    const pool = track(
      createPool({ connectionString: roleUrl(), auth: 'entra', tokenProvider: provider.provide, max: 4 }),
    );

    const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect(), pool.connect()]);
    try {
      expect(await Promise.all(clients.map(currentUser))).toEqual([role, role, role, role]);
    } finally {
      clients.forEach((c) => c.release(true));
    }
    expect(provider.calls).toBe(1);
  });

  test('refreshes the token within five minutes of expiry, so connections opened an hour later still log in', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const tokenA = fakeToken();
    await setRolePassword(tokenA);
    const provider = new TokenProviderDouble({ token: tokenA, expiresOnTimestamp: clock + 60 * MINUTE });
    const pool = track(
      createPool({
        connectionString: roleUrl(),
        auth: 'entra',
        tokenProvider: provider.provide,
        now: () => clock,
      }),
    );

    const first = await pool.connect();
    expect(await currentUser(first)).toBe(role);
    first.release(true); // destroy it: the next connect must log in again

    // Entra rotates the token; the server now accepts only the new one.
    const tokenB = fakeToken();
    await setRolePassword(tokenB);
    provider.next = { token: tokenB, expiresOnTimestamp: clock + 120 * MINUTE };

    // 54 minutes in, six minutes before expiry: still outside the margin, the cached token is presented.
    clock += 54 * MINUTE;
    await expect(pool.connect()).rejects.toThrow(/password authentication failed/);
    expect(provider.calls).toBe(1);

    // 56 minutes in, inside the margin: the pool asks for a new token and logs in with it.
    clock += 2 * MINUTE;
    const later = await pool.connect();
    try {
      expect(await currentUser(later)).toBe(role);
    } finally {
      later.release(true);
    }
    expect(provider.calls).toBe(2);
  });

  test('keeps using a not-yet-expired token when a refresh fails, and fails clearly once it has expired', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const token = fakeToken();
    await setRolePassword(token);
    const provider = new TokenProviderDouble({ token, expiresOnTimestamp: clock + 60 * MINUTE });
    const pool = track(
      createPool({
        connectionString: roleUrl(),
        auth: 'entra',
        tokenProvider: provider.provide,
        now: () => clock,
      }),
    );
    (await pool.connect()).release(true);

    provider.next = new Error('IMDS endpoint timed out');
    clock += 57 * MINUTE;
    const stillValid = await pool.connect();
    expect(await currentUser(stillValid)).toBe(role);
    stillValid.release(true);

    clock += 4 * MINUTE;
    const failure = await pool.connect().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(DatabaseUnreachableError);
    expect((failure as Error).message).toMatch(/IMDS endpoint timed out/);
    expect(provider.calls).toBe(3);
  });

  test('a failing token provider surfaces a DatabaseUnreachableError naming host:port and the token failure', async () => {
    const provider = new TokenProviderDouble({ token: 'unused', expiresOnTimestamp: 0 });
    provider.next = new Error('ManagedIdentityCredential: no managed identity endpoint found');
    const pool = track(
      createPool({ connectionString: roleUrl(), auth: 'entra', tokenProvider: provider.provide }),
    );
    const url = new URL(db.url);

    const error = await pool.query('SELECT 1').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DatabaseUnreachableError);
    const unreachable = error as DatabaseUnreachableError;
    expect(unreachable.message).toContain(`${url.hostname}:${url.port}`);
    expect(unreachable.message).toContain('could not get an Entra access token');
    expect(unreachable.message).toContain('no managed identity endpoint found');
    expect(unreachable.cause).toBeInstanceOf(DatabaseTokenError);
    expect(unreachable.user).toBe(role);
  });

  test('a failed token fetch closes the half-open connection instead of leaving the server waiting for a password', async () => {
    const provider = new TokenProviderDouble({ token: 'unused', expiresOnTimestamp: 0 });
    provider.next = new Error('no identity');
    const pool = track(
      createPool({ connectionString: roleUrl(), auth: 'entra', tokenProvider: provider.provide }),
    );
    await expect(pool.query('SELECT 1')).rejects.toBeInstanceOf(DatabaseUnreachableError);

    // A backend still authenticating shows as state 'starting'; a leaked one would stay for authentication_timeout.
    const deadline = Date.now() + 3000;
    let starting = -1;
    while (Date.now() < deadline) {
      const { rows } = await db.pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND state = 'starting'",
      );
      starting = rows[0].n;
      if (starting === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(starting).toBe(0);
  });

  test('a provider that returns something other than a token is rejected with a specific message', async () => {
    const provider = new TokenProviderDouble({ token: '', expiresOnTimestamp: Date.now() + 60 * MINUTE });
    const pool = track(
      createPool({ connectionString: roleUrl(), auth: 'entra', tokenProvider: provider.provide }),
    );

    await expect(pool.query('SELECT 1')).rejects.toThrow(/invalid token: token is empty/);
  });
});

describe('I12 bad input: connection settings are rejected with a specific error', () => {
  test('entra auth refuses a connection string that carries a password', () => {
    expect(() =>
      createPool({ connectionString: 'postgres://app:secret@db.example.com/arcore', auth: 'entra' }),
    ).toThrow(DatabaseConfigError);
  });

  test('entra auth needs the role name in the connection string', () => {
    expect(() => createPool({ connectionString: 'postgres://db.example.com/arcore', auth: 'entra' })).toThrow(
      /must name the Postgres role/,
    );
  });

  test('a token provider with password auth is a configuration mistake', () => {
    const provider = new TokenProviderDouble({ token: 't', expiresOnTimestamp: 0 });
    expect(() =>
      createPool({ connectionString: db.url, auth: 'password', tokenProvider: provider.provide }),
    ).toThrow(DatabaseConfigError);
  });
});

describe('password auth and connection failures', () => {
  test('poolFromSettings connects with DATABASE_URL and password auth', async () => {
    const pool = track(poolFromSettings(loadSettings({ DATABASE_URL: db.url })));
    const { rows } = await pool.query<{ db: string }>('SELECT current_database() AS db');
    expect(rows[0].db).toBe(new URL(db.url).pathname.slice(1));
  });

  test('poolFromSettings connects to another source connection string with the same auth', async () => {
    const other = new URL(db.url);
    other.pathname = '/postgres';
    const pool = track(poolFromSettings(loadSettings({ DATABASE_URL: db.url }), other.toString()));
    const { rows } = await pool.query<{ db: string }>('SELECT current_database() AS db');
    expect(rows[0].db).toBe('postgres');
  });

  test('a wrong password fails with host:port and without echoing the password', async () => {
    const wrong = new URL(db.url);
    wrong.password = 'not-the-password-0451';
    const pool = track(createPool({ connectionString: wrong.toString(), auth: 'password' }));

    const error = await pool.query('SELECT 1').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DatabaseUnreachableError);
    expect((error as Error).message).toContain(`${wrong.hostname}:${wrong.port}`);
    expect((error as Error).message).toMatch(/password authentication failed/);
    expect((error as Error).message).not.toContain('not-the-password-0451');
  });

  test('nothing listening on the port fails fast with DatabaseUnreachableError', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const address = server.address() as net.AddressInfo;
        server.close(() => resolve(address.port));
      });
    });
    const pool = track(
      createPool({ connectionString: `postgres://app:pw@127.0.0.1:${port}/arcore`, auth: 'password' }),
    );

    const error = await pool.query('SELECT 1').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DatabaseUnreachableError);
    expect((error as DatabaseUnreachableError).port).toBe(port);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });

  test('sslmode=require really asks the server for TLS (the embedded server has none, so it refuses)', async () => {
    const url = new URL(db.url);
    url.searchParams.set('sslmode', 'require');
    const pool = track(createPool({ connectionString: url.toString(), auth: 'password' }));

    await expect(pool.query('SELECT 1')).rejects.toThrow(/does not support SSL/);
  });
});

describe('TLS for Azure Database for PostgreSQL hosts', () => {
  test('recognises Azure hosts by suffix, case-insensitively', () => {
    expect(isAzurePostgresHost('arcore-pg.postgres.database.azure.com')).toBe(true);
    expect(isAzurePostgresHost('ARCORE.Postgres.Database.Azure.com')).toBe(true);
    expect(isAzurePostgresHost('postgres.database.azure.com.evil.example')).toBe(false);
    expect(isAzurePostgresHost('127.0.0.1')).toBe(false);
  });

  test('an Azure host gets verified TLS even when the URL asks for none', async () => {
    const provider = new TokenProviderDouble({ token: 't', expiresOnTimestamp: 0 });
    const pool = track(
      createPool({
        connectionString: 'postgres://id-api@arcore-pg.postgres.database.azure.com/arcore?sslmode=disable',
        auth: 'entra',
        tokenProvider: provider.provide,
      }),
    );
    expect((pool.options as { ssl?: unknown }).ssl).toEqual({ rejectUnauthorized: true });
    expect(provider.calls).toBe(0); // creating a pool never fetches a token
  });
});

describe('I6 connections that die under the pool', () => {
  /** The server-side process id of a client's session. */
  async function backendPid(client: PoolClient): Promise<number> {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return rows[0].pid;
  }

  async function terminate(pid: number): Promise<void> {
    await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
  }

  test('an idle connection the server closes is reported as a string warning naming the database, not a crash', async () => {
    const pool = track(createPool({ connectionString: db.url, auth: 'password' }));
    const client = await pool.connect();
    const pid = await backendPid(client);
    client.release();
    const warnings = jest.spyOn(process, 'emitWarning');
    try {
      // Listeners run in order: this one is reached only if the pool's own listener returned normally.
      const reported = new Promise<Error>((resolve) => pool.once('error', resolve));
      await terminate(pid);
      expect((await reported).message).toMatch(/terminating connection/);
      const [warning] = warnings.mock.calls.at(-1) ?? [];
      // A string: emitWarning throws on an Error created in another realm (jest's sandbox).
      expect(typeof warning).toBe('string');
      const url = new URL(db.url);
      expect(warning).toContain(`${url.hostname}:${url.port}${url.pathname}`);
    } finally {
      warnings.mockRestore();
    }
    const { rows } = await pool.query<{ ok: number }>('SELECT 1 AS ok');
    expect(rows[0].ok).toBe(1);
  });

  test('a checked-out connection that dies between queries does not crash the process; its next query names the database', async () => {
    const pool = track(createPool({ connectionString: db.url, auth: 'password' }));
    const client = await pool.connect();
    const pid = await backendPid(client);
    // pg emits 'error' on the client itself; pg-pool listens only to idle clients.
    const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
    await terminate(pid);
    await ended;
    const error = await client.query('SELECT 1').catch((e: unknown) => e);
    client.release(error as Error);
    expect(error).toBeInstanceOf(DatabaseConnectionLostError);
    expect(error).toBeInstanceOf(DatabaseUnreachableError);
    const url = new URL(db.url);
    expect((error as Error).message).toContain(
      `Lost the connection to Postgres at ${url.hostname}:${url.port}${url.pathname}`,
    );
  });

  test('a query whose session is terminated rejects with DatabaseConnectionLostError carrying the server error', async () => {
    const pool = track(createPool({ connectionString: db.url, auth: 'password' }));
    const client = await pool.connect();
    const pid = await backendPid(client);
    const sleeping = client.query('SELECT pg_sleep(30)').catch((e: unknown) => e);
    await eventuallyActive(pid);
    await terminate(pid);
    const error = await sleeping;
    client.release(error as Error);
    expect(error).toBeInstanceOf(DatabaseConnectionLostError);
    expect((error as Error).message).toMatch(/terminating connection due to administrator command/);
    expect(((error as Error).cause as { code?: string }).code).toBe('57P01');
  });

  test('pool.query (the callback form inside pg-pool) translates a lost connection too', async () => {
    const pool = track(createPool({ connectionString: db.url, auth: 'password', max: 1 }));
    const sleeping = pool.query('SELECT pg_sleep(30)').catch((e: unknown) => e);
    await terminate(await waitForSleeper());
    expect(await sleeping).toBeInstanceOf(DatabaseConnectionLostError);
    // The pool discarded the dead connection and opens a new one.
    expect((await pool.query<{ ok: number }>('SELECT 1 AS ok')).rows[0].ok).toBe(1);
  });

  test('end() resolves only once every session has left the server', async () => {
    const pool = createPool({ connectionString: db.url, auth: 'password', max: 4 });
    const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    const pids = await Promise.all(clients.map(backendPid));
    clients.forEach((c) => c.release());
    await pool.end();
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])',
      [pids],
    );
    expect(rows[0].n).toBe(0);
  });

  /** Waits until the session `pid` is running a statement (condition, not a timer). */
  async function eventuallyActive(pid: number): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const { rows } = await db.pool.query<{ state: string }>(
        'SELECT state FROM pg_stat_activity WHERE pid = $1',
        [pid],
      );
      if (rows[0]?.state === 'active') return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`session ${pid} never became active`);
  }

  async function waitForSleeper(): Promise<number> {
    for (let i = 0; i < 200; i++) {
      const { rows } = await db.pool.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND datname = current_database()",
      );
      if (rows[0]) return rows[0].pid;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('the sleeping query never showed in pg_stat_activity');
  }
});

import type { Pool } from 'pg';
import { createPool } from '../../../src/core/db/pool';
import { LockLostError, tryLockDefinition, type DefinitionLock } from '../../../src/core/store/locks';
import { freshDatabase, type TestDatabase } from '../../support/db';

let db: TestDatabase;
let other: Pool;

beforeAll(async () => {
  db = await freshDatabase();
  other = createPool({ connectionString: db.url, auth: 'password' });
});

afterAll(async () => {
  await other.end();
  await db.drop();
});

/** The session holding the definition's advisory lock, read from pg_locks. */
async function holderPid(definitionId: string): Promise<number | undefined> {
  const { rows } = await db.pool.query<{ pid: number }>(
    `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND objid = $1::oid
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [definitionId],
  );
  return rows[0]?.pid;
}

function aborted(lock: DefinitionLock): Promise<void> {
  return new Promise((resolve) => {
    if (lock.signal.aborted) resolve();
    else lock.signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

describe('I11 one runner per definition: the advisory lock', () => {
  it('is exclusive across sessions until released', async () => {
    const lock = await tryLockDefinition(db.pool, '41');
    expect(lock).not.toBeNull();
    expect(await tryLockDefinition(other, '41')).toBeNull();
    await lock!.release();
    const again = await tryLockDefinition(other, '41');
    expect(again).not.toBeNull();
    await again!.release();
  });

  it('knows when its connection dies: assertHeld throws LockLostError naming the database, and another run may take it', async () => {
    const lock = (await tryLockDefinition(db.pool, '42'))!;
    expect(() => lock.assertHeld()).not.toThrow();
    expect(lock.lost).toBeNull();

    await db.pool.query('SELECT pg_terminate_backend($1)', [await holderPid('42')]);
    await aborted(lock);

    expect(() => lock.assertHeld()).toThrow(LockLostError);
    const url = new URL(db.url);
    expect(lock.lost?.message).toContain(`Postgres at ${url.hostname}:${url.port}${url.pathname}`);
    expect(lock.lost?.message).toMatch(/stopped before writing anything more/);
    expect(lock.signal.reason).toBe(lock.lost);
    await expect(lock.release()).resolves.toBeUndefined();

    const next = await tryLockDefinition(other, '42');
    expect(next).not.toBeNull();
    await next!.release();
  });

  it('returns a healthy connection to the pool without leaving listeners on it', async () => {
    const pool = createPool({ connectionString: db.url, auth: 'password', max: 1 });
    try {
      for (let i = 0; i < 3; i++) await (await tryLockDefinition(pool, '43'))!.release();
      const client = await pool.connect();
      try {
        // The client's own permanent listener (src/core/db/pool.ts) only: no lock listens any more.
        expect(client.listenerCount('error')).toBe(1);
        expect(client.listenerCount('end')).toBe(0);
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it("runs statements on the lock's own session, and closes a cursor left open there when released", async () => {
    const single = createPool({ connectionString: db.url, auth: 'password', max: 1 });
    try {
      const lock = (await tryLockDefinition(single, '43'))!;
      const pid = (await lock.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      expect(pid).toBe(await holderPid('43'));
      await lock.query('DECLARE left_open NO SCROLL CURSOR WITH HOLD FOR SELECT 1');
      await lock.release();
      // The pool's one connection, back from the lock: no cursor kept its result or its name.
      const { rows } = await single.query<{ pid: number; n: string }>(
        'SELECT pg_backend_pid() AS pid, (SELECT count(*) FROM pg_cursors) AS n',
      );
      expect(rows[0]).toEqual({ pid, n: '0' });
    } finally {
      await single.end();
    }
  });
});

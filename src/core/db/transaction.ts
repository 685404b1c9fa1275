import type { Pool, PoolClient } from 'pg';

/**
 * Runs `fn` in one transaction on a client of `pool`: COMMIT when it returns, ROLLBACK when it throws (the
 * original error is kept, a failed ROLLBACK on a broken connection does not hide it). A check that must hold
 * at commit time (a run's lock, I11) belongs at the end of `fn`, so that failing it rolls the work back.
 */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

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

/**
 * Makes every deferrable constraint (a `DEFERRABLE INITIALLY DEFERRED` foreign key, as Django declares each one)
 * check at the end of each statement for the rest of the transaction, as a non-deferrable one does. Run right
 * after BEGIN by every transaction that writes synced values into the source under per-item savepoints: a value
 * refused only at COMMIT comes after every savepoint, so it failed the whole page (or batch) instead of the one
 * item, and every later run met the same page again (docs/design.md, I12).
 */
export async function checkConstraintsPerStatement(client: PoolClient): Promise<void> {
  await client.query('SET CONSTRAINTS ALL IMMEDIATE');
}

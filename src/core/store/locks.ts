import type { Pool, PoolClient } from 'pg';

/**
 * I11: at most one push or pull of a definition runs at a time, across all instances. A session advisory
 * lock keyed by the definition id, held on a dedicated connection for the run's lifetime; if the process
 * dies, Postgres drops the session and the lock with it.
 */
const LOCK_NAMESPACE = 0x41524353; // 'ARCS'

export interface DefinitionLock {
  release(): Promise<void>;
}

export async function tryLockDefinition(pool: Pool, definitionId: string): Promise<DefinitionLock | null> {
  const client: PoolClient = await pool.connect();
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2::int) AS ok', [
      LOCK_NAMESPACE,
      Number(definitionId),
    ]);
    if (!rows[0].ok) {
      client.release();
      return null;
    }
  } catch (err) {
    client.release();
    throw err;
  }
  return {
    async release() {
      try {
        await client.query('SELECT pg_advisory_unlock($1, $2::int)', [LOCK_NAMESPACE, Number(definitionId)]);
        client.release();
      } catch (err) {
        client.release(err as Error);
      }
    },
  };
}

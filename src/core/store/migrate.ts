import type { Pool } from 'pg';
import { migrations as allMigrations, type Migration } from './migrations';

/** Key of the session advisory lock that serialises migration runs across instances. */
const MIGRATION_LOCK_KEY = 0x4152_4d49; // 'ARMI'

export interface MigrationResult {
  applied: number[];
  alreadyApplied: number[];
}

/**
 * Creates and upgrades schema `arcore`. Two instances starting at once queue on a blocking advisory
 * lock: the second waits, then finds every migration applied. Each migration and its bookkeeping
 * row commit in one transaction, so a crash leaves a migration either wholly applied or not at all.
 */
export async function migrate(pool: Pool, migrations: Migration[] = allMigrations): Promise<MigrationResult> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query('CREATE SCHEMA IF NOT EXISTS arcore');
      await client.query(`CREATE TABLE IF NOT EXISTS arcore.schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ version: number }>(
        'SELECT version FROM arcore.schema_migrations',
      );
      const done = new Set(rows.map((r) => r.version));
      const result: MigrationResult = { applied: [], alreadyApplied: [] };
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) {
          result.alreadyApplied.push(m.version);
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO arcore.schema_migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(`Migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, {
            cause: err,
          });
        }
        result.applied.push(m.version);
      }
      return result;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

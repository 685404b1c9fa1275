import type { Pool, PoolClient } from 'pg';

/** Per metadata pool: the id never changes once migration 009 wrote it, so a run does not ask again. */
const known = new WeakMap<Pool | PoolClient, string>();

/** The random id of this metadata database (migration 009), which names its cluster-wide replication objects. */
export async function readInstallationId(db: Pool | PoolClient): Promise<string> {
  const cached = known.get(db);
  if (cached) return cached;
  const { rows } = await db.query<{ id: string }>('SELECT id FROM arcore.installation');
  if (!rows[0]) throw new Error('arcore.installation is empty: the metadata database was not migrated');
  known.set(db, rows[0].id);
  return rows[0].id;
}

import type { Pool, PoolClient } from 'pg';

/** The random id of this metadata database (migration 009), which names its cluster-wide replication objects. */
export async function readInstallationId(db: Pool | PoolClient): Promise<string> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM arcore.installation');
  if (!rows[0]) throw new Error('arcore.installation is empty: the metadata database was not migrated');
  return rows[0].id;
}

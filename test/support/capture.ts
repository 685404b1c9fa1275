import type { Pool } from 'pg';

/**
 * Replication slots and origins are cluster-wide and outlive a test database (a database with a slot cannot
 * even be dropped): every test that captures changes calls this in afterAll, before dropping its database.
 */
export async function dropCaptureObjects(pool: Pool): Promise<void> {
  await pool.query(
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
      WHERE database = current_database() AND NOT active`,
  );
  const installed = await pool
    .query<{ id: string }>(
      `SELECT id FROM arcore.installation WHERE to_regclass('arcore.installation') IS NOT NULL`,
    )
    .catch(() => ({ rows: [] as { id: string }[] }));
  const id = installed.rows[0]?.id;
  if (id)
    await pool.query(
      'SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname LIKE $1',
      [`arcore_${id.slice(0, 12)}_%`],
    );
}

import type { Pool } from 'pg';
import type { SyncDefinitionInput } from '../../src/core/definition/schema';
import type { RunSummary } from '../../src/core/engine/types';
import { SITE, type Harness } from './engineHarness';

/** An LSN definition of table `name` (id key; name → Title, budget → Budget) syncing to the list `name`. */
export function lsnDefinition(
  name: string,
  overrides: Partial<SyncDefinitionInput> = {},
): SyncDefinitionInput {
  return {
    name,
    source: { table: name, key: ['id'], cursor: { type: 'LSN' }, pageSize: 50 },
    target: { site: SITE, list: name },
    fields: [
      { source: 'name', target: 'Title' },
      { source: 'budget', target: 'Budget' },
    ],
    ...overrides,
  };
}

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

/** Closes harness `h` after dropping the capture objects its LSN definitions made (dropCaptureObjects). */
export async function closeCapturing(h: Harness): Promise<void> {
  await dropCaptureObjects(h.db.pool);
  await h.close();
}

/** Why an LSN push read its table again in full (its run's `captureRestarted` detail), or null. */
export async function restartedBecause(h: Harness, run: RunSummary): Promise<string | null> {
  const { rows } = await h.db.pool.query<{ details: { captureRestarted?: string } }>(
    'SELECT details FROM arcore.sync_runs WHERE id = $1',
    [run.runId],
  );
  return rows[0].details.captureRestarted ?? null;
}

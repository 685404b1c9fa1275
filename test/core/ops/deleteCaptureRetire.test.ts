import { runPush } from '../../../src/core/engine/push';
import { installCursor, removeDefinition } from '../../../src/core/ops';
import { describeRetirement } from '../../../src/core/ops/deleteCapture';
import { closeCapturing } from '../../support/capture';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/**
 * The delete capture `install-cursor` adds (triggers and a tombstone table) is read only by TIMESTAMP
 * definitions: an LSN run that finds it on its table, and `remove`, drop it unless another TIMESTAMP
 * definition reads the table; then it stays, and that definition's pushes keep the tombstones from piling up.
 */
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => closeCapturing(h));

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });

async function deleteCaptureOn(table: string): Promise<{ trigger: boolean; tombstones: boolean }> {
  const { rows } = await h.db.pool.query<{ trigger: boolean; tombstones: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname LIKE 'arcore_capture_%')
              AS trigger,
            to_regclass($2) IS NOT NULL AS tombstones`,
    [table, `arcore_${table}_deleted`],
  );
  return rows[0];
}

async function tombstoneCount(table: string): Promise<number> {
  const { rows } = await h.db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM arcore_${table}_deleted`,
  );
  return rows[0].n;
}

async function detailsOf(runId: string | null): Promise<Record<string, unknown>> {
  const { rows } = await h.db.pool.query<{ details: Record<string, unknown> }>(
    'SELECT details FROM arcore.sync_runs WHERE id = $1',
    [runId],
  );
  return rows[0].details;
}

const lsn = { type: 'LSN' as const };

describe('delete capture left by TIMESTAMP days', () => {
  it('a definition switched to LSN drops it on its first run; deletes still reach SharePoint', async () => {
    await createProjectsTable(h.db, 'solo');
    await h.db.pool.query(`INSERT INTO solo (id, name) SELECT g, 's' || g FROM generate_series(1, 5) g`);
    const timestampDef = projectsDefinition(
      {
        name: 'solo',
        source: { table: 'solo', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      },
      'Solo',
    );
    await h.define(timestampDef);
    await installCursor(h.db.pool, () => h.db.pool, 'solo');
    expect(await deleteCaptureOn('solo')).toEqual({ trigger: true, tombstones: true });
    expect(await push('solo')).toMatchObject({ status: 'SUCCEEDED', created: 5 });

    await h.define({ ...timestampDef, source: { table: 'solo', key: ['id'], cursor: lsn } });
    const switched = await push('solo');
    expect(switched).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 0 });
    expect(await detailsOf(switched.runId)).toMatchObject({ deleteCapture: 'dropped' });
    expect(await deleteCaptureOn('solo')).toEqual({ trigger: false, tombstones: false });

    await h.db.pool.query('DELETE FROM solo WHERE id <= 2');
    expect(await push('solo')).toMatchObject({ status: 'SUCCEEDED', deleted: 2 });
    expect(await h.items('Solo')).toHaveLength(3);
  }, 30000);

  it('kept while a TIMESTAMP definition reads the same table, whose pushes keep the tombstones from growing; remove drops it with the last one', async () => {
    await createProjectsTable(h.db, 'shared');
    await h.db.pool.query(`INSERT INTO shared (id, name) SELECT g, 'x' || g FROM generate_series(1, 6) g`);
    const source = { table: 'shared', key: ['id'] };
    await h.define(
      projectsDefinition(
        { name: 'shared_ts', source: { ...source, cursor: { type: 'TIMESTAMP', column: 'updated_at' } } },
        'SharedTs',
      ),
    );
    await h.define(
      projectsDefinition({ name: 'shared_lsn', source: { ...source, cursor: lsn } }, 'SharedLsn'),
    );
    await installCursor(h.db.pool, () => h.db.pool, 'shared_ts');
    expect(await push('shared_ts')).toMatchObject({ status: 'SUCCEEDED', created: 6 });
    const first = await push('shared_lsn');
    expect(first).toMatchObject({ status: 'SUCCEEDED', created: 6 });
    expect(await detailsOf(first.runId)).toMatchObject({ deleteCapture: 'kept' });
    expect(await deleteCaptureOn('shared')).toEqual({ trigger: true, tombstones: true });

    await h.db.pool.query('DELETE FROM shared WHERE id <= 3');
    expect(await tombstoneCount('shared')).toBeGreaterThan(0);
    expect(await push('shared_lsn')).toMatchObject({ status: 'SUCCEEDED', deleted: 3 });
    expect(await push('shared_ts')).toMatchObject({ status: 'SUCCEEDED', deleted: 3 });
    expect(await tombstoneCount('shared')).toBe(0);
    expect(await h.items('SharedTs')).toHaveLength(3);
    expect(await h.items('SharedLsn')).toHaveLength(3);

    // Removing the LSN definition leaves it: the TIMESTAMP one still reads the table.
    const lsnGone = await removeDefinition(h.ctx, 'shared_lsn');
    expect(lsnGone.deleteCapture).toMatchObject({ status: 'kept', keptFor: ['shared_ts'] });
    expect(describeRetirement(lsnGone.deleteCapture)).toBe(
      'delete capture on public.shared kept: shared_ts (TIMESTAMP) reads the table',
    );
    expect(await deleteCaptureOn('shared')).toEqual({ trigger: true, tombstones: true });

    // The last reader goes: the triggers and the tombstone table go with it.
    const tsGone = await removeDefinition(h.ctx, 'shared_ts');
    expect(tsGone.deleteCapture).toMatchObject({ status: 'dropped', keptFor: [] });
    expect(describeRetirement(tsGone.deleteCapture)).toBe(
      'delete capture on public.shared dropped (its triggers and the tombstone table arcore_shared_deleted)',
    );
    expect(await deleteCaptureOn('shared')).toEqual({ trigger: false, tombstones: false });
    await h.db.pool.query('DELETE FROM shared WHERE id = 4'); // deletes work without it
    expect((await h.db.pool.query('SELECT count(*)::int AS n FROM shared')).rows[0].n).toBe(2);
  }, 30000);

  it('remove of a definition whose table has no delete capture says there was none', async () => {
    await createProjectsTable(h.db, 'bare');
    await h.define(
      projectsDefinition(
        {
          name: 'bare',
          source: { table: 'bare', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
        },
        'Bare',
      ),
    );
    const removed = await removeDefinition(h.ctx, 'bare');
    expect(removed.deleteCapture).toMatchObject({ status: 'absent' });
  });
});

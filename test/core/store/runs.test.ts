import { parseDefinition } from '../../../src/core/definition/parse';
import { definitionStatus, listRuns } from '../../../src/core/ops';
import { getDefinition, upsertDefinitions } from '../../../src/core/store/definitions';
import { tryLockDefinition } from '../../../src/core/store/locks';
import { migrate } from '../../../src/core/store/migrate';
import {
  ABANDONED_ERROR,
  markAbandonedRuns,
  reapAbandonedRuns,
  startRun,
} from '../../../src/core/store/runs';
import { freshDatabase, type TestDatabase } from '../../support/db';
import { projectsDefinition } from '../../support/engineHarness';

let db: TestDatabase;
let definitionId: string;

beforeAll(async () => {
  db = await freshDatabase();
  await migrate(db.pool);
  await upsertDefinitions(db.pool, [parseDefinition(projectsDefinition())]);
  definitionId = (await getDefinition(db.pool, 'projects')).id;
});

afterAll(async () => db.drop());

beforeEach(async () => {
  await db.pool.query('DELETE FROM arcore.sync_runs');
});

async function statusOf(runId: string): Promise<{ status: string; error: string | null; finished: boolean }> {
  const { rows } = await db.pool.query<{ status: string; error: string | null; finished: boolean }>(
    'SELECT status, error, finished_at IS NOT NULL AS finished FROM arcore.sync_runs WHERE id = $1',
    [runId],
  );
  return rows[0];
}

describe('I6 a run whose process died is ABANDONED, not RUNNING forever', () => {
  it('migration 002 allows the ABANDONED status', async () => {
    const runId = await startRun(db.pool, definitionId, 'PUSH', 'test');
    await db.pool.query(`UPDATE arcore.sync_runs SET status = 'ABANDONED' WHERE id = $1`, [runId]);
    await expect(
      db.pool.query(`UPDATE arcore.sync_runs SET status = 'LOST' WHERE id = $1`, [runId]),
    ).rejects.toThrow(/sync_runs_status_check/);
  });

  it('status marks a RUNNING run whose definition lock nobody holds as ABANDONED', async () => {
    // What a SIGKILLed run leaves behind: its row RUNNING, its session (and lock) gone.
    const runId = await startRun(db.pool, definitionId, 'PUSH', 'cli');

    const [status] = await definitionStatus(db.pool, 'projects');

    expect(status.lastPush).toMatchObject({ runId, status: 'ABANDONED', error: ABANDONED_ERROR });
    expect(status.lastPush?.finishedAt).not.toBeNull();
    expect(await statusOf(runId)).toEqual({ status: 'ABANDONED', error: ABANDONED_ERROR, finished: true });
  });

  it('status leaves alone a RUNNING run whose lock another session holds (a live run elsewhere)', async () => {
    const lock = (await tryLockDefinition(db.pool, definitionId))!;
    try {
      const runId = await startRun(db.pool, definitionId, 'PULL', 'queue');

      const [status] = await definitionStatus(db.pool, 'projects');
      expect(status.lastPull).toMatchObject({ runId, status: 'RUNNING', finishedAt: null });
      expect(await reapAbandonedRuns(db.pool)).toEqual([]);
      expect((await listRuns(db.pool, 'projects'))[0]).toMatchObject({ runId, status: 'RUNNING' });
    } finally {
      await lock.release();
    }
  });

  it('the run history (`runs`) shows a dead run as ABANDONED too', async () => {
    const runId = await startRun(db.pool, definitionId, 'PUSH', 'timer');
    expect((await listRuns(db.pool, 'projects'))[0]).toMatchObject({ runId, status: 'ABANDONED' });
  });

  it('a holder of the lock marks every RUNNING run of its definition, and only of its definition', async () => {
    await upsertDefinitions(db.pool, [parseDefinition(projectsDefinition({ name: 'others' }, 'Others'))]);
    const othersId = (await getDefinition(db.pool, 'others')).id;
    const dead = await startRun(db.pool, definitionId, 'PUSH', 'cli');
    const unrelated = await startRun(db.pool, othersId, 'PUSH', 'cli');
    const lock = (await tryLockDefinition(db.pool, definitionId))!;
    try {
      expect(await markAbandonedRuns(db.pool, definitionId)).toEqual([dead]);
    } finally {
      await lock.release();
    }
    expect((await statusOf(dead)).status).toBe('ABANDONED');
    expect((await statusOf(unrelated)).status).toBe('RUNNING');
  });
});

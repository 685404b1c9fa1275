/**
 * Review r10: runs of two definitions on one list (I15 "one list, one definition", I11 "one runner per
 * definition"). `apply` refuses two definitions naming one list (validateLive.ts sharedListNames), but only by name:
 * one naming the list by its title and one by its GUID (or the site by another spelling) pass, and "a run also
 * compares resolved list ids". That run guard (runner.ts openScope, otherDefinitionsOfList) looks for the other
 * definition's ledger rows; two definitions whose first runs overlap each find none, since neither has recorded a
 * create yet, and both write the one list. The SHARE lock on the ledger only widens that window deterministically (a
 * busy metadata database does the same): it blocks the runs' first ledger write, never their check, which reads.
 */
import type { PoolClient } from 'pg';
import { parseDefinition } from '../../../src/core/definition/parse';
import { validateAgainstDatabase } from '../../../src/core/definition/validateLive';
import { runPush } from '../../../src/core/engine/push';
import type { RunSummary } from '../../../src/core/engine/types';
import { eventually } from '../../support/eventually';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

describe('r10 two definitions on one list', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    for (const n of ['a', 'b']) {
      await createProjectsTable(h.db, `projects_${n}`);
      await h.db.pool.query(
        `INSERT INTO projects_${n} (id, name) SELECT g, '${n}' || g FROM generate_series(1, 5) g`,
      );
    }
    // A names the list by its title; B, written later, by its GUID (as copied from the list's settings page).
    const a = projectsDefinition({ name: 'projects-a', source: timestampSource('projects_a') }, 'Shared');
    await h.define(a);
    const list = await h.asUser('GET', `/sites/${h.siteId}/lists/Shared`);
    const b = projectsDefinition(
      { name: 'projects-b', source: timestampSource('projects_b') },
      (list.body as { id: string }).id,
    );
    // apply's check of two definitions writing one list lets B through.
    const live = await validateAgainstDatabase(parseDefinition(b), h.db.pool, [parseDefinition(a)]);
    expect(live.errors.filter((e) => /already the target/.test(e.message))).toEqual([]);
    await h.define(b);
  }, 60_000);
  afterAll(async () => h.close());

  it('first runs that overlap both write the list: one must be refused (ListAlreadySyncedError)', async () => {
    const blocker: PoolClient = await h.db.pool.connect();
    let summaries: RunSummary[];
    try {
      // Reads pass, the first ledger write of each run (its PENDING_CREATE record, before any create leaves) waits.
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE arcore.sync_ledger IN SHARE MODE');
      const runs = Promise.all([
        runPush(h.ctx, 'projects-a', { trigger: 'test' }),
        runPush(h.ctx, 'projects-b', { trigger: 'test' }),
      ]);
      // Both runs are past their guard and wait to record their creates.
      await eventually('both runs waiting on the ledger', async () => {
        const { rows } = await h.db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks
            WHERE relation = 'arcore.sync_ledger'::regclass AND NOT granted`,
        );
        return rows[0].n >= 2;
      });
      await blocker.query('COMMIT');
      summaries = await runs;
    } finally {
      blocker.release();
    }
    // Expected: one definition syncs the list, the other is refused and writes nothing. Found: the list holds the
    // items of both tables (10), and from now on both definitions are refused, each naming the other.
    const tables = new Set((await h.items('Shared')).map((i) => String(i.fields.Title)[0]));
    expect([...tables].sort()).toHaveLength(1);
    expect(summaries.map((s) => s.status).sort()).toEqual(['FAILED', 'SUCCEEDED']);
  }, 60_000);
});

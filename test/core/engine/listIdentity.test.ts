/**
 * I15 "one list, one definition" (found by review r10). `apply` refuses two definitions naming one list
 * (validateLive.ts sharedListNames), but only by name: one naming the list by its title and one by its GUID (or the
 * site by another spelling) pass, and the run compares resolved list ids (listIdentity.ts claimLists). Two
 * definitions whose first runs overlap have no ledger rows yet, so the claim must see the other's binding, and check
 * and bind atomically. The SHARE lock on the ledger widens that window deterministically (a busy metadata database
 * does the same): it blocks the runs' first ledger write, never their check or binding.
 */
import type { PoolClient } from 'pg';
import { parseDefinition } from '../../../src/core/definition/parse';
import { validateAgainstDatabase } from '../../../src/core/definition/validateLive';
import { runPush } from '../../../src/core/engine/push';
import { relinkDefinition } from '../../../src/core/engine/relink';
import { ListAlreadySyncedError } from '../../../src/core/store/definitions';
import type { RunSummary } from '../../../src/core/engine/types';
import { eventually } from '../../support/eventually';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

describe('I15: two definitions on one list', () => {
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
      let ended = 0;
      const runs = Promise.all(
        ['projects-a', 'projects-b'].map((name) =>
          runPush(h.ctx, name, { trigger: 'test' }).finally(() => ended++),
        ),
      );
      // Each run is refused or past its guard, waiting to record its creates.
      await eventually('both runs refused or waiting on the ledger', async () => {
        const { rows } = await h.db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks
            WHERE relation = 'arcore.sync_ledger'::regclass AND NOT granted`,
        );
        return rows[0].n + ended >= 2;
      });
      await blocker.query('COMMIT');
      summaries = await runs;
    } finally {
      blocker.release();
    }
    // One definition syncs the list, the other is refused, names both and writes nothing (before the fix: the list
    // held the items of both tables, and from then on both definitions were refused, each naming the other).
    const tables = new Set((await h.items('Shared')).map((i) => String(i.fields.Title)[0]));
    expect([...tables]).toHaveLength(1);
    expect(summaries.map((s) => s.status).sort()).toEqual(['FAILED', 'SUCCEEDED']);
    const [winner, loser] =
      summaries[0].status === 'SUCCEEDED' ? ['projects-a', 'projects-b'] : ['projects-b', 'projects-a'];
    expect([...tables][0]).toBe(winner.slice(-1));
    const refused = summaries.find((s) => s.status === 'FAILED');
    expect(refused?.error).toContain(`Definition "${loser}"`);
    expect(refused?.error).toContain(`already synced by definition "${winner}"`);
    // The winner keeps the list on its next runs; the loser stays refused.
    expect(await runPush(h.ctx, winner, { trigger: 'test' })).toMatchObject({ status: 'SUCCEEDED' });
    expect(await runPush(h.ctx, loser, { trigger: 'test' })).toMatchObject({ status: 'FAILED' });
  }, 60_000);
});

describe('I15: relink onto a list another definition syncs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    for (const n of ['c', 'd']) {
      await createProjectsTable(h.db, `projects_${n}`);
      await h.db.pool.query(
        `INSERT INTO projects_${n} (id, name) SELECT g, '${n}' || g FROM generate_series(1, 3) g`,
      );
      await h.define(
        projectsDefinition({ name: `projects-${n}`, source: timestampSource(`projects_${n}`) }, `List${n}`),
      );
      expect(await runPush(h.ctx, `projects-${n}`, { trigger: 'test' })).toMatchObject({ created: 3 });
    }
  }, 60_000);
  afterAll(async () => h.close());

  it('is refused before anything changes: the other definition keeps its list and its items', async () => {
    const listD = (await h.asUser('GET', `/sites/${h.siteId}/lists/Listd`)).body as { id: string };
    const before = await h.db.pool.query(
      `SELECT sp_list_id, sp_item_id FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
        WHERE d.name = 'projects-c' ORDER BY 2`,
    );
    // C pointed at D's list by its GUID (apply cannot tell it from D's title), then relinked there, as after a list
    // was replaced. Its rows have the same keys as D's (ids 1–3): relinked, C would adopt D's items as its own.
    await h.define(
      projectsDefinition({ name: 'projects-c', source: timestampSource('projects_c') }, listD.id),
    );
    await expect(relinkDefinition(h.ctx, 'projects-c')).rejects.toThrow(ListAlreadySyncedError);
    await expect(relinkDefinition(h.ctx, 'projects-c')).rejects.toThrow(
      /list "[^"]+" \(id [^)]+\) is already synced by definition "projects-d"/,
    );
    const after = await h.db.pool.query(
      `SELECT sp_list_id, sp_item_id FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
        WHERE d.name = 'projects-c' ORDER BY 2`,
    );
    expect(after.rows).toEqual(before.rows);
    // Before the fix the relink bound C to D's list (3 adopted), and from then on D's runs were refused, naming C.
    await h.db.pool.query(`UPDATE projects_d SET name = 'd-edited' WHERE id = 1`);
    expect(await runPush(h.ctx, 'projects-d', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      updated: 1,
    });
    expect((await h.items('Listd')).map((i) => i.fields.Title).sort()).toEqual(['d-edited', 'd2', 'd3']);
  }, 60_000);
});

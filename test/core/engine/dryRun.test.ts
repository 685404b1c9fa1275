import { previewPull, previewPush, type DryRunSummary } from '../../../src/core/engine/dryRun';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import type { RunSummary } from '../../../src/core/engine/types';
import { tryLockDefinition } from '../../../src/core/store/locks';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);
const COUNTS = ['processed', 'created', 'updated', 'deleted', 'skipped', 'conflicts', 'failed'] as const;

const countsOf = (s: RunSummary) => Object.fromEntries(COUNTS.map((k) => [k, s[k]]));

describe('--dry-run', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
  });
  afterEach(async () => h.close());

  const itemOfRow = async (id: number) => {
    const { rows } = await h.db.pool.query<{ sp_item_id: string }>(
      "SELECT sp_item_id FROM arcore.sync_ledger WHERE source_identity->>'id' = $1",
      [String(id)],
    );
    return rows[0].sp_item_id;
  };
  /** Everything a run may write: rows, ledger, cursors, runs, failures, conflicts, and the list's items. */
  const snapshot = async () => {
    const q = async (sql: string) => (await h.db.pool.query(sql)).rows;
    return {
      rows: await q('SELECT * FROM projects ORDER BY id'),
      ledger: await q('SELECT * FROM arcore.sync_ledger ORDER BY source_identity_hash'),
      cursors: await q('SELECT * FROM arcore.sync_cursors ORDER BY scope'),
      runs: await q('SELECT * FROM arcore.sync_runs ORDER BY id'),
      failures: await q('SELECT * FROM arcore.sync_failures ORDER BY id'),
      conflicts: await q('SELECT * FROM arcore.sync_conflicts ORDER BY id'),
      items: await h.items('Projects'),
    };
  };

  /** Synced rows 1–6, then changes pending on both sides. */
  async function pendingBothWays(): Promise<void> {
    await h.define(projectsDefinition());
    await h.db.pool.query(
      "INSERT INTO projects (id, name, budget) SELECT i, 'p' || i, i FROM generate_series(1, 6) i",
    );
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    await runPull(h.ctx, 'projects', { trigger: 'test' });
    await h.db.pool.query("UPDATE projects SET name = 'p1 edited', budget = 100 WHERE id = 1");
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (7, 'p7')");
    await h.db.pool.query('DELETE FROM projects WHERE id = 2');
    const list = `/sites/${h.siteId}/lists/Projects/items`;
    expect(
      (await h.asUser('PATCH', `${list}/${await itemOfRow(3)}/fields`, { Title: 'p3 in SP' })).status,
    ).toBe(200);
    expect((await h.asUser('DELETE', `${list}/${await itemOfRow(4)}`)).status).toBe(204);
    // A new item whose row cannot be inserted (the key is not mapped from SharePoint): parked by the pull.
    expect((await h.asUser('POST', list, { fields: { Title: 'stray' } })).status).toBe(201);
  }

  async function expectNothingWritten(run: () => Promise<DryRunSummary>): Promise<DryRunSummary> {
    const before = await snapshot();
    h.emulator.control.clearRequestLog();
    const summary = await run();
    expect(h.emulator.control.requestLog().filter((e) => WRITE_METHODS.has(e.method))).toEqual([]);
    expect(await snapshot()).toEqual(before);
    return summary;
  }

  it('push --dry-run writes nothing and reports the counts and changes the real push then makes', async () => {
    await pendingBothWays();
    const dry = await expectNothingWritten(() => previewPush(h.ctx, 'projects', { trigger: 'test' }));
    expect(dry).toMatchObject({
      dryRun: true,
      runId: null,
      status: 'SUCCEEDED',
      created: 1,
      updated: 1,
      deleted: 1,
    });
    expect(dry.planned).toBe(3);
    expect(dry.sample).toEqual(
      expect.arrayContaining([
        {
          kind: 'update',
          side: 'sharepoint',
          key: { id: 1 },
          itemId: await itemOfRow(1),
          fields: ['Title', 'Budget'],
        },
        {
          kind: 'create',
          side: 'sharepoint',
          key: { id: 7 },
          itemId: null,
          fields: expect.arrayContaining(['Title']),
        },
        { kind: 'delete', side: 'sharepoint', key: { id: 2 }, itemId: await itemOfRow(2), fields: [] },
      ]),
    );
    const real = await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(real.status).toBe('SUCCEEDED');
    expect(countsOf(real)).toEqual(countsOf(dry));
  });

  it('pull --dry-run writes nothing (its page is rolled back) and reports what the real pull then does', async () => {
    await pendingBothWays();
    const dry = await expectNothingWritten(() => previewPull(h.ctx, 'projects', { trigger: 'test' }));
    expect(dry).toMatchObject({
      dryRun: true,
      runId: null,
      status: 'PARTIAL',
      updated: 1,
      deleted: 1,
      failed: 1,
    });
    expect(dry.sample).toEqual(
      expect.arrayContaining([
        { kind: 'update', side: 'postgres', key: { id: 3 }, itemId: null, fields: ['name'] },
        { kind: 'delete', side: 'postgres', key: { id: 4 }, itemId: null, fields: [] },
      ]),
    );
    const real = await runPull(h.ctx, 'projects', { trigger: 'test' });
    expect(countsOf(real)).toEqual(countsOf(dry));
    expect(real.status).toBe('PARTIAL');
  });

  it('a first pull (full enumeration) previews the same as it runs, unseen items included', async () => {
    await h.define(projectsDefinition());
    await h.db.pool.query("INSERT INTO projects (id, name) SELECT i, 'p' || i FROM generate_series(1, 5) i");
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(
      (await h.asUser('DELETE', `/sites/${h.siteId}/lists/Projects/items/${await itemOfRow(5)}`)).status,
    ).toBe(204);
    const dry = await expectNothingWritten(() => previewPull(h.ctx, 'projects', { trigger: 'test' }));
    expect(dry.deleted).toBe(1);
    const real = await runPull(h.ctx, 'projects', { trigger: 'test' });
    expect(countsOf(real)).toEqual(countsOf(dry));
  });

  it('does not wait for or block on the lock a real run holds', async () => {
    await h.define(projectsDefinition());
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a')");
    const { rows } = await h.db.pool.query<{ id: string }>(
      'SELECT id::text AS id FROM arcore.sync_definitions',
    );
    const lock = await tryLockDefinition(h.db.pool, rows[0].id);
    try {
      expect(await previewPush(h.ctx, 'projects', { trigger: 'test' })).toMatchObject({
        status: 'SUCCEEDED',
        created: 1,
      });
      expect(await runPush(h.ctx, 'projects', { trigger: 'test' })).toMatchObject({ status: 'SKIPPED' });
    } finally {
      await lock?.release();
    }
  });
});

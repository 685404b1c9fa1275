import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import {
  BackfillDirectionError,
  BackfillInProgressError,
  runBackfill,
  UnknownBackfillFieldError,
  type BackfillOptions,
} from '../../../src/core/engine/backfill';
import { runPull } from '../../../src/core/engine/pull';
import { installCursor } from '../../../src/core/ops/installCursor';
import { runPush } from '../../../src/core/engine/push';
import { KEEP_CURSOR_SETTING } from '../../../src/core/source/postgres/PostgresSource';
import { killWhen, lockReleased, spawnEngineChild } from '../../support/engineChild';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

/** Issue #22 item 3: a column-scoped backfill. One harness; each test has its own table, list and definition. */
describe('backfill: re-sync chosen fields of every ledger row', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  /** A table `name` with `rows` rows, pushed to list `name` (and pulled once, so the delta link exists). */
  async function synced(name: string, rows: number, overrides: Partial<SyncDefinitionInput> = {}) {
    await createProjectsTable(h.db, name);
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name, budget) SELECT g, 'p' || g, g FROM generate_series(1, ${rows}) g`,
    );
    await h.define(
      projectsDefinition(
        {
          name,
          source: timestampSource(name, 40),
          ...overrides,
        },
        name,
      ),
    );
    const push = await runPush(h.ctx, name, { trigger: 'test' });
    expect(push.created).toBe(rows);
    await runPull(h.ctx, name, { trigger: 'test' });
  }

  /** Changes rows as a bulk fix would: without moving their cursor column (so no push ever sees them). */
  async function quietly(sql: string): Promise<void> {
    const client = await h.db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT set_config($1, $2, true)', [KEEP_CURSOR_SETTING, 'on']);
      await client.query(sql);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }

  const snapshot = async (table: string) => ({
    cursors: (
      await h.db.pool.query(
        `SELECT c.scope, c.value, c.progress, c.updated_at FROM arcore.sync_cursors c
           JOIN arcore.sync_definitions d ON d.id = c.definition_id WHERE d.name = $1 ORDER BY c.scope`,
        [table],
      )
    ).rows,
    updatedAt: (await h.db.pool.query(`SELECT id, updated_at FROM ${table} ORDER BY id`)).rows,
  });

  /** Item writes Graph applied (batched or not), by item id. */
  const appliedPatches = () =>
    h.emulator.control
      .requestLog()
      .filter((r) => r.method === 'PATCH' && r.status === 200 && r.identity === 'app')
      .map((r) => /items\/([^/]+)\/fields$/.exec(r.path)?.[1] ?? '?');

  const backfill = (name: string, opts: Partial<BackfillOptions> = {}) =>
    runBackfill(h.ctx, name, { fields: ['budget'], trigger: 'test', ...opts });

  it('update_only over 300 rows writes only the items whose field differs, and moves no cursor or updated_at', async () => {
    await synced('bf_many', 300);
    await quietly('UPDATE bf_many SET budget = budget + 1000 WHERE id % 3 = 0');
    const before = await snapshot('bf_many');
    h.emulator.control.clearRequestLog();

    const progress: number[] = [];
    h.ctx.onProgress = (e) => {
      if (e.runType === 'BACKFILL') progress.push(e.done);
    };
    const summary = await backfill('bf_many');
    h.ctx.onProgress = undefined;

    expect(summary).toMatchObject({
      status: 'SUCCEEDED',
      complete: true,
      examined: 300,
      updated: 100,
      equal: 200,
      conflicts: 0,
      failed: 0,
      total: 300,
      fields: ['Budget'],
    });
    expect(progress.at(-1)).toBe(300);
    const patched = appliedPatches();
    expect(patched).toHaveLength(100);
    expect(new Set(patched).size).toBe(100);
    // 2 resource units per write and nothing for equal items: update_only reads no item (the batch writer may
    // read one back to settle an answer it could not use).
    expect(summary.resourceUnits).toBeGreaterThanOrEqual(200);
    expect(summary.resourceUnits).toBeLessThanOrEqual(203);
    const items = await h.items('bf_many');
    const wrong = items.filter((i) => {
      const id = Number(String(i.fields.Title).slice(1));
      return i.fields.Budget !== (id % 3 === 0 ? id + 1000 : id);
    });
    expect(wrong).toEqual([]);
    expect(await snapshot('bf_many')).toEqual(before);

    // No loop: the next push and pull see nothing to do; a second backfill finds everything equal.
    const push = await runPush(h.ctx, 'bf_many', { trigger: 'test' });
    expect(push.created + push.updated).toBe(0);
    const pull = await runPull(h.ctx, 'bf_many', { trigger: 'test' });
    expect(pull.updated + pull.created + pull.conflicts).toBe(0);
    h.emulator.control.clearRequestLog();
    const again = await backfill('bf_many');
    expect(again).toMatchObject({ examined: 300, updated: 0, equal: 300, resumed: false });
    expect(appliedPatches()).toHaveLength(0);

    const runs = await h.db.pool.query(
      `SELECT run_type, processed, updated FROM arcore.sync_runs r JOIN arcore.sync_definitions d
         ON d.id = r.definition_id WHERE d.name = 'bf_many' AND run_type = 'BACKFILL' ORDER BY r.id`,
    );
    expect(runs.rows).toEqual([
      { run_type: 'BACKFILL', processed: 300, updated: 100 },
      { run_type: 'BACKFILL', processed: 300, updated: 0 },
    ]);
  }, 60_000);

  it('a backfill killed mid-way (SIGKILL) resumes where it stopped, writing each item once', async () => {
    await synced('bf_crash', 160);
    await quietly('UPDATE bf_crash SET budget = budget + 5000');
    const before = await snapshot('bf_crash');
    h.emulator.control.clearRequestLog();
    h.emulator.control.setLatency(20);
    // Killed once a batch is committed and more writes are on their way.
    const killed = await killWhen(
      spawnEngineChild(h, ['backfill', 'bf_crash', 'budget']),
      async () =>
        (
          await h.db.pool.query(
            "SELECT 1 FROM arcore.sync_backfills WHERE position <> '' AND status = 'RUNNING'",
          )
        ).rowCount === 1 && appliedPatches().length > 40,
      'the backfill to commit a batch',
    );
    expect(killed).toBe(true);
    h.emulator.control.setLatency(0);
    const partial = new Set(appliedPatches());
    expect(partial.size).toBeLessThan(160);
    const stored = await h.db.pool.query(
      `SELECT status FROM arcore.sync_backfills b JOIN arcore.sync_definitions d ON d.id = b.definition_id
        WHERE d.name = 'bf_crash'`,
    );
    expect(stored.rows[0].status).toBe('RUNNING');

    await lockReleased(h, 'bf_crash');
    const rerun = await backfill('bf_crash');
    expect(rerun).toMatchObject({ complete: true, resumed: true, failed: 0, conflicts: 0 });
    expect(rerun.examined).toBeLessThan(160);
    expect(rerun.overall.examined).toBeGreaterThanOrEqual(160);
    const patched = appliedPatches();
    expect(patched).toHaveLength(160);
    expect(new Set(patched).size).toBe(160);
    expect((await h.items('bf_crash')).every((i) => Number(i.fields.Budget) > 5000)).toBe(true);
    expect(await snapshot('bf_crash')).toEqual(before);
    const push = await runPush(h.ctx, 'bf_crash', { trigger: 'test' });
    expect(push.created + push.updated).toBe(0);
  }, 60_000);

  it('I16: a backfill stopped by its time budget reports complete: false and the next run continues', async () => {
    await synced('bf_budget', 60);
    await quietly('UPDATE bf_budget SET budget = budget + 1');
    const first = await backfill('bf_budget', { maxSeconds: 0.001 });
    expect(first).toMatchObject({ complete: false, status: 'SUCCEEDED', examined: 40, updated: 40 });
    const second = await backfill('bf_budget');
    expect(second).toMatchObject({ complete: true, resumed: true, examined: 20, updated: 20 });
    expect(second.overall).toMatchObject({ examined: 60, updated: 60, equal: 0 });
  }, 30_000);

  it('full_resync re-reads both sides, re-creates an item deleted in SharePoint and adopts one by its hidden key (I6)', async () => {
    await synced('bf_full', 12);
    const items = await h.items('bf_full');
    const gone = items.find((i) => i.fields.Title === 'p5')!;
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/bf_full/items/${gone.id}`)).status).toBe(204);
    await quietly("UPDATE bf_full SET name = 'renamed' WHERE id = 7");
    // Item p6 was replaced by one carrying row 6's hidden key (as a crashed create leaves it): adopted, not doubled.
    const p6 = items.find((i) => i.fields.Title === 'p6')!;
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/bf_full/items/${p6.id}`)).status).toBe(204);
    const created = await h.asUser('POST', `/sites/${h.siteId}/lists/bf_full/items`, {
      fields: { Title: 'p6', Budget: 6, ArcoreKey: p6.fields.ArcoreKey },
    });
    expect(created.status).toBe(201);

    const summary = await backfill('bf_full', { fields: ['Title'], strategy: 'full_resync' });
    expect(summary).toMatchObject({ examined: 12, created: 1, updated: 1, equal: 10, failed: 0 });
    const after = await h.items('bf_full');
    expect(after).toHaveLength(12);
    expect(after.filter((i) => i.fields.Title === 'p5')).toHaveLength(1);
    expect(after.filter((i) => i.fields.Title === 'p6').map((i) => i.id)).toEqual([
      (created.body as { id: string }).id,
    ]);
    expect(after.some((i) => i.fields.Title === 'renamed')).toBe(true);
    // The delete's tombstone no longer names a synced item: the row stays, and nothing loops.
    await runPull(h.ctx, 'bf_full', { trigger: 'test' });
    expect((await h.db.pool.query('SELECT 1 FROM bf_full WHERE id IN (5, 6)')).rowCount).toBe(2);
    const push = await runPush(h.ctx, 'bf_full', { trigger: 'test' });
    expect(push.created + push.updated).toBe(0);
    expect(await h.items('bf_full')).toHaveLength(12);
  }, 30_000);

  it('I8 full_resync pulling re-creates rows gone from Postgres under deletes.push IGNORE, and reports them under PROPAGATE', async () => {
    const rowIds = async (table: string) =>
      (await h.db.pool.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)).rows.map((r) => r.id);
    // IGNORE: SharePoint keeps the item of a deleted row, so it is the row's surviving copy.
    await synced('bf_restore', 4, { deletes: { push: 'IGNORE' } });
    await h.db.pool.query('DELETE FROM bf_restore WHERE id = 3');
    expect(await runPush(h.ctx, 'bf_restore', { trigger: 'test' })).toMatchObject({ deleted: 0 }); // kept
    await h.db.pool.query('DELETE FROM bf_restore WHERE id = 2'); // not pushed yet
    const item2 = (await h.items('bf_restore')).find((i) => i.fields.Title === 'p2')!;
    await h.asUser('PATCH', `/sites/${h.siteId}/lists/bf_restore/items/${item2.id}/fields`, { Budget: 22 });

    const restored = await backfill('bf_restore', {
      fields: ['Title'],
      strategy: 'full_resync',
      direction: 'pull',
    });
    expect(restored).toMatchObject({ status: 'SUCCEEDED', examined: 4, created: 2, failed: 0 });
    expect(restored.missingRows).toEqual([]);
    expect(await rowIds('bf_restore')).toEqual([1, 2, 3, 4]);
    const { rows } = await h.db.pool.query(
      'SELECT id, name, budget FROM bf_restore WHERE id IN (2, 3) ORDER BY id',
    );
    expect(rows).toEqual([
      { id: 2, name: 'p2', budget: '22.00' },
      { id: 3, name: 'p3', budget: '3.00' },
    ]);
    // The ledger knows the re-created rows: the next push and pull write nothing.
    const push = await runPush(h.ctx, 'bf_restore', { trigger: 'test' });
    expect(push).toMatchObject({ created: 0, updated: 0, deleted: 0, failed: 0 });
    expect(await runPull(h.ctx, 'bf_restore', { trigger: 'test' })).toMatchObject({ created: 0, updated: 0 });
    expect(await h.items('bf_restore')).toHaveLength(4);

    // PROPAGATE: the push carries the delete to SharePoint; re-creating the row would undo it.
    await synced('bf_gone', 3);
    await h.db.pool.query('DELETE FROM bf_gone WHERE id = 2');
    const reported = await backfill('bf_gone', {
      fields: ['Title'],
      strategy: 'full_resync',
      direction: 'pull',
    });
    expect(reported).toMatchObject({ status: 'SUCCEEDED', examined: 3, created: 0, skipped: 1, equal: 2 });
    expect(reported.missingRows).toEqual([
      {
        key: { id: 2 },
        itemId: expect.any(String),
        next: 'deleted in Postgres: the next push deletes its item (deletes.push PROPAGATE)',
      },
    ]);
    expect(await rowIds('bf_gone')).toEqual([1, 3]);
    expect(await runPush(h.ctx, 'bf_gone', { trigger: 'test' })).toMatchObject({ deleted: 1 });
    expect(await h.items('bf_gone')).toHaveLength(2);
  });

  it('pull direction writes SharePoint values into differing rows without moving updated_at; a concurrent edit is a conflict', async () => {
    await synced('bf_pull', 10);
    const items = await h.items('bf_pull');
    const byTitle = (t: string) => items.find((i) => i.fields.Title === t)!;
    // Three items drift in SharePoint while the ledger still says synced (as after a lost delta).
    for (const t of ['p2', 'p3', 'p4']) {
      const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/bf_pull/items/${byTitle(t).id}/fields`, {
        Budget: 777,
      });
      expect(res.status).toBe(200);
    }
    // Row 4 was edited in Postgres too, to another value: a conflict the policy (SOURCE_WINS) settles.
    await h.db.pool.query('UPDATE bf_pull SET budget = 444 WHERE id = 4');
    const before = await snapshot('bf_pull');

    const summary = await backfill('bf_pull', { direction: 'pull' });
    expect(summary).toMatchObject({
      examined: 10,
      updated: 2,
      conflicts: 1,
      equal: 7,
      failed: 0,
      cursorMoved: 0,
    });
    const rows = (await h.db.pool.query('SELECT id, budget::float AS budget FROM bf_pull ORDER BY id')).rows;
    expect(rows.slice(0, 4)).toEqual([
      { id: 1, budget: 1 },
      { id: 2, budget: 777 },
      { id: 3, budget: 777 },
      { id: 4, budget: 444 },
    ]);
    expect((await h.items('bf_pull')).find((i) => i.fields.Title === 'p4')!.fields.Budget).toBe(444);
    const after = await snapshot('bf_pull');
    expect(after.updatedAt).toEqual(before.updatedAt);
    expect(after.cursors).toEqual(before.cursors);
    const conflict = await h.db.pool.query(
      "SELECT outcome, status, fields FROM arcore.sync_conflicts WHERE source_identity->>'id' = '4'",
    );
    expect(conflict.rows).toEqual([{ outcome: 'TAKE_POSTGRES', status: 'RESOLVED', fields: ['Budget'] }]);
    // The pull that follows meets the edits as echoes; the push finds row 4 already written.
    const pull = await runPull(h.ctx, 'bf_pull', { trigger: 'test' });
    expect(pull.updated + pull.conflicts).toBe(0);
    const push = await runPush(h.ctx, 'bf_pull', { trigger: 'test' });
    expect(push.updated + push.created).toBe(0);
  }, 30_000);

  it('counts rows whose older cursor trigger moved updated_at anyway (cursorMoved), and still does not loop', async () => {
    await synced('bf_oldtrigger', 3);
    // A trigger from before keep_cursor existed: it always stamps the row.
    await h.db.pool
      .query(`CREATE OR REPLACE FUNCTION public.arcore_touch_bf_oldtrigger_updated_at() RETURNS trigger
      LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$`);
    const item = (await h.items('bf_oldtrigger')).find((i) => i.fields.Title === 'p1')!;
    await h.asUser('PATCH', `/sites/${h.siteId}/lists/bf_oldtrigger/items/${item.id}/fields`, { Budget: 50 });
    const summary = await backfill('bf_oldtrigger', { direction: 'pull' });
    expect(summary).toMatchObject({ updated: 1, cursorMoved: 1 });
    const push = await runPush(h.ctx, 'bf_oldtrigger', { trigger: 'test' });
    expect(push.updated + push.created).toBe(0);
    // install-cursor replaces the old trigger; backfills then keep the column.
    const installed = await installCursor(h.db.pool, () => h.db.pool, 'bf_oldtrigger');
    expect(installed.parts.find((p) => p.part === 'trigger')?.status).toBe('added');
    await h.asUser('PATCH', `/sites/${h.siteId}/lists/bf_oldtrigger/items/${item.id}/fields`, { Budget: 60 });
    expect(await backfill('bf_oldtrigger', { direction: 'pull' })).toMatchObject({
      updated: 1,
      cursorMoved: 0,
    });
  }, 30_000);

  it('I5 a pull backfill on a table another definition pushes from moves the cursor column: that push carries the value, its own finds an echo', async () => {
    // No overlap window: a push reads only rows whose cursor value moved past its cursor.
    const source = { ...timestampSource('bf_shared', 40), overlapSeconds: 0 };
    await synced('bf_shared', 3, { source });
    await h.define(projectsDefinition({ name: 'bf_shared_copy', source }, 'bf_shared_copy'));
    expect((await runPush(h.ctx, 'bf_shared_copy', { trigger: 'test' })).created).toBe(3);
    const item = (await h.items('bf_shared')).find((i) => i.fields.Title === 'p1')!;
    await h.asUser('PATCH', `/sites/${h.siteId}/lists/bf_shared/items/${item.id}/fields`, { Budget: 70 });
    const before = await snapshot('bf_shared');

    expect(await backfill('bf_shared', { direction: 'pull' })).toMatchObject({ updated: 1, cursorMoved: 0 });
    const after = await snapshot('bf_shared');
    expect(after.updatedAt[0].updated_at).not.toEqual(before.updatedAt[0].updated_at);
    expect(after.updatedAt.slice(1)).toEqual(before.updatedAt.slice(1));
    const copy = await runPush(h.ctx, 'bf_shared_copy', { trigger: 'test' });
    expect(copy).toMatchObject({ updated: 1, created: 0 });
    expect((await h.items('bf_shared_copy')).find((i) => i.fields.Title === 'p1')!.fields.Budget).toBe(70);
    const own = await runPush(h.ctx, 'bf_shared', { trigger: 'test' });
    expect(own.updated + own.created + own.conflicts).toBe(0);
  }, 30_000);

  it('I14: a newly mapped field is aligned by a backfill with the alignment rules (fill the empty side, policy on both full)', async () => {
    const table = 'bf_new';
    const def = (fields: SyncDefinitionInput['fields']) =>
      projectsDefinition(
        {
          name: table,
          source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          fields,
        },
        table,
      );
    await createProjectsTable(h.db, table);
    await h.db.pool.query(
      `INSERT INTO ${table} (id, name, budget) SELECT g, 'p' || g, g FROM generate_series(1, 4) g`,
    );
    await h.define(def([{ source: 'name', target: 'Title' }]));
    await runPush(h.ctx, table, { trigger: 'test' });
    await h.define(
      def([
        { source: 'name', target: 'Title' },
        { source: 'budget', target: 'Budget' },
      ]),
    );
    // Item p4 already holds another Budget: both sides full and different, so the policy (SOURCE_WINS) decides.
    const p4 = (await h.items(table)).find((i) => i.fields.Title === 'p4')!;
    await h.asUser('PATCH', `/sites/${h.siteId}/lists/${table}/items/${p4.id}/fields`, { Budget: 99 });

    const summary = await backfill(table, { fields: ['Budget'] });
    expect(summary).toMatchObject({ examined: 4, updated: 3, conflicts: 1, failed: 0 });
    expect((await h.items(table)).map((i) => [i.fields.Title, i.fields.Budget]).sort()).toEqual([
      ['p1', 1],
      ['p2', 2],
      ['p3', 3],
      ['p4', 4],
    ]);
    // Aligned: the pull that reads the list once with the new field finds nothing to do, nor does the push.
    const pull = await runPull(h.ctx, table, { trigger: 'test' });
    expect(pull.updated + pull.conflicts + pull.created).toBe(0);
    const push = await runPush(h.ctx, table, { trigger: 'test' });
    expect(push.updated + push.created).toBe(0);
  }, 30_000);

  it('--dry-run reports what would change and writes nothing', async () => {
    await synced('bf_dry', 10);
    await quietly('UPDATE bf_dry SET budget = budget + 1 WHERE id <= 4');
    h.emulator.control.clearRequestLog();
    const summary = await backfill('bf_dry', { dryRun: true });
    expect(summary).toMatchObject({
      dryRun: true,
      runId: null,
      examined: 10,
      updated: 4,
      equal: 6,
      planned: 4,
    });
    expect(summary.sample?.[0]).toMatchObject({ kind: 'update', side: 'sharepoint', fields: ['Budget'] });
    expect(appliedPatches()).toHaveLength(0);
    expect(
      (
        await h.db.pool.query(
          "SELECT 1 FROM arcore.sync_backfills b JOIN arcore.sync_definitions d ON d.id = b.definition_id WHERE d.name = 'bf_dry'",
        )
      ).rowCount,
    ).toBe(0);
    const real = await backfill('bf_dry');
    expect(real.updated).toBe(4);
  }, 30_000);

  it('refuses unknown fields, fields of the other direction, and a different field set while one is unfinished', async () => {
    await synced('bf_bad', 3);
    const unknown = await backfill('bf_bad', { fields: ['Budget', 'colour'] }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UnknownBackfillFieldError);
    expect((unknown as Error).message).toContain('"colour"');
    expect((unknown as UnknownBackfillFieldError).hint).toContain('Budget (column budget)');
    await expect(backfill('bf_bad', { fields: [] })).rejects.toBeInstanceOf(UnknownBackfillFieldError);

    await h.define(
      projectsDefinition(
        {
          name: 'bf_bad',
          source: { table: 'bf_bad', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          fields: [
            { source: 'name', target: 'Title' },
            { source: 'budget', target: 'Budget', direction: 'PUSH_ONLY' },
          ],
        },
        'bf_bad',
      ),
    );
    await expect(backfill('bf_bad', { direction: 'pull' })).rejects.toBeInstanceOf(BackfillDirectionError);

    await h.db.pool.query(
      `INSERT INTO arcore.sync_backfills (definition_id, fields, strategy, direction, position, status, examined)
       SELECT id, '{Title}', 'update_only', 'push', '0', 'RUNNING', 1 FROM arcore.sync_definitions WHERE name = 'bf_bad'`,
    );
    const busy = await backfill('bf_bad').catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(BackfillInProgressError);
    expect((busy as BackfillInProgressError).hint).toContain('--restart');
    const restarted = await backfill('bf_bad', { restart: true });
    expect(restarted).toMatchObject({ resumed: false, examined: 3, complete: true });
  }, 30_000);
});

/**
 * The pipelined push (issue 23.1): page N+1 is read, canonicalised and looked up while page N is written. These
 * tests hold it to the unpipelined loop and to I5c (a page's cursor commits only after its writes and ledger
 * rows) and I6 (a SIGKILL anywhere loses and duplicates nothing).
 */
import type { Pool, PoolClient } from 'pg';
import { keysetCursor } from '../../../src/core/cursor/timestampCursor';
import { runPush } from '../../../src/core/engine/push';
import { preparePushPage } from '../../../src/core/engine/push/prefetch';
import { pushPrepared } from '../../../src/core/engine/push/rows';
import { withRun } from '../../../src/core/engine/runner';
import { parseDefinition } from '../../../src/core/definition/parse';
import { installCursorFor } from '../../../src/core/ops';
import type { EngineContext, ProgressEvent } from '../../../src/core/engine/types';
import { killWhen, lockReleased, spawnEngineChild } from '../../support/engineChild';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  timestampSource,
  type Harness,
} from '../../support/engineHarness';

/** The definition's ledger rows, comparable across definitions (no ids or times: the trigger's clock differs). */
async function ledgerOf(h: Harness, definition: string): Promise<unknown[]> {
  const { rows } = await h.db.pool.query(
    `SELECT (l.source_identity->>'id')::int AS id, l.state, l.synced_values, l.content_hash, l.provenance,
            l.sp_item_id IS NOT NULL AS has_item
       FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
      WHERE d.name = $1 ORDER BY 1`,
    [definition],
  );
  return rows;
}

async function cursorOf(h: Harness, definition: string): Promise<string | null> {
  const { rows } = await h.db.pool.query<{ value: string | null }>(
    `SELECT c.value FROM arcore.sync_cursors c JOIN arcore.sync_definitions d ON d.id = c.definition_id
      WHERE d.name = $1 AND c.scope = 'SOURCE'`,
    [definition],
  );
  return rows[0]?.value ?? null;
}

/** A list's items by their Title-independent content, in a stable order. */
async function contentOf(h: Harness, list: string): Promise<string[]> {
  const items = await h.items(list);
  return items
    .map((i) =>
      JSON.stringify([i.fields.Title, i.fields.Budget, i.fields.Due, i.fields.Done, i.fields.Tags ?? null]),
    )
    .sort();
}

/** The same context with the source pool's queries recorded (the real pool answers them). */
function recordingSourceQueries(ctx: EngineContext, log: string[]): EngineContext {
  return gatedSourceQueries(ctx, (sql) => {
    log.push(sql);
  });
}

/**
 * The context with its source pools' queries seen first by `before` (the SQL text), which may hold a query back
 * until what it returns resolves. The queries themselves go to Postgres unchanged.
 */
function gatedSourceQueries(
  ctx: EngineContext,
  before: (sql: string) => Promise<void> | void,
): EngineContext {
  return {
    ...ctx,
    sourcePool(connection: string): Pool {
      const pool = ctx.sourcePool(connection);
      return new Proxy(pool, {
        get(target, property) {
          if (property === 'query') {
            return async (...args: unknown[]) => {
              const first = args[0];
              await before(typeof first === 'string' ? first : String((first as { text?: string }).text));
              return (target.query as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  };
}

const isPageRead = (sql: string, table: string) =>
  sql.includes(`"${table}"`) && /ORDER BY .* LIMIT \$\d+$/s.test(sql);

const pageReads = (log: string[], table: string) => log.filter((sql) => isPageRead(sql, table)).length;

describe('I5c pipelined push (issue 23.1)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('pushes 300 rows in pages of 40 exactly as the unpipelined loop does: items, ledger, cursor, counts, trace order', async () => {
    await createProjectsTable(h.db, 'same_a');
    await createProjectsTable(h.db, 'same_b');
    const source = (table: string) => ({
      table,
      key: ['id'],
      cursor: { type: 'TIMESTAMP' as const, column: 'updated_at' },
      pageSize: 40,
    });
    await h.define({ ...projectsDefinition({ source: source('same_a') }, 'SameA'), name: 'same_a' });
    await h.define({ ...projectsDefinition({ source: source('same_b') }, 'SameB'), name: 'same_b' });
    const fill = async (sql: string) => {
      const client = await h.db.pool.connect();
      try {
        await client.query('BEGIN');
        for (const table of ['same_a', 'same_b']) await client.query(sql.replaceAll('TABLE', table));
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    };
    await fill(
      `INSERT INTO TABLE (id, name, budget, due, done, tags)
       SELECT g, 'p' || g, g * 1.5, date '2026-01-01' + g, g % 2 = 0, ARRAY['t' || (g % 3)]
       FROM generate_series(1, 300) g`,
    );
    const events: ProgressEvent[] = [];
    const pipelined = { ...h.ctx, onProgress: (e: ProgressEvent) => events.push(e) };
    const serial = { ...h.ctx, pipelinedPush: false };
    const rounds = [
      async () => undefined,
      () => fill(`UPDATE TABLE SET name = name || ' (changed)' WHERE id % 6 = 0`),
    ];
    for (const change of rounds) {
      await change();
      events.length = 0;
      const a = await runPush(pipelined, 'same_a', { trigger: 'test' });
      const b = await runPush(serial, 'same_b', { trigger: 'test' });
      expect(a.status).toBe('SUCCEEDED');
      for (const count of ['processed', 'created', 'updated', 'skipped', 'failed'] as const)
        expect({ count, value: a[count] }).toEqual({ count, value: b[count] });
      expect(await contentOf(h, 'SameA')).toEqual(await contentOf(h, 'SameB'));
      expect(await ledgerOf(h, 'same_a')).toEqual(await ledgerOf(h, 'same_b'));
      const cursorKey = async (name: string) =>
        keysetCursor.parse(name, (await cursorOf(h, name)) as string).key;
      expect(await cursorKey('same_a')).toEqual(await cursorKey('same_b'));
      // Each page's event comes before its own batches (the next page's writes may start while a page's last
      // batches are out: the write window, push/pageWindow.ts). On the first push every row is written, so the
      // rows written never run ahead of the rows announced.
      const traces = events.flatMap((e) => (e.trace ? [e.trace] : []));
      let written = 0;
      let announced = 0;
      for (const t of traces) {
        if (t.kind === 'page') announced += t.rows;
        else if (t.kind === 'batch') {
          written += t.writes;
          if (a.created === a.processed) expect(written).toBeLessThanOrEqual(announced);
        }
      }
      expect(written).toBe(a.created + a.updated);
    }
    expect(await h.items('SameA')).toHaveLength(300);
  }, 60000);

  it('a row updated between the reads of page N and N+1 is looked up only after page N settles: one item', async () => {
    await createProjectsTable(h.db, 'race');
    await h.define({
      ...projectsDefinition({ source: timestampSource('race', 5) }, 'Race'),
      name: 'race',
    });
    await h.db.pool.query("INSERT INTO race (id, name) SELECT g, 'r' || g FROM generate_series(1, 10) g");
    let resolvedBeforeSettled: boolean | null = null;
    const summary = await withRun(h.ctx, 'race', 'PUSH', { trigger: 'test' }, async (scope) => {
      const first = await scope.source.readPage(null, 5);
      // Row 3 changes after page N is read: its cursor moves past every row, so page N+1 carries it again.
      await h.db.pool.query("UPDATE race SET name = 'r3 (changed)' WHERE id = 3");
      const last = first[first.length - 1];
      const second = await scope.source.readPage(
        { after: { ts: last.cursor as string, key: [last.values.id] } },
        10,
      );
      expect(second.map((r) => r.values.id)).toContain(3);
      const pageN = await preparePushPage(scope, first, 0, null);
      let resolved = false;
      const ahead = preparePushPage(scope, second, 0, pageN).then((p) => ((resolved = true), p));
      await pushPrepared(scope, pageN.prepared, null, pageN.lookup);
      resolvedBeforeSettled = resolved;
      pageN.settled.set();
      const pageN1 = await ahead;
      expect(pageN1.waitedForPrevious).toBe(true);
      await pushPrepared(scope, pageN1.prepared, null, pageN1.lookup);
    });
    expect(summary.status).toBe('SUCCEEDED');
    expect(resolvedBeforeSettled).toBe(false);
    const items = await h.items('Race');
    expect(items).toHaveLength(10);
    expect(items.filter((i) => String(i.fields.Title).startsWith('r3'))).toEqual([
      expect.objectContaining({ fields: expect.objectContaining({ Title: 'r3 (changed)' }) }),
    ]);
    expect(summary).toMatchObject({ created: 10, updated: 1 });
  });

  it('a page looked up while the commit of the page two before is still running: a row created on page 1 and read again on page 3 gets one item', async () => {
    await createProjectsTable(h.db, 'twoback');
    const twoback = {
      ...projectsDefinition({ source: timestampSource('twoback', 2) }, 'TwoBack'),
      name: 'twoback',
    };
    await h.define(twoback);
    // The push applies deletes before its pages (docs/design.md I8), which may write this definition's cursor row:
    // with delete capture and its first comparison done by a push of the empty table, it has nothing to write, so
    // the lock below holds page 1's commit and nothing before it.
    await installCursorFor(parseDefinition(twoback), h.db.pool);
    expect(await runPush(h.ctx, 'twoback', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: 0,
    });
    await h.db.pool.query("INSERT INTO twoback (id, name) SELECT g, 'r' || g FROM generate_series(1, 5) g");
    // Row 1 changes the moment page 1 records its pending create (before page 1's writes go out). Page 2 (the first
    // read after a position) is read while page 1 is written (read ahead); it waits here for that change, which
    // the pipeline does not order before it, so that page 3 is sure to carry row 1 again.
    await h.db.pool.query(`
      CREATE FUNCTION arcore.touch_row_one() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.state = 'PENDING_CREATE' AND NEW.source_identity->>'id' = '1' THEN
          UPDATE public.twoback SET name = 'r1 (changed)' WHERE id = 1 AND name <> 'r1 (changed)';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER touch_row_one AFTER INSERT OR UPDATE ON arcore.sync_ledger
        FOR EACH ROW EXECUTE FUNCTION arcore.touch_row_one();`);
    let reads = 0;
    const rowOneChanged = async () => {
      for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
        const { rows } = await h.db.pool.query<{ name: string }>('SELECT name FROM twoback WHERE id = 1');
        if (rows[0].name === 'r1 (changed)') return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('page 1 recorded no pending create for row 1 within 30 s');
    };
    // Page 1's commit waits (its cursor write) until page 2's writes are answered: page 3 is read and looked up
    // meanwhile, as it is whenever a commit is slower than the next page's read.
    const holder: PoolClient = await h.db.pool.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE arcore.sync_cursors IN EXCLUSIVE MODE');
    let released: Promise<unknown> | null = null;
    const release = () => (released ??= holder.query('COMMIT'));
    let batches = 0;
    const ctx = {
      ...gatedSourceQueries(h.ctx, (sql) =>
        isPageRead(sql, 'twoback') && sql.includes('("updated_at", "id") > (') && ++reads === 1
          ? rowOneChanged()
          : undefined,
      ),
      onProgress: (e: ProgressEvent) => {
        if (e.trace?.kind === 'batch' && ++batches === 2) void release();
      },
    };
    h.emulator.control.setLatency(150);
    try {
      const summary = await runPush(ctx, 'twoback', { trigger: 'test' });
      expect(summary.status).toBe('SUCCEEDED');
      expect(reads).toBeGreaterThanOrEqual(1);
    } finally {
      h.emulator.control.setLatency(0);
      await release();
      holder.release();
      await h.db.pool.query(
        'DROP TRIGGER touch_row_one ON arcore.sync_ledger; DROP FUNCTION arcore.touch_row_one()',
      );
    }
    const items = await h.items('TwoBack');
    expect(items.map((i) => String(i.fields.Title)).sort()).toEqual(['r1 (changed)', 'r2', 'r3', 'r4', 'r5']);
  });

  it('a Graph failure on one page while the pages around it are written: the cursor stays before it; a rerun completes', async () => {
    await createProjectsTable(h.db, 'failing');
    await h.define({
      ...projectsDefinition({ source: timestampSource('failing', 40) }, 'Failing'),
      name: 'failing',
    });
    await h.db.pool.query("INSERT INTO failing (id, name) SELECT g, 'f' || g FROM generate_series(1, 200) g");
    const queries: string[] = [];
    let pages = 0;
    const ctx = {
      ...recordingSourceQueries(h.ctx, queries),
      onProgress: (e: ProgressEvent) => {
        // Page 2's turn: the next $batch to leave (page 1's or page 2's) is refused (401), which fails the run.
        if (e.trace?.kind === 'page' && ++pages === 2)
          h.emulator.control.injectFault({ method: 'POST', pathPattern: '\\$batch', count: 1, status: 401 });
      },
    };
    const failed = await runPush(ctx, 'failing', { trigger: 'test' });
    h.emulator.control.clearFaults();
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatch(/401/);
    // The loop stops at the failure: at most two pages written and one read ahead after the failed page.
    expect(pageReads(queries, 'failing')).toBeLessThanOrEqual(5);
    // The cursor never passes the failed page (page 1 or 2): after page 1 at most.
    const cursor = await cursorOf(h, 'failing');
    if (cursor !== null) expect(keysetCursor.parse('failing', cursor).key).toEqual([40]);
    // Every item made so far is in the ledger, synced (a page written after the failed one commits its ledger
    // rows without its cursor) or recorded as a create in flight (the failed page's other batch, I6).
    const { rows } = await h.db.pool.query<{ state: string; n: number }>(
      `SELECT l.state, count(*)::int AS n FROM arcore.sync_ledger l
         JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = 'failing' GROUP BY 1`,
    );
    const made = (await h.items('Failing')).length;
    expect(made).toBeLessThan(200);
    const synced = rows.find((r) => r.state === 'SYNCED')?.n ?? 0;
    const pending = rows.find((r) => r.state === 'PENDING_CREATE')?.n ?? 0;
    expect(synced).toBeLessThanOrEqual(made);
    expect(synced + pending).toBeGreaterThanOrEqual(made);
    const rerun = await runPush(h.ctx, 'failing', { trigger: 'test' });
    expect(rerun.status).toBe('SUCCEEDED');
    const items = await h.items('Failing');
    expect(items).toHaveLength(200);
    expect(new Set(items.map((i) => i.fields.Title)).size).toBe(200);
    expect(keysetCursor.parse('failing', (await cursorOf(h, 'failing')) as string).key).toEqual([200]);
  });

  it('a failing commit of page N while page N+1 is written fails the run with its own error; the cursor stays after page N-1', async () => {
    await createProjectsTable(h.db, 'uncommitted');
    await h.define({
      ...projectsDefinition({ source: timestampSource('uncommitted', 40) }, 'Uncommitted'),
      name: 'uncommitted',
    });
    await h.db.pool.query(
      "INSERT INTO uncommitted (id, name) SELECT g, 'u' || g FROM generate_series(1, 200) g",
    );
    // Page 2's commit (its cursor ends at key 80) is refused by the metadata database.
    await h.db.pool.query(`
      CREATE FUNCTION arcore.refuse_page_two() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.value LIKE '%"key":[80]}' THEN RAISE EXCEPTION 'cursor write refused by the test'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_page_two BEFORE INSERT OR UPDATE ON arcore.sync_cursors
        FOR EACH ROW EXECUTE FUNCTION arcore.refuse_page_two();`);
    const failed = await runPush(h.ctx, 'uncommitted', { trigger: 'test' }).finally(() =>
      h.db.pool.query(
        'DROP TRIGGER refuse_page_two ON arcore.sync_cursors; DROP FUNCTION arcore.refuse_page_two()',
      ),
    );
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatch(/cursor write refused by the test/);
    expect(keysetCursor.parse('uncommitted', (await cursorOf(h, 'uncommitted')) as string).key).toEqual([40]);
    const rerun = await runPush(h.ctx, 'uncommitted', { trigger: 'test' });
    expect(rerun.status).toBe('SUCCEEDED');
    const items = await h.items('Uncommitted');
    expect(items).toHaveLength(200);
    expect(new Set(items.map((i) => i.fields.Title)).size).toBe(200);
  });

  it('I16: a run out of time stops after a committed page; the page read ahead is neither written nor counted', async () => {
    await createProjectsTable(h.db, 'timed');
    await h.define({
      ...projectsDefinition({ source: timestampSource('timed', 20) }, 'Timed'),
      name: 'timed',
    });
    await h.db.pool.query("INSERT INTO timed (id, name) SELECT g, 't' || g FROM generate_series(1, 200) g");
    h.emulator.control.setLatency(300);
    const stopped = await runPush(h.ctx, 'timed', { trigger: 'test', maxSeconds: 1 }).finally(() =>
      h.emulator.control.setLatency(0),
    );
    expect(stopped.complete).toBe(false);
    const items = await h.items('Timed');
    expect(items.length).toBeGreaterThan(0);
    expect(items.length).toBeLessThan(200);
    expect(stopped.processed).toBe(items.length);
    expect(stopped.created).toBe(items.length);
    const cursor = keysetCursor.parse('timed', (await cursorOf(h, 'timed')) as string);
    expect(cursor.key).toEqual([items.length]);
    const rest = await runPush(h.ctx, 'timed', { trigger: 'test' });
    expect(rest.created).toBe(200 - items.length);
    expect(new Set((await h.items('Timed')).map((i) => i.fields.Title)).size).toBe(200);
  });

  it('I6: a push SIGKILLed mid-pipeline while rows keep changing loses and duplicates nothing', async () => {
    await createProjectsTable(h.db, 'projects');
    await h.define(projectsDefinition({ source: timestampSource('projects', 40) }));
    await h.db.pool.query(
      "INSERT INTO projects (id, name) SELECT g, 'p' || g FROM generate_series(1, 400) g",
    );
    h.emulator.control.setLatency(40);
    // Rows already pushed change while the child runs: they move ahead of the cursor, onto later pages.
    let edits = 0;
    const killed = await killWhen(spawnEngineChild(h, ['push', 'projects']), async () => {
      await h.db.pool.query("UPDATE projects SET name = name || '+' WHERE id = $1", [
        1 + ((edits++ * 37) % 400),
      ]);
      return (await h.items('Projects')).length >= 100;
    }).finally(() => h.emulator.control.setLatency(0));
    expect(killed).toBe(true);
    expect((await h.items('Projects')).length).toBeLessThan(400);
    await lockReleased(h, 'projects');
    const rerun = await runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(rerun.status).toBe('SUCCEEDED');
    const items = await h.items('Projects');
    expect(items).toHaveLength(400);
    const { rows } = await h.db.pool.query<{ name: string }>('SELECT name FROM projects ORDER BY id');
    expect(items.map((i) => String(i.fields.Title)).sort()).toEqual(rows.map((r) => r.name).sort());
    expect((await runPush(h.ctx, 'projects', { trigger: 'test' })).created).toBe(0);
  }, 60000);
});

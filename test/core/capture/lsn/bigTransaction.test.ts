import { loadSettings } from '../../../../src/config/settings';
import { lsnNames, readLsnCursor } from '../../../../src/core/capture/lsn';
import { createEngineContext } from '../../../../src/core/engine/context';
import { runPush } from '../../../../src/core/engine/push';
import type { ProgressEvent } from '../../../../src/core/engine/types';
import { getDefinition } from '../../../../src/core/store/definitions';
import { readInstallationId } from '../../../../src/core/store/installation';
import { closeCapturing } from '../../../support/capture';
import { killWhen, lockReleased, spawnEngineChild } from '../../../support/engineChild';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';
import { runDetails } from '../../../support/projects';

const NAME = 'bigtxn';
const ROWS = 400;
const PAGE = 10;

/**
 * I17 with transactions far bigger than a page: a peek is read through a server-side cursor a chunk at a
 * time and pushed a page at a time; the slot moves only past a transaction all of whose changes are applied,
 * and a run stopped inside one (time budget, SIGKILL) resumes after the changes it applied.
 */
let h: Harness;
let slot: string;
let definitionId: string;

beforeAll(async () => {
  h = await startHarness();
  await h.db.pool.query(`CREATE TABLE ${NAME} (id integer PRIMARY KEY, name text)`);
  await h.define({
    name: NAME,
    source: { table: NAME, key: ['id'], cursor: { type: 'LSN' }, pageSize: PAGE },
    target: { site: SITE, list: NAME },
    fields: [{ source: 'name', target: 'Title' }],
  });
  const stored = await getDefinition(h.db.pool, NAME);
  definitionId = stored.id;
  slot = lsnNames(await readInstallationId(h.db.pool), stored.id, NAME).slot;
  // The first push creates the slot and loads the (empty) table.
  expect(await runPush(h.ctx, NAME, { trigger: 'test' })).toMatchObject({ status: 'SUCCEEDED' });
});
afterAll(() => closeCapturing(h));

async function confirmedLsn(): Promise<string> {
  const { rows } = await h.db.pool.query<{ lsn: string }>(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return rows[0].lsn;
}

async function titles(): Promise<string[]> {
  return (await h.items(NAME)).map((i) => String(i.fields.Title));
}

/** Item writes (POST, PATCH, DELETE; a `$batch` is logged with each of its requests), from `since`. */
function graphWrites(since: number): number {
  return h.emulator.control
    .requestLog()
    .slice(since)
    .filter((r) => r.method !== 'GET' && r.path !== '/$batch').length;
}

const detailsOf = (runId: string | null) => runDetails(h, runId);

describe('LSN capture of one transaction of 400 rows, pages of 10', () => {
  it('pushes it a page at a time with page progress events, like the TIMESTAMP loop', async () => {
    await h.db.pool.query(`INSERT INTO ${NAME} SELECT g, 'r' || g FROM generate_series(1, ${ROWS}) g`);
    const events: ProgressEvent[] = [];
    h.ctx.onProgress = (e) => events.push(e);
    let summary;
    try {
      summary = await runPush(h.ctx, NAME, { trigger: 'test' });
    } finally {
      h.ctx.onProgress = undefined;
    }
    expect(summary).toMatchObject({ status: 'SUCCEEDED', created: ROWS, failed: 0, complete: true });
    const pages = events.filter((e) => e.trace?.kind === 'page');
    expect(pages.length).toBe(ROWS / PAGE);
    for (const p of pages) {
      expect(p).toMatchObject({ runType: 'PUSH', definition: NAME, total: null });
      expect(p.trace).toMatchObject({ kind: 'page', rows: PAGE });
    }
    const done = events.filter((e) => !e.trace).map((e) => e.done);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(done[0]).toBe(PAGE);
    expect(done[done.length - 1]).toBe(ROWS);
    const items = await titles();
    expect(items).toHaveLength(ROWS);
    expect(new Set(items).size).toBe(ROWS);
  }, 60000);

  it('a run out of time inside the transaction keeps the slot before it, and the next run resumes after its applied changes', async () => {
    const before = await confirmedLsn();
    await h.db.pool.query(`UPDATE ${NAME} SET name = name || '+'`);
    const first = await runPush(h.ctx, NAME, { trigger: 'test', maxSeconds: 0.001 });
    // The budget is spent before the first page: the run stops right after that page is committed.
    expect(first).toMatchObject({ status: 'SUCCEEDED', complete: false, updated: PAGE });
    expect(await confirmedLsn()).toBe(before);
    const cursor = await readLsnCursor(h.db.pool, definitionId);
    expect(cursor?.within).toMatchObject({ changes: PAGE });

    const log = h.emulator.control.requestLog().length;
    const rest = await runPush(h.ctx, NAME, { trigger: 'test' });
    expect(rest).toMatchObject({ status: 'SUCCEEDED', complete: true, updated: ROWS - PAGE, failed: 0 });
    expect(await detailsOf(rest.runId)).toMatchObject({ changesResumed: PAGE });
    // Nothing written twice: one write per row not written yet.
    expect(graphWrites(log)).toBe(ROWS - PAGE);
    expect(await confirmedLsn()).not.toBe(before);
    expect((await readLsnCursor(h.db.pool, definitionId))?.within ?? null).toBeNull();
    const items = await titles();
    expect(items.filter((t) => /^r\d+\+$/.test(t))).toHaveLength(ROWS);
  }, 60000);

  it('a SIGKILL inside the transaction: the rerun skips the pages the killed run applied and writes nothing twice', async () => {
    const before = await confirmedLsn();
    await h.db.pool.query(`UPDATE ${NAME} SET name = name || '!'`);
    h.emulator.control.setLatency(10);
    const killed = await killWhen(
      spawnEngineChild(h, ['push', NAME]),
      async () => ((await readLsnCursor(h.db.pool, definitionId))?.within?.changes ?? 0) >= 5 * PAGE,
      'the killed run to have applied a few pages',
    ).finally(() => h.emulator.control.setLatency(0));
    expect(killed).toBe(true);
    expect(await confirmedLsn()).toBe(before);
    const applied = (await readLsnCursor(h.db.pool, definitionId))?.within?.changes ?? 0;
    expect(applied).toBeGreaterThanOrEqual(5 * PAGE);
    expect(applied).toBeLessThan(ROWS);

    await lockReleased(h, NAME);
    const log = h.emulator.control.requestLog().length;
    const rerun = await runPush(h.ctx, NAME, { trigger: 'test' });
    expect(rerun).toMatchObject({ status: 'SUCCEEDED', complete: true, failed: 0 });
    expect(await detailsOf(rerun.runId)).toMatchObject({ changesResumed: applied });
    // Only the changes after the applied ones are read again (a page SharePoint took after the last saved
    // position may be written once more, with If-Match: at most one page).
    expect(rerun.processed).toBeLessThanOrEqual(ROWS - applied);
    expect(graphWrites(log)).toBeLessThanOrEqual(ROWS - applied + PAGE);
    const items = await titles();
    expect(items).toHaveLength(ROWS);
    expect(items.filter((t) => /^r\d+\+!$/.test(t))).toHaveLength(ROWS);
    expect(await runPush(h.ctx, NAME, { trigger: 'test' })).toMatchObject({ processed: 0, updated: 0 });
  }, 60000);
  it('reads a big peek on its lock connection: a run with PG_POOL_MAX 2 (its lock holds one) is not starved and opens no third connection', async () => {
    await h.db.pool.query(
      `INSERT INTO ${NAME} SELECT g, 'pool' || g || '~' FROM generate_series(10001, 10100) g`,
    );
    const app = `arcore_cap_${definitionId}_${process.pid}`;
    const url = new URL(h.db.url);
    url.searchParams.set('application_name', app);
    const { ctx, close } = await createEngineContext(
      loadSettings({
        DATABASE_URL: url.toString(),
        GRAPH_BASE_URL: h.emulator.baseUrl,
        GRAPH_TOKEN: h.emulator.appToken,
        GRAPH_RU_PER_MINUTE: '10000000',
        PG_POOL_MAX: '2',
      }),
      { caCert: h.emulator.caCert },
    );
    // The run's connections, counted by the server each time a page of the peek is pushed (the cursor is open
    // then: the transaction's 100 changes are fetched 10 at a time).
    const counts: Promise<number>[] = [];
    ctx.onProgress = (e) => {
      if (e.trace?.kind !== 'page') return;
      counts.push(
        h.db.pool
          .query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [
            app,
          ])
          .then((r) => Number(r.rows[0].n)),
      );
    };
    try {
      // 100 changes in one transaction: past the four pages a single query reads, so the cursor is used.
      expect(await runPush(ctx, NAME, { trigger: 'test' })).toMatchObject({
        status: 'SUCCEEDED',
        complete: true,
        created: 100,
      });
      // A second big transaction: the cursor's name is free again on the lock's connection.
      await h.db.pool.query(`UPDATE ${NAME} SET name = name || '!' WHERE id BETWEEN 10001 AND 10100`);
      expect(await runPush(ctx, NAME, { trigger: 'test' })).toMatchObject({
        status: 'SUCCEEDED',
        updated: 100,
      });
    } finally {
      await close();
    }
    const seen = await Promise.all(counts);
    expect(seen.length).toBeGreaterThanOrEqual(10);
    expect(Math.max(...seen)).toBeLessThanOrEqual(2);
    expect((await titles()).filter((t) => t.endsWith('~!'))).toHaveLength(100);
  }, 30000);
});

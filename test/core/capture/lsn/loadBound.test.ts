import { decideTruncate, openTruncates, readLsnCursor } from '../../../../src/core/capture/lsn';
import { writeLsnCursor } from '../../../../src/core/capture/lsn/cursor';
import { previewPush } from '../../../../src/core/engine/dryRun';
import { runPush } from '../../../../src/core/engine/push';
import { definitionStatus } from '../../../../src/core/ops';
import { getDefinition } from '../../../../src/core/store/definitions';
import { killWhen, lockReleased, spawnEngineChild } from '../../../support/engineChild';
import { runDetails } from '../../../support/projects';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { dropCaptureObjects, lsnDefinition } from '../../../support/capture';

/**
 * The LSN load is bounded at the highest key the table held when it began (I17): a table whose keys keep growing
 * faster than the load writes still finishes loading, the rows above the bound arrive through the slot, and the
 * changes made during the load (in the load and in the slot) are all applied once it ends.
 */
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await dropCaptureObjects(h.db.pool);
  await h.close();
});

/** A run with no time: it loads one page, then stops (incomplete). */
const shortRun = (name: string) => runPush(h.ctx, name, { trigger: 'test', maxSeconds: 0.001 });

const detailsOf = (runId: string | null) => runDetails(h, runId);

async function cursorOf(name: string) {
  return readLsnCursor(h.db.pool, (await getDefinition(h.db.pool, name)).id);
}

/** The list's titles and the table's names agree (sorted). */
async function expectInSync(table: string): Promise<void> {
  const { rows } = await h.db.pool.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY name`);
  const items = (await h.items(table)).map((i) => String(i.fields.Title)).sort();
  expect(items).toEqual(rows.map((r) => r.name).sort());
}

describe('LSN load bound', () => {
  it('ends while rows with higher keys keep coming faster than it loads; they and every change during the load arrive through the slot', async () => {
    await h.db.pool.query(`CREATE TABLE chase (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
    // Even keys 2..20: odd keys inserted later fall below the bound.
    await h.db.pool.query(`INSERT INTO chase SELECT g, 'r' || g, g FROM generate_series(2, 20, 2) g`);
    await h.define(
      lsnDefinition('chase', {
        source: { table: 'chase', key: ['id'], cursor: { type: 'LSN' }, pageSize: 2 },
      }),
    );

    const first = await shortRun('chase');
    expect(first).toMatchObject({ status: 'SUCCEEDED', complete: false, created: 2 });
    expect((await cursorOf('chase'))?.load).toMatchObject({ after: [4], upto: [20] });
    expect(await detailsOf(first.runId)).toMatchObject({ loadBound: [20], loadAfter: [4], loadedRows: 2 });
    const [status] = await definitionStatus(h.db.pool, 'chase');
    expect(status.captureLoad).toMatchObject({ upto: [20], after: [4] });
    expect(status.captureLoad?.message).toMatch(/up to key \(20\).*loaded up to key \(4\).*deletes/);

    // During the load: a row below the bound (after the slot), a row not loaded yet updated and another deleted,
    // a loaded row deleted and another updated.
    await h.db.pool.query(`INSERT INTO chase VALUES (7, 'r7', 7)`);
    await h.db.pool.query(`UPDATE chase SET name = 'r18 changed' WHERE id = 18`);
    await h.db.pool.query(`DELETE FROM chase WHERE id IN (16, 2)`);
    await h.db.pool.query(`UPDATE chase SET name = 'r4 changed' WHERE id = 4`);

    // Each short run loads one page of 2 rows while 4 rows with higher keys arrive: unbounded, the load would
    // chase them for ever (and the slot would keep its WAL and deletes meanwhile).
    let next = 100;
    let runs = 1;
    while ((await cursorOf('chase'))?.load && runs < 12) {
      await h.db.pool.query(
        `INSERT INTO chase SELECT g, 'r' || g, g FROM generate_series($1::int, $1::int + 3) g`,
        [next],
      );
      next += 4;
      expect(await shortRun('chase')).toMatchObject({ status: 'SUCCEEDED' });
      runs++;
    }
    expect((await cursorOf('chase'))?.load ?? null).toBeNull();
    expect(runs).toBeLessThan(12);
    expect((await definitionStatus(h.db.pool, 'chase'))[0].captureLoad).toBeNull();

    // The slot brings the rows above the bound and the changes made during the load.
    let done = await runPush(h.ctx, 'chase', { trigger: 'test' });
    while (!done.complete) done = await runPush(h.ctx, 'chase', { trigger: 'test' });
    expect(done).toMatchObject({ status: 'SUCCEEDED', failed: 0 });
    await expectInSync('chase');
    const titles = (await h.items('chase')).map((i) => String(i.fields.Title));
    expect(titles).toEqual(expect.arrayContaining(['r7', 'r18 changed', 'r4 changed', `r${next - 1}`]));
    expect(titles).not.toContain('r2');
    expect(titles).not.toContain('r16');
    expect(new Set(titles).size).toBe(titles.length);
  }, 120000);

  it('bounds composite text and uuid keys in the load order, an empty table and a load stored without a bound', async () => {
    await h.db.pool.query(
      `CREATE TABLE pairs (region text, id uuid, name text, budget numeric(12,2), PRIMARY KEY (region, id))`,
    );
    await h.db.pool.query(
      `INSERT INTO pairs SELECT r, ('00000000-0000-0000-0000-00000000000' || g)::uuid, r || g, g
         FROM unnest(ARRAY['a', 'b']) r, generate_series(1, 3) g`,
    );
    const pairs = { table: 'pairs', key: ['region', 'id'], cursor: { type: 'LSN' as const }, pageSize: 2 };
    await h.define(lsnDefinition('pairs', { source: pairs }));
    expect(await shortRun('pairs')).toMatchObject({ status: 'SUCCEEDED', complete: false, created: 2 });
    expect((await cursorOf('pairs'))?.load).toMatchObject({
      after: ['a', '00000000-0000-0000-0000-000000000002'],
      upto: ['b', '00000000-0000-0000-0000-000000000003'],
    });
    // Above the bound in the load's order (same region, higher uuid; a later region), and below it.
    await h.db.pool.query(
      `INSERT INTO pairs VALUES ('b', '00000000-0000-0000-0000-000000000009', 'b9', 9),
         ('c', '00000000-0000-0000-0000-000000000001', 'c1', 1), ('a', '00000000-0000-0000-0000-000000000005', 'a5', 5)`,
    );
    let run = await shortRun('pairs');
    for (let i = 0; i < 10 && (await cursorOf('pairs'))?.load; i++) run = await shortRun('pairs');
    expect((await cursorOf('pairs'))?.load ?? null).toBeNull();
    while (!run.complete) run = await runPush(h.ctx, 'pairs', { trigger: 'test' });
    await expectInSync('pairs');
    expect(await h.items('pairs')).toHaveLength(9);

    // An empty table: nothing to load (bound null); its rows come through the slot.
    await h.db.pool.query(`CREATE TABLE empty (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
    await h.define(lsnDefinition('empty'));
    expect(await shortRun('empty')).toMatchObject({ status: 'SUCCEEDED', created: 0 });
    await h.db.pool.query(`INSERT INTO empty VALUES (1, 'one', 1)`);
    expect(await runPush(h.ctx, 'empty', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: 1,
    });

    // A load stored without a bound (an older version's cursor, a crash before the bound was stored): the next
    // run reads the bound once, stores it, and keeps it.
    const id = (await getDefinition(h.db.pool, 'empty')).id;
    const cursor = await readLsnCursor(h.db.pool, id);
    await writeLsnCursor(h.db.pool, id, { lsn: cursor!.lsn, load: { after: null, reason: 'older version' } });
    await h.db.pool.query(`INSERT INTO empty SELECT g, 'r' || g, g FROM generate_series(2, 120) g`);
    const resumed = await shortRun('empty');
    expect(await detailsOf(resumed.runId)).toMatchObject({ loadBound: [120], captureLoad: 'older version' });
    await h.db.pool.query(`INSERT INTO empty VALUES (500, 'r500', 500)`);
    await shortRun('empty');
    expect((await readLsnCursor(h.db.pool, id))?.load).toMatchObject({ upto: [120] });
    let rest = await runPush(h.ctx, 'empty', { trigger: 'test' });
    while (!rest.complete) rest = await runPush(h.ctx, 'empty', { trigger: 'test' });
    await expectInSync('empty');
  }, 120000);

  /**
   * Rows 1..6 loaded two at a time: after the first page the table is truncated and row 7 inserted (above the
   * load's bound: it comes through the slot). The TRUNCATE is only in the slot when the load ends: the comparison
   * that ends it would find r1 and r2 gone.
   */
  async function truncateDuringLoad(table: string, truncate?: 'IGNORE' | 'PROPAGATE'): Promise<string> {
    await h.db.pool.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
    await h.db.pool.query(`INSERT INTO ${table} SELECT g, 'r' || g, g FROM generate_series(1, 6) g`);
    await h.define(
      lsnDefinition(table, {
        source: { table, key: ['id'], cursor: { type: 'LSN' }, pageSize: 2 },
        ...(truncate ? { deletes: { truncate } } : {}),
      }),
    );
    expect(await shortRun(table)).toMatchObject({ status: 'SUCCEEDED', complete: false, created: 2 });
    await h.db.pool.query(`TRUNCATE ${table}`);
    await h.db.pool.query(`INSERT INTO ${table} VALUES (7, 'r7', 7)`);
    return (await getDefinition(h.db.pool, table)).id;
  }

  const fullRun = (table: string) => runPush(h.ctx, table, { trigger: 'test' });

  const titles = async (table: string) => (await h.items(table)).map((i) => String(i.fields.Title)).sort();

  it('a TRUNCATE during the load is decided by deletes.truncate PARK, not by the comparison that ends the load', async () => {
    const id = await truncateDuringLoad('loadtrunc');
    // The preview records nothing, and shows no deletes: the TRUNCATE decides them.
    const preview = await previewPush(h.ctx, 'loadtrunc', { trigger: 'test' });
    expect(preview).toMatchObject({ dryRun: true, deleted: 0 });
    expect(await openTruncates(h.db.pool, id)).toEqual([]);
    const next = await fullRun('loadtrunc');
    expect(next).toMatchObject({ status: 'SUCCEEDED', deleted: 0 });
    expect(await titles('loadtrunc')).toEqual(['r1', 'r2']);
    expect(await detailsOf(next.runId)).toHaveProperty('truncateParked');
    expect(await openTruncates(h.db.pool, id)).toMatchObject([{ decision: null }]);

    // IGNORE keeps the items of the truncated rows; the slot then meets the TRUNCATE already applied and carries on.
    await decideTruncate(h.db.pool, id, 'loadtrunc', 'IGNORE', 'test');
    expect(await fullRun('loadtrunc')).toMatchObject({ status: 'SUCCEEDED', deleted: 0 });
    expect(await openTruncates(h.db.pool, id)).toEqual([]);
    expect(await titles('loadtrunc')).toEqual(['r1', 'r2', 'r7']);
    expect((await cursorOf('loadtrunc'))?.load).toBeNull();
  }, 60000);

  it.each([
    ['IGNORE', 0, ['r1', 'r2', 'r7']],
    ['PROPAGATE', 2, ['r7']],
  ] as const)(
    'a TRUNCATE during the load under deletes.truncate %s: %i items deleted, once',
    async (truncate, deleted, left) => {
      const table = `loadtrunc_${truncate.toLowerCase()}`;
      const id = await truncateDuringLoad(table, truncate);
      const next = await fullRun(table);
      expect(next).toMatchObject({ status: 'SUCCEEDED', deleted });
      expect(await detailsOf(next.runId)).toMatchObject({ truncate: { decision: truncate } });
      expect(await titles(table)).toEqual(left);
      expect(await openTruncates(h.db.pool, id)).toEqual([]);
      // The slot met the TRUNCATE already applied: a later run deletes nothing more.
      expect(await fullRun(table)).toMatchObject({ status: 'SUCCEEDED', deleted: 0 });
      expect(await titles(table)).toEqual(left);
    },
    60000,
  );

  it('a push killed after it recorded the TRUNCATE found at the end of the load, before the load was marked done, still leaves it to PARK', async () => {
    const id = await truncateDuringLoad('loadtrunc_kill');
    // The load finds no more rows below its bound and writes no position: the child waits at its first cursor
    // write after the record (the held comparison's), and is killed there.
    const client = await h.db.pool.connect();
    let killed: boolean;
    try {
      await client.query('BEGIN');
      await client.query('LOCK TABLE arcore.sync_cursors IN SHARE MODE');
      killed = await killWhen(
        spawnEngineChild(h, ['push', 'loadtrunc_kill']),
        async () => (await openTruncates(h.db.pool, id)).length > 0,
        'the TRUNCATE recorded',
      );
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    expect(killed).toBe(true);
    expect((await cursorOf('loadtrunc_kill'))?.load).not.toBeNull();
    await lockReleased(h, 'loadtrunc_kill');

    const rerun = await fullRun('loadtrunc_kill');
    expect(rerun).toMatchObject({ status: 'SUCCEEDED', deleted: 0 });
    expect(await detailsOf(rerun.runId)).toHaveProperty('truncateParked');
    expect(await titles('loadtrunc_kill')).toEqual(['r1', 'r2']);
    expect(await openTruncates(h.db.pool, id)).toMatchObject([{ decision: null }]);
  }, 60000);

  it('a TRUNCATE after the load, while its comparison is owed (stopped by the time budget), is still left to PARK', async () => {
    await h.db.pool.query(
      `CREATE TABLE loadtrunc_owed (id integer PRIMARY KEY, name text, budget numeric(12,2))`,
    );
    await h.db.pool.query(`INSERT INTO loadtrunc_owed SELECT g, 'r' || g, g FROM generate_series(1, 6) g`);
    await h.define(
      lsnDefinition('loadtrunc_owed', {
        source: { table: 'loadtrunc_owed', key: ['id'], cursor: { type: 'LSN' }, pageSize: 2 },
      }),
    );
    expect(await fullRun('loadtrunc_owed')).toMatchObject({ status: 'SUCCEEDED', created: 6 });
    // The comparison's chunk is DELETE_CHUNK_ROWS ledger rows: the state a run stopped by its time budget leaves
    // after a load of more rows than that, set directly (owed from its start).
    const { id } = await getDefinition(h.db.pool, 'loadtrunc_owed');
    await h.db.pool.query(
      `UPDATE arcore.sync_cursors SET deletes_full_position = '' WHERE definition_id = $1 AND scope = 'SOURCE'`,
      [id],
    );
    expect(await cursorOf('loadtrunc_owed')).toMatchObject({ load: null, deletesOwed: true });
    await h.db.pool.query('TRUNCATE loadtrunc_owed');
    const next = await fullRun('loadtrunc_owed');
    expect(next).toMatchObject({ status: 'SUCCEEDED', deleted: 0 });
    expect(await detailsOf(next.runId)).toHaveProperty('truncateParked');
    expect(await titles('loadtrunc_owed')).toHaveLength(6);
    expect(await openTruncates(h.db.pool, id)).toMatchObject([{ decision: null }]);
  }, 60000);
});

import { decideTruncate, lsnNames, openTruncates } from '../../../../src/core/capture/lsn';
import { previewPush } from '../../../../src/core/engine/dryRun';
import { runPull } from '../../../../src/core/engine/pull';
import { verifyDefinition } from '../../../../src/core/engine/verify';
import { parseLsn } from '../../../../src/core/capture/lsn/pgoutput';
import { runPush } from '../../../../src/core/engine/push';
import { getDefinition } from '../../../../src/core/store/definitions';
import { readInstallationId } from '../../../../src/core/store/installation';
import { tryLockDefinition } from '../../../../src/core/store/locks';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../../support/engineHarness';
import { closeCapturing, lsnDefinition } from '../../../support/capture';

/**
 * Change data capture (source.cursor.type LSN, I17) on the shared Postgres 18 (wal_level=logical) and the
 * emulator: one harness, one table and list per scenario.
 */
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => closeCapturing(h));

/** A table without any timestamp column. */
async function createPlainTable(table: string): Promise<void> {
  await h.db.pool.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
}

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });

async function titles(list: string): Promise<string[]> {
  return (await h.items(list)).map((i) => String(i.fields.Title)).sort();
}

/** Requests that could write (every write, batched or not, is a POST, PATCH or DELETE). */
function graphWrites(since: number): number {
  return h.emulator.control
    .requestLog()
    .slice(since)
    .filter((r) => r.method !== 'GET').length;
}

async function slotOf(name: string): Promise<{ confirmed: string } | null> {
  const stored = await getDefinition(h.db.pool, name);
  const { slot } = lsnNames(await readInstallationId(h.db.pool), stored.id, name);
  const { rows } = await h.db.pool.query<{ confirmed: string }>(
    'SELECT confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return rows[0] ?? null;
}

describe('LSN capture', () => {
  it('loads a table without updated_at, then pushes inserts, updates, key changes and deletes; idle costs no Graph request', async () => {
    await createPlainTable('kinds');
    await h.db.pool.query(`INSERT INTO kinds VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', 3)`);
    await h.define(lsnDefinition('kinds'));

    const first = await push('kinds');
    expect(first).toMatchObject({ status: 'SUCCEEDED', created: 3, failed: 0, complete: true });
    expect(await titles('kinds')).toEqual(['one', 'three', 'two']);
    expect(await slotOf('kinds')).not.toBeNull();

    await h.db.pool.query(`INSERT INTO kinds VALUES (4, 'four', 4)`);
    await h.db.pool.query(`UPDATE kinds SET name = 'ONE' WHERE id = 1`); // no timestamp moves
    await h.db.pool.query(`DELETE FROM kinds WHERE id = 2`);
    await h.db.pool.query(`UPDATE kinds SET id = 30 WHERE id = 3`); // a key change: delete + insert
    const confirmed = await slotOf('kinds');
    const dry = await previewPush(h.ctx, 'kinds', { trigger: 'test' });
    expect(dry).toMatchObject({ dryRun: true, created: 2, updated: 1, deleted: 2 });
    expect(await slotOf('kinds')).toEqual(confirmed); // a dry run moves no slot
    expect(await titles('kinds')).toEqual(['one', 'three', 'two']);
    const second = await push('kinds');
    expect(second).toMatchObject({ status: 'SUCCEEDED', created: 2, updated: 1, deleted: 2, failed: 0 });
    expect(await titles('kinds')).toEqual(['ONE', 'four', 'three']);

    const before = h.emulator.control.requestLog().length;
    const idle = await push('kinds');
    expect(idle).toMatchObject({ status: 'SUCCEEDED', processed: 0, graphRequests: 0 });
    expect(h.emulator.control.requestLog().length).toBe(before);

    // WAL of other tables moves on: an idle run confirms it past a segment, so the slot does not keep it
    await h.db.pool.query('CREATE TABLE elsewhere (n int)');
    for (let i = 0; i < 2; i++) {
      await h.db.pool.query('INSERT INTO elsewhere VALUES (1)');
      await h.db.pool.query('SELECT pg_switch_wal()');
    }
    await h.db.pool.query('INSERT INTO elsewhere VALUES (2)');
    const held = (await slotOf('kinds'))?.confirmed as string;
    expect(await push('kinds')).toMatchObject({ status: 'SUCCEEDED', processed: 0, graphRequests: 0 });
    const moved = (await slotOf('kinds'))?.confirmed as string;
    expect(parseLsn(moved) - parseLsn(held)).toBeGreaterThanOrEqual(16n * 1024n * 1024n);

    // verify reads an LSN table in key order (it has no timestamp)
    expect(await verifyDefinition(h.ctx, 'kinds')).toMatchObject({ agree: true, rows: 3, paired: 3 });
  });

  /**
   * A replication slot serves one reader at a time: a dry run's peek beside a run's made one of them fail ("slot is
   * active"), the run after its writes. A dry run of an LSN definition takes the definition's lock, as a run does,
   * and is SKIPPED while a run holds it (found by review).
   */
  it('a dry run waits its turn at the slot: SKIPPED while a run holds the definition, a preview once it is free', async () => {
    await createPlainTable('dryturn');
    await h.db.pool.query(`INSERT INTO dryturn VALUES (1, 'one', 1)`);
    await h.define(lsnDefinition('dryturn'));
    await push('dryturn');
    await h.db.pool.query(`INSERT INTO dryturn VALUES (2, 'two', 2)`);
    const stored = await getDefinition(h.db.pool, 'dryturn');
    const running = await tryLockDefinition(h.db.pool, stored.id);
    try {
      expect(await previewPush(h.ctx, 'dryturn', { trigger: 'test' })).toMatchObject({ status: 'SKIPPED' });
    } finally {
      await running?.release();
    }
    expect(await previewPush(h.ctx, 'dryturn', { trigger: 'test' })).toMatchObject({
      dryRun: true,
      status: 'SUCCEEDED',
      created: 1,
    });
    const { rows } = await h.db.pool.query(
      "SELECT count(*)::int AS n FROM arcore.sync_runs WHERE definition_id = $1 AND run_type = 'PUSH'",
      [stored.id],
    );
    expect(rows[0].n).toBe(1); // the first push only: a dry run records no run
  });

  it('refuses to publish a table whose replica identity lacks the key, naming the ALTER TABLE to run', async () => {
    await h.db.pool.query(`CREATE TABLE ident (id integer NOT NULL UNIQUE, name text, budget numeric(12,2))`);
    await h.define(lsnDefinition('ident'));
    const refused = await push('ident');
    expect(refused.status).toBe('FAILED');
    expect(refused.error).toContain('ALTER TABLE "public"."ident" REPLICA IDENTITY FULL;');
    await h.db.pool.query('ALTER TABLE ident REPLICA IDENTITY FULL');
    await h.db.pool.query(`INSERT INTO ident VALUES (1, 'a', 1)`);
    expect(await push('ident')).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    await h.db.pool.query('DELETE FROM ident');
    expect(await push('ident')).toMatchObject({ status: 'SUCCEEDED', deleted: 1 });
  });

  it('reads its own pull writes back and finds them equal to the ledger: the next push sends nothing', async () => {
    await createPlainTable('echo');
    await h.db.pool.query(`INSERT INTO echo VALUES (1, 'a', 1)`);
    await h.define(lsnDefinition('echo'));
    await push('echo');
    await runPull(h.ctx, 'echo', { trigger: 'test' }); // the first pull reads the list in full
    const [item] = await h.items('echo');
    const edited = await h.asUser('PATCH', `/sites/${h.siteId}/lists/echo/items/${item.id}/fields`, {
      Title: 'from SharePoint',
    });
    expect(edited.status).toBe(200);
    const pulled = await runPull(h.ctx, 'echo', { trigger: 'test' });
    expect(pulled).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
    const { rows } = await h.db.pool.query('SELECT name FROM echo WHERE id = 1');
    expect(rows[0].name).toBe('from SharePoint');

    const before = h.emulator.control.requestLog().length;
    const next = await runPush(h.ctx, 'echo', { trigger: 'test' });
    // The own-origin transaction's row is read back by key and compared with the ledger (I3): an echo, no write.
    expect(next).toMatchObject({
      status: 'SUCCEEDED',
      processed: 1,
      created: 0,
      updated: 0,
      graphRequests: 0,
    });
    expect(graphWrites(before)).toBe(0);
    const stored = await h.db.pool.query<{ details: { ownWritesRead?: number } }>(
      'SELECT details FROM arcore.sync_runs WHERE id = $1',
      [next.runId],
    );
    expect(stored.rows[0].details.ownWritesRead).toBe(1);
  });

  it('TRUNCATE: PARK stops pushes until decided; PROPAGATE deletes the paired items; IGNORE keeps them', async () => {
    await createPlainTable('trunc');
    await h.db.pool.query(`INSERT INTO trunc VALUES (1, 'a', 1), (2, 'b', 2)`);
    await h.define(lsnDefinition('trunc'));
    await push('trunc');

    await h.db.pool.query('TRUNCATE trunc');
    await h.db.pool.query(`INSERT INTO trunc VALUES (3, 'after', 3)`);
    const parked = await push('trunc');
    // Complete (a continuation would only meet the TRUNCATE again); the run record says what waits.
    expect(parked).toMatchObject({ status: 'SUCCEEDED', complete: true, deleted: 0, created: 0 });
    const record = await h.db.pool.query<{ details: { truncateParked?: { message: string } } }>(
      'SELECT details FROM arcore.sync_runs WHERE id = $1',
      [parked.runId],
    );
    expect(record.rows[0].details.truncateParked?.message).toContain(
      'arcore-sync truncate-decide trunc --propagate',
    );
    expect(await titles('trunc')).toEqual(['a', 'b']);
    const again = await push('trunc');
    expect(again).toMatchObject({ created: 0, deleted: 0 });
    const stored = await getDefinition(h.db.pool, 'trunc');
    expect(await openTruncates(h.db.pool, stored.id)).toHaveLength(1);

    await decideTruncate(h.db.pool, stored.id, 'trunc', 'PROPAGATE', 'test');
    await expect(decideTruncate(h.db.pool, stored.id, 'trunc', 'IGNORE', 'test')).rejects.toThrow(
      /no TRUNCATE waiting/,
    );
    const decided = await push('trunc');
    expect(decided).toMatchObject({ status: 'SUCCEEDED', complete: true, deleted: 2, created: 1 });
    expect(await titles('trunc')).toEqual(['after']);
    expect(await openTruncates(h.db.pool, stored.id)).toHaveLength(0);

    await h.define(lsnDefinition('trunc', { deletes: { truncate: 'IGNORE' } }));
    await h.db.pool.query('TRUNCATE trunc');
    const ignored = await push('trunc');
    expect(ignored).toMatchObject({ status: 'SUCCEEDED', complete: true, deleted: 0 });
    expect(await titles('trunc')).toEqual(['after']);

    await h.db.pool.query(`INSERT INTO trunc VALUES (3, 'back', 3)`);
    await push('trunc');
    await h.define(lsnDefinition('trunc', { deletes: { truncate: 'PROPAGATE' } }));
    await h.db.pool.query('TRUNCATE trunc');
    const propagated = await push('trunc');
    expect(propagated).toMatchObject({ status: 'SUCCEEDED', complete: true, deleted: 1 });
    expect(await h.items('trunc')).toHaveLength(0);
  });

  it('TRUNCATE and refill in one transaction under PROPAGATE keeps the refilled rows’ items (no delete and re-create)', async () => {
    await createPlainTable('reload');
    await h.db.pool.query(`INSERT INTO reload VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)`);
    await h.define(lsnDefinition('reload', { deletes: { truncate: 'PROPAGATE' } }));
    expect(await push('reload')).toMatchObject({ created: 3 });
    const ids = async () => (await h.items('reload')).map((i) => `${i.id}:${String(i.fields.Title)}`).sort();
    const before = await ids();
    // The nightly reload: the table emptied and filled again in one transaction; row 3 left out, row 2 changed.
    await h.db.pool.query(
      `BEGIN; TRUNCATE reload; INSERT INTO reload VALUES (1, 'a', 1), (2, 'b2', 2); COMMIT`,
    );
    const reloaded = await push('reload');
    expect(reloaded).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 1, deleted: 1 });
    expect(await ids()).toEqual(before.filter((i) => !i.endsWith(':c')).map((i) => i.replace(':b', ':b2')));
  });

  it('switches TIMESTAMP → LSN → TIMESTAMP without rewriting unchanged items, and drops the slot on the way back', async () => {
    await createProjectsTable(h.db, 'switch');
    await h.db.pool.query(`INSERT INTO switch (id, name) SELECT g, 'p' || g FROM generate_series(1, 5) g`);
    const timestamp = projectsDefinition({ name: 'switch' }, 'switch');
    timestamp.source = { table: 'switch', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } };
    await h.define(timestamp);
    expect(await push('switch')).toMatchObject({ created: 5 });

    await h.define({ ...timestamp, source: { table: 'switch', key: ['id'], cursor: { type: 'LSN' } } });
    const before = h.emulator.control.requestLog().length;
    const toLsn = await push('switch');
    expect(graphWrites(before)).toBe(0);
    expect(toLsn).toMatchObject({
      status: 'SUCCEEDED',
      created: 0,
      updated: 0,
      deleted: 0,
    });
    expect(await slotOf('switch')).not.toBeNull();
    await h.db.pool.query(`UPDATE switch SET name = 'changed' WHERE id = 2`);
    expect(await push('switch')).toMatchObject({ updated: 1 });

    await h.define(timestamp);
    await h.db.pool.query(`UPDATE switch SET name = 'changed again' WHERE id = 3`);
    const back = await push('switch');
    expect(back).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 1, deleted: 0 });
    expect(await slotOf('switch')).toBeNull();
  });

  it('recovers from a missing slot and a missing publication by a full re-read, without duplicates', async () => {
    await createPlainTable('lost');
    await h.db.pool.query(`INSERT INTO lost VALUES (1, 'a', 1), (2, 'b', 2)`);
    await h.define(lsnDefinition('lost'));
    await push('lost');
    const stored = await getDefinition(h.db.pool, 'lost');
    const names = lsnNames(await readInstallationId(h.db.pool), stored.id, 'lost');

    await h.db.pool.query('SELECT pg_drop_replication_slot($1)', [names.slot]);
    await h.db.pool.query(`UPDATE lost SET name = 'A' WHERE id = 1`); // made while no slot existed
    await h.db.pool.query(`DELETE FROM lost WHERE id = 2`);
    const recovered = await push('lost');
    expect(recovered).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 1, deleted: 1 });
    const { rows } = await h.db.pool.query<{ details: { captureRestarted?: string } }>(
      'SELECT details FROM arcore.sync_runs WHERE id = $1',
      [recovered.runId],
    );
    expect(rows[0].details.captureRestarted).toMatch(/missing: full re-read and compare/);
    expect(await titles('lost')).toEqual(['A']);

    await h.db.pool.query(`DROP PUBLICATION ${names.publication}`);
    await h.db.pool.query(`INSERT INTO lost VALUES (3, 'c', 3)`);
    const again = await push('lost');
    expect(again).toMatchObject({ status: 'SUCCEEDED', created: 1, updated: 0 });
    expect(await titles('lost')).toEqual(['A', 'c']);
  });

  it('fails the definition with a clear message when a mapped column is dropped; other columns are ignored', async () => {
    await createPlainTable('shape');
    await h.db.pool.query(`ALTER TABLE shape ADD COLUMN spare text`);
    await h.db.pool.query(`INSERT INTO shape VALUES (1, 'a', 1)`);
    await h.define(lsnDefinition('shape'));
    await push('shape');
    await h.db.pool.query(`ALTER TABLE shape DROP COLUMN spare`);
    await h.db.pool.query(`UPDATE shape SET name = 'b'`);
    expect(await push('shape')).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
    await h.db.pool.query(`ALTER TABLE shape DROP COLUMN budget`);
    const failed = await push('shape');
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatch(/budget/);
  });
});

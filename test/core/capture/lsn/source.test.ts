import { lsnNames } from '../../../../src/core/capture/lsn';
import { parseDefinition } from '../../../../src/core/definition/parse';
import { removeDefinition } from '../../../../src/core/ops/remove';
import { runPush } from '../../../../src/core/engine/push';
import type { EngineContext } from '../../../../src/core/engine/types';
import { getDefinition, upsertDefinitions } from '../../../../src/core/store/definitions';
import { readInstallationId } from '../../../../src/core/store/installation';
import { closeCapturing, dropCaptureObjects, lsnDefinition } from '../../../support/capture';
import { freshDatabase, type TestDatabase } from '../../../support/db';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { startOwnPostgres, type OwnPostgres } from '../../../support/ownPostgres';

/**
 * docs/design.md I17: a definition re-pointed at another server (source.connection changed: the table moved, the old
 * server kept running) found no slot on the new one and started capture there, but the slot it had created on the old
 * server stayed, inactive, holding that server's WAL from then on without bound, with no word: `status`, `remove` and
 * the disabled-slot timer look on the current connection only (found by review). Capture now records where its slot
 * lives (capture/lsn/source.ts) and, starting on another server or database, drops the old slot there, or names it
 * with the statements to run when the old connection no longer reaches it.
 */
let pg: OwnPostgres;
let other: TestDatabase;
let third: TestDatabase;
let h: Harness;
const CONNECTION = 'ARCORE_CONNECTION_MOVED';
beforeAll(async () => {
  pg = await startOwnPostgres({ wal_level: 'logical' });
  other = await freshDatabase(pg.adminUrl);
  third = await freshDatabase();
  h = await startHarness();
  process.env[CONNECTION] = other.url;
}, 60000);
afterAll(async () => {
  delete process.env[CONNECTION];
  for (const db of [other, third]) {
    await dropCaptureObjects(db.pool);
    await db.drop();
  }
  await closeCapturing(h);
  await pg.stop();
});

const slotsNamed = async (db: { pool: TestDatabase['pool'] }, slot: string) =>
  (await db.pool.query('SELECT database FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows;
const previousSlot = async (runId: string | null) =>
  (
    await h.db.pool.query<{ details: { previousSlot?: string } }>(
      'SELECT details FROM arcore.sync_runs WHERE id = $1',
      [runId],
    )
  ).rows[0].details.previousSlot ?? null;

/** A two-row table under LSN capture, pushed once: its DDL (for the other servers), its definition as stored, its slot. */
async function capturedTable(name: string) {
  const ddl = `CREATE TABLE ${name} (id integer PRIMARY KEY, name text, budget numeric(12,2));
    INSERT INTO ${name} VALUES (1, 'a', 1), (2, 'b', 2)`;
  await h.db.pool.query(ddl);
  await h.define(lsnDefinition(name));
  expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 2 });
  const stored = await getDefinition(h.db.pool, name);
  return { ddl, stored, slot: lsnNames(await readInstallationId(h.db.pool), stored.id, name).slot };
}

it('the slot left on the server a definition was re-pointed away from is dropped there, or named with the SQL to drop it', async () => {
  const { ddl, slot } = await capturedTable('moved');

  // The table moves to the other server and the definition follows it; the old connection is still configured.
  await other.pool.query(ddl);
  const input = lsnDefinition('moved');
  await upsertDefinitions(h.db.pool, [
    parseDefinition({ ...input, source: { ...input.source, connection: 'MOVED' } }),
  ]);
  const moved = await runPush(h.ctx, 'moved', { trigger: 'test' });
  expect(moved).toMatchObject({ status: 'SUCCEEDED', created: 0, deleted: 0 });
  expect(await slotsNamed(other, slot)).toHaveLength(1);
  expect(await slotsNamed(h.db, slot)).toEqual([]);
  expect(await previousSlot(moved.runId)).toMatch(
    /no longer reads: dropped there slot arcore_\w+, publication/,
  );
  // Captured on the new server from then on; a run there with its slot in place leaves nothing behind.
  await other.pool.query(`UPDATE moved SET name = 'a2' WHERE id = 1`);
  const next = await runPush(h.ctx, 'moved', { trigger: 'test' });
  expect(next).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
  expect(await previousSlot(next.runId)).toBeNull();

  // The connection's string now names a third database (the same name, re-pointed): the old server cannot be
  // reached through it, so its slot is named with the statements to run there, and kept.
  await third.pool.query(ddl);
  await third.pool.query(`UPDATE moved SET name = 'a2' WHERE id = 1`);
  process.env[CONNECTION] = third.url;
  const instance = await h.otherInstance();
  try {
    const ctx: EngineContext = instance.ctx;
    const repointed = await runPush(ctx, 'moved', { trigger: 'test' });
    expect(repointed).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 0, deleted: 0 });
    const told = await previousSlot(repointed.runId);
    expect(told).toContain(
      `replication slot "${slot}" of this definition lives on database "${other.url.split('/').pop()}"`,
    );
    expect(told).toContain(`cannot be reached through connection "MOVED" now`);
    expect(told).toContain(
      `Run there: SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${slot}';`,
    );
    expect(await slotsNamed(other, slot)).toHaveLength(1);
  } finally {
    await instance.close();
  }
}, 60000);

it('remove right after a re-point drops the slot where capture last lived too', async () => {
  const ddl = `CREATE TABLE removed (id integer PRIMARY KEY, name text, budget numeric(12,2));
    INSERT INTO removed VALUES (1, 'a', 1)`;
  await h.db.pool.query(ddl);
  await h.define(lsnDefinition('removed'));
  expect(await runPush(h.ctx, 'removed', { trigger: 'test' })).toMatchObject({ created: 1 });
  const stored = await getDefinition(h.db.pool, 'removed');
  const { slot } = lsnNames(await readInstallationId(h.db.pool), stored.id, 'removed');
  process.env[CONNECTION] = other.url;
  const input = lsnDefinition('removed');
  await upsertDefinitions(h.db.pool, [
    parseDefinition({ ...input, source: { ...input.source, connection: 'MOVED' } }),
  ]);
  // Removed before any push on the new connection: the slot lives on the old one still.
  const instance = await h.otherInstance();
  try {
    const removed = await removeDefinition(instance.ctx, 'removed');
    expect(removed.replication?.dropped).toEqual(expect.arrayContaining([{ kind: 'slot', name: slot }]));
  } finally {
    await instance.close();
  }
  expect(await slotsNamed(h.db, slot)).toEqual([]);
}, 60000);

/**
 * Where the slot lives is known whatever stopped the run that created it, and for a cursor written before it was
 * recorded (an upgrade): otherwise a later re-point finds the wrong server, or none, recorded, and the slot it left
 * holds that server's WAL with no word (review r34).
 */
it('the record of where the slot lives holds through a run stopped before it and a cursor written without it', async () => {
  const { ddl, stored, slot } = await capturedTable('kept');
  const repoint = async (connection: string) => {
    const input = lsnDefinition('kept');
    await upsertDefinitions(h.db.pool, [
      parseDefinition({ ...input, source: { ...input.source, connection } }),
    ]);
  };

  // A cursor written before its slot's place was recorded (migration 047): a run that reads the slot records it.
  await h.db.pool.query('UPDATE arcore.sync_cursors SET capture_source = NULL WHERE definition_id = $1', [
    stored.id,
  ]);
  await h.db.pool.query(`UPDATE kept SET name = 'a2' WHERE id = 1`);
  expect(await runPush(h.ctx, 'kept', { trigger: 'test' })).toMatchObject({ updated: 1 });
  process.env[CONNECTION] = other.url;
  await other.pool.query(ddl);
  await other.pool.query(`UPDATE kept SET name = 'a2' WHERE id = 1`);
  await repoint('MOVED');
  expect(await runPush(h.ctx, 'kept', { trigger: 'test' })).toMatchObject({ status: 'SUCCEEDED' });
  expect(await slotsNamed(h.db, slot)).toEqual([]);
  expect(await slotsNamed(other, slot)).toHaveLength(1);

  // Re-pointed again, the run stops (its metadata write refused) once the slot exists on the new database and
  // before where it lives is recorded: the next run's record names the new database, so the re-point back drops it.
  const thirdConnection = 'ARCORE_CONNECTION_THIRD';
  process.env[thirdConnection] = third.url;
  try {
    await third.pool.query(ddl);
    await repoint('THIRD');
    await h.db.pool.query(`CREATE FUNCTION pg_temp_stop() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'stopped before the capture source was recorded'; END $$`);
    await h.db.pool.query(`CREATE TRIGGER stop_record BEFORE UPDATE ON arcore.sync_cursors FOR EACH ROW
      WHEN (OLD.capture_source IS DISTINCT FROM NEW.capture_source) EXECUTE FUNCTION pg_temp_stop()`);
    try {
      expect(await runPush(h.ctx, 'kept', { trigger: 'test' })).toMatchObject({ status: 'FAILED' });
    } finally {
      await h.db.pool.query('DROP TRIGGER stop_record ON arcore.sync_cursors; DROP FUNCTION pg_temp_stop()');
    }
    expect(await slotsNamed(third, slot)).toHaveLength(1);
    await third.pool.query(`INSERT INTO kept VALUES (3, 'c', 3)`);
    expect(await runPush(h.ctx, 'kept', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: 1,
    });
    await repoint('MOVED');
    expect(await runPush(h.ctx, 'kept', { trigger: 'test' })).toMatchObject({ status: 'SUCCEEDED' });
    expect(await slotsNamed(third, slot)).toEqual([]);
  } finally {
    delete process.env[thirdConnection];
  }
}, 60000);

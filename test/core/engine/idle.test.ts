import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { probeIdle } from '../../../src/core/engine/idle';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { resolveConflict } from '../../../src/core/engine/resolve';
import { Pool } from 'pg';
import type { EngineContext, RunSummary } from '../../../src/core/engine/types';
import { definitionStatus, installCursorFor } from '../../../src/core/ops';
import { KEEP_CURSOR_SETTING } from '../../../src/core/source/postgres/PostgresSource';
import { park } from '../../../src/core/store/failures';
import { getDefinition } from '../../../src/core/store/definitions';
import { readInstallationId } from '../../../src/core/store/installation';
import { lsnNames } from '../../../src/core/capture/lsn';
import { parseLsn } from '../../../src/core/capture/lsn/pgoutput';
import { closeCapturing } from '../../support/capture';
import { defineProjects } from '../../support/projects';
import {
  createProjectsTable,
  projectsDefinition,
  SITE,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/**
 * The idle probe (I18): a scheduled push that finds nothing to do costs one statement, no run row and no Graph
 * request, and never hides a change from the push after it.
 */
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  // The cluster is shared with other test files whose WAL would otherwise pass the probe's 256 kB bound between
  // a run and the probe after it; the bound itself is tested with its own context below.
  h.ctx.idleSlotLagBytes = 1024 ** 3;
});
afterAll(() => closeCapturing(h));

const push = (name: string) => runPush(h.ctx, name, { trigger: 'queue' });
const titles = async (list: string) => (await h.items(list)).map((i) => String(i.fields.Title)).sort();

async function runRows(name: string): Promise<number> {
  const { rows } = await h.db.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM arcore.sync_runs r JOIN arcore.sync_definitions d ON d.id = r.definition_id
      WHERE d.name = $1`,
    [name],
  );
  return Number(rows[0].n);
}

/** A push the probe finds idle: no run recorded, no Graph request sent. */
async function expectIdle(name: string): Promise<RunSummary> {
  const requests = h.emulator.control.requestLog().length;
  const runs = await runRows(name);
  const summary = await push(name);
  expect(summary).toMatchObject({ idle: true, status: 'SUCCEEDED', runId: null, graphRequests: 0 });
  expect(h.emulator.control.requestLog().length).toBe(requests);
  expect(await runRows(name)).toBe(runs);
  return summary;
}

/** A push the probe lets through: a recorded run. */
async function expectRun(name: string, counts: Partial<RunSummary>): Promise<void> {
  const summary = await push(name);
  expect(summary.idle).toBeUndefined();
  expect(summary).toMatchObject({ status: 'SUCCEEDED', ...counts });
  expect(summary.runId).not.toBeNull();
}

describe('idle probe, TIMESTAMP with delete capture', () => {
  const name = 'idle_ts';
  let definitionId: string;

  beforeAll(async () => {
    await createProjectsTable(h.db, name);
    const input = projectsDefinition(
      {
        name,
        source: {
          table: name,
          key: ['id'],
          cursor: { type: 'TIMESTAMP', column: 'updated_at' },
          // Every run re-reads nothing behind the cursor, so the window closes as soon as a run has read it.
          overlapSeconds: 0,
        },
      },
      name,
    );
    await h.define(input);
    await installCursorFor(parseDefinition(input), h.db.pool);
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name) SELECT g, 'row ' || g FROM generate_series(1, 3) g`,
    );
    definitionId = (await getDefinition(h.db.pool, name)).id;
  });

  it('runs the first push, then finds the quiet table idle and says when it checked', async () => {
    await expectRun(name, { created: 3 });
    expect(await probeIdle(h.ctx, name)).toMatchObject({ idle: true, busy: [] });
    await expectIdle(name);
    const { rows } = await h.db.pool.query<{ checked: Date | null }>(
      `SELECT idle_checked_at AS checked FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'SOURCE'`,
      [definitionId],
    );
    expect(rows[0].checked).toBeInstanceOf(Date);
    const [status] = await definitionStatus(h.db.pool, name);
    expect(status.idleCheckedAt).toBe((rows[0].checked as Date).toISOString());
    expect(status.idleCheckedAt! > status.lastPush!.startedAt).toBe(true);
    // A forced or test-triggered push runs in full whatever the probe would say.
    expect((await runPush(h.ctx, name, { trigger: 'queue', full: true })).runId).not.toBeNull();
  });

  it('lets every kind of change through: insert, update, delete by tombstone', async () => {
    await h.db.pool.query(`INSERT INTO ${name} (id, name) VALUES (4, 'row 4')`);
    expect((await probeIdle(h.ctx, name))?.busy).toEqual(['rows after the cursor']);
    await expectRun(name, { created: 1 });
    await expectIdle(name);

    await h.db.pool.query(`UPDATE ${name} SET name = 'ROW 1' WHERE id = 1`);
    await expectRun(name, { updated: 1 });
    await expectIdle(name);

    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 2`);
    expect((await probeIdle(h.ctx, name))?.busy).toEqual(['deletes recorded']);
    await expectRun(name, { deleted: 1 });
    await expectIdle(name);
    expect(await titles(name)).toEqual(['ROW 1', 'row 3', 'row 4']);
  });

  it('a parked row waits for its retry, and the push runs once the retry is due', async () => {
    // The row changes without moving its cursor, as a failed write's row sits behind the cursor until retried.
    const client = await h.db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('${KEEP_CURSOR_SETTING}', 'on', true)`);
      await client.query(`UPDATE ${name} SET name = 'retried' WHERE id = 3`);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const { rows } = await h.db.pool.query<{ hash: string }>(
      `SELECT source_identity_hash AS hash FROM arcore.sync_ledger
        WHERE definition_id = $1 AND source_identity->>'id' = '3'`,
      [definitionId],
    );
    await park(h.db.pool, definitionId, {
      direction: 'PUSH',
      itemKey: rows[0].hash,
      sourceIdentity: { id: 3 },
      error: 'injected: Graph answered 503',
    });
    await h.db.pool.query(
      `UPDATE arcore.sync_failures SET next_attempt_at = now() + interval '1 hour' WHERE definition_id = $1`,
      [definitionId],
    );
    await expectIdle(name);
    await h.db.pool.query(
      `UPDATE arcore.sync_failures SET next_attempt_at = now() - interval '1 second' WHERE definition_id = $1`,
      [definitionId],
    );
    expect((await probeIdle(h.ctx, name))?.busy).toEqual(['parked rows due']);
    await expectRun(name, { updated: 1 });
    expect(await titles(name)).toEqual(['ROW 1', 'retried', 'row 4']);
    await expectIdle(name);
  });

  it('a row committed after the probe read is pushed by the next push', async () => {
    const client = await h.db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${name} (id, name) VALUES (5, 'late')`);
      await expectIdle(name); // not committed yet: nothing to see
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await expectRun(name, { created: 1 });
    await expectIdle(name);
  });
});

describe('idle probe, LSN', () => {
  const name = 'idle_lsn';

  const definition = (overrides: Partial<SyncDefinitionInput> = {}): SyncDefinitionInput => ({
    name,
    source: { table: name, key: ['id'], cursor: { type: 'LSN' }, pageSize: 50 },
    target: { site: SITE, list: name },
    fields: [{ source: 'name', target: 'Title' }],
    deletes: { truncate: 'PROPAGATE' },
    ...overrides,
  });

  async function slotConfirmed(): Promise<bigint> {
    const stored = await getDefinition(h.db.pool, name);
    const { slot } = lsnNames(await readInstallationId(h.db.pool), stored.id, name);
    const { rows } = await h.db.pool.query<{ confirmed: string }>(
      'SELECT confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    return parseLsn(rows[0].confirmed);
  }

  beforeAll(async () => {
    await h.db.pool.query(`CREATE TABLE ${name} (id integer PRIMARY KEY, name text)`);
    await h.db.pool.query(`INSERT INTO ${name} VALUES (1, 'one'), (2, 'two')`);
    await h.define(definition());
  });

  it('loads, then finds the quiet slot idle; every change kind gets through', async () => {
    await expectRun(name, { created: 2 });
    await expectIdle(name);

    await h.db.pool.query(`INSERT INTO ${name} VALUES (3, 'three')`);
    expect((await probeIdle(h.ctx, name))?.busy).toEqual(['slot changes']);
    await expectRun(name, { created: 1 });
    await expectIdle(name);

    await h.db.pool.query(`UPDATE ${name} SET name = 'ONE' WHERE id = 1`);
    await expectRun(name, { updated: 1 });
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 2`);
    await expectRun(name, { deleted: 1 });
    await expectIdle(name);
    expect(await titles(name)).toEqual(['ONE', 'three']);

    await h.db.pool.query(`TRUNCATE ${name}`);
    await expectRun(name, { deleted: 2 });
    await expectIdle(name);
    expect(await titles(name)).toEqual([]);
  });

  it('other tables’ WAL does not wake it; a run confirms it so the next peek decodes only new WAL', async () => {
    await h.db.pool.query('CREATE TABLE idle_elsewhere (n int)');
    await h.db.pool.query('INSERT INTO idle_elsewhere SELECT g FROM generate_series(1, 100) g');
    await expectIdle(name);
    // Past the bound, the probe hands over to a run, which confirms the WAL it found nothing in.
    expect((await probeIdle({ ...h.ctx, idleSlotLagBytes: 1 }, name))?.busy).toEqual(['slot behind']);
    const before = await slotConfirmed();
    await runPush(h.ctx, name, { trigger: 'test' });
    expect(await slotConfirmed()).toBeGreaterThan(before);
  });

  it('a transaction open across the slot advance is pushed once it commits', async () => {
    const client = await h.db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${name} VALUES (7, 'seven')`);
      const before = await slotConfirmed();
      // A full run peeks (the insert is not committed), finds nothing and confirms the WAL position it read.
      await h.db.pool.query('INSERT INTO idle_elsewhere VALUES (1)');
      expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ processed: 0 });
      expect(await slotConfirmed()).toBeGreaterThan(before);
      await expectIdle(name);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await expectRun(name, { created: 1 });
    expect(await titles(name)).toEqual(['seven']);
    await expectIdle(name);
  });

  it('a mapped column retyped is a run on the next tick, which records the shape', async () => {
    await h.db.pool.query(`ALTER TABLE ${name} ALTER COLUMN name TYPE varchar(40)`);
    expect((await probeIdle(h.ctx, name))?.busy).toEqual(['table shape changed']);
    await expectRun(name, { updated: 0 });
    await expectIdle(name);
  });
});

describe('idle probe, source pool apart from the metadata pool', () => {
  // Another pool on the same database: the engine treats it as another database (one probe query per pool).
  let source: Pool;
  let apart: EngineContext;
  const pushApart = (name: string) => runPush(apart, name, { trigger: 'queue' });

  beforeAll(async () => {
    source = new Pool({ connectionString: h.db.url, max: 2 });
    apart = { ...h.ctx, sourcePool: () => source };
    await createProjectsTable(h.db, 'apart_ts');
    await h.define(
      projectsDefinition(
        {
          name: 'apart_ts',
          source: {
            table: 'apart_ts',
            key: ['id'],
            cursor: { type: 'TIMESTAMP', column: 'updated_at' },
            overlapSeconds: 0,
          },
          deletes: { checkIntervalSeconds: 3600 },
        },
        'apart_ts',
      ),
    );
    await h.db.pool.query(`CREATE TABLE apart_lsn (id integer PRIMARY KEY, name text)`);
    await h.define({
      name: 'apart_lsn',
      source: { table: 'apart_lsn', key: ['id'], cursor: { type: 'LSN' } },
      target: { site: SITE, list: 'apart_lsn' },
      fields: [{ source: 'name', target: 'Title' }],
    });
  });
  afterAll(async () => source.end());

  it.each(['apart_ts', 'apart_lsn'])('%s: idle when quiet, a run when a row arrives', async (name) => {
    await h.db.pool.query(`INSERT INTO ${name} (id, name) VALUES (1, 'one')`);
    expect(await pushApart(name)).toMatchObject({ created: 1 });
    const requests = h.emulator.control.requestLog().length;
    expect(await pushApart(name)).toMatchObject({ idle: true, graphRequests: 0 });
    expect(h.emulator.control.requestLog().length).toBe(requests);
    await h.db.pool.query(`INSERT INTO ${name} (id, name) VALUES (2, 'two')`);
    const run = await pushApart(name);
    expect(run.idle).toBeUndefined();
    expect(run).toMatchObject({ created: 1 });
    expect(await pushApart(name)).toMatchObject({ idle: true });
    expect(await titles(name)).toEqual(['one', 'two']);
  });

  it('apart_ts: a column it does not read changes nothing; a column it maps retyped is a run on the next tick', async () => {
    await h.db.pool.query('ALTER TABLE apart_ts ADD COLUMN note text');
    expect(await pushApart('apart_ts')).toMatchObject({ idle: true });
    await h.db.pool.query('ALTER TABLE apart_ts ALTER COLUMN name TYPE varchar(40)');
    expect((await probeIdle(apart, 'apart_ts'))?.busy).toEqual(['table shape changed']);
    const run = await pushApart('apart_ts');
    expect(run.idle).toBeUndefined();
    expect(run).toMatchObject({ status: 'SUCCEEDED', updated: 0 });
    expect(await pushApart('apart_ts')).toMatchObject({ idle: true });
  });
});

describe('idle probe and `resolve` (recorded as a PUSH run)', () => {
  it('a full delete comparison a stopped push left owed is continued after a conflict is resolved', async () => {
    const name = 'owed';
    await defineProjects(h, name, {
      source: { overlapSeconds: 0 },
      definition: {
        conflictPolicy: 'MANUAL',
        // No delete capture: the sweep runs on the first push, then not again today.
        deletes: { push: 'PROPAGATE', pull: 'PROPAGATE', truncate: 'PARK', checkIntervalSeconds: 86400 },
      },
    });
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name) SELECT g, 'row ' || g FROM generate_series(1, 3) g`,
    );
    const pushBy = (trigger: 'test' | 'queue') => runPush(h.ctx, name, { trigger });
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    expect(await pushBy('test')).toMatchObject({ status: 'SUCCEEDED', created: 3 });
    await pull();
    // An open MANUAL conflict on row 1.
    const itemOf = async (title: string) =>
      (await h.items(name)).find((i) => i.fields.Title === title)?.id as string;
    const itemId = await itemOf('row 1');
    await h.db.pool.query(`UPDATE ${name} SET name = 'pg' WHERE id = 1`);
    const patched = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, {
      Title: 'sp',
    });
    expect(patched.status).toBe(200);
    expect((await pull()).conflicts).toBe(1);
    expect(await pushBy('test')).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 0 });
    const { rows: conflicts } = await h.db.pool.query<{ id: string }>(
      `SELECT c.id::text AS id FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1 AND c.status = 'OPEN'`,
      [name],
    );
    expect(conflicts).toHaveLength(1);

    // Row 3 goes, and a push stops by its time budget inside the full comparison for deletes (I8, I16): the
    // comparison is owed (deletes_full_position) and the run is recorded incomplete, as continueFullComparison
    // leaves them.
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 3`);
    await h.db.pool.query(
      `UPDATE arcore.sync_cursors c SET deletes_full_position = '' FROM arcore.sync_definitions d
        WHERE d.id = c.definition_id AND d.name = $1 AND c.scope = 'SOURCE'`,
      [name],
    );
    await h.db.pool.query(
      `UPDATE arcore.sync_runs SET details = coalesce(details, '{}'::jsonb)
              || '{"incomplete": "time budget spent comparing the ledger with the table for deletes"}'::jsonb
        WHERE id = (SELECT r.id FROM arcore.sync_runs r JOIN arcore.sync_definitions d ON d.id = r.definition_id
                     WHERE d.name = $1 AND r.run_type = 'PUSH' ORDER BY r.started_at DESC LIMIT 1)`,
      [name],
    );
    expect((await probeIdle(h.ctx, name))?.busy).toContain('last push not a recent success');

    // Resolving the conflict records a PUSH run (trigger resolve) that compares nothing.
    await resolveConflict(h.ctx, conflicts[0].id, { take: 'postgres' }, 'test');
    expect((await probeIdle(h.ctx, name))?.busy).toEqual([
      'last push not a recent success',
      'delete comparison owed',
    ]);
    const continued = await pushBy('queue');
    expect(continued.idle).toBeUndefined();
    expect(continued).toMatchObject({ status: 'SUCCEEDED', deleted: 1 });
    expect((await h.items(name)).map((i) => String(i.fields.Title)).sort()).toEqual(['pg', 'row 2']);
  });
});

import { isOwnSlot, lsnNames } from '../../../src/core/capture/lsn/names';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import type { EngineContext, SlotPolicy } from '../../../src/core/engine/types';
import { definitionStatus, removeDefinition } from '../../../src/core/ops';
import { lsnDefinitionRows, slotStatusOf } from '../../../src/core/ops/slotHealth';
import { maintainSlots, retireIdleSlots } from '../../../src/core/ops/slotMaintenance';
import { upsertDefinitions } from '../../../src/core/store/definitions';
import { readInstallationId } from '../../../src/core/store/installation';
import { tryLockDefinition } from '../../../src/core/store/locks';
import { migrate } from '../../../src/core/store/migrate';
import { disabledTelemetry, slotEventOf, type Telemetry } from '../../../src/core/telemetry';
import { slotEvents } from '../../../src/functions/events';
import { slotSafety } from '../../../src/functions/pushTimer';
import { invocation } from '../../functions/support/invocation';
import { runCli } from '../../cli/cliHarness';
import { freshDatabase, type TestDatabase } from '../../support/db';

/*
 * Slot safety of LSN definitions against the real (shared) Postgres: slots, publications and origins are
 * created under the names the capture engine gives them (lsnNames), read by status, dropped by remove and
 * by the push timer's retirement of definitions disabled too long. Slots and origins are cluster-wide:
 * every one this file makes carries its metadata database's installation id and is dropped in afterAll.
 */

const LARGE: SlotPolicy = { warnBytes: 1024 ** 3, dropAfterDisabledHours: 72 };
const HOUR = 3_600_000;

let db: TestDatabase;
let installation: string;
const logged: { level: string; line: string }[] = [];
let ctx: EngineContext;

function lsnDefinition(name: string, table: string, enabled = true): SyncDefinitionInput {
  return {
    name,
    enabled,
    source: { table, key: ['id'], cursor: { type: 'LSN' } },
    target: { site: 'contoso.sharepoint.com:/sites/demo', list: name },
    fields: [{ source: 'title', target: 'Title' }],
  };
}

async function save(input: SyncDefinitionInput): Promise<string> {
  await upsertDefinitions(db.pool, [parseDefinition(input)]);
  const { rows } = await db.pool.query<{ id: string }>(
    'SELECT id::text AS id FROM arcore.sync_definitions WHERE name = $1',
    [input.name],
  );
  return rows[0].id;
}

/** What the capture engine leaves on the source for a definition that has run: slot, publication, origin, cursor. */
async function captureObjects(id: string, name: string, table: string): Promise<string> {
  const names = lsnNames(installation, id, name);
  await db.pool.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [names.slot]);
  await db.pool.query(`CREATE PUBLICATION ${names.publication} FOR TABLE ${table}`);
  await db.pool.query('SELECT pg_replication_origin_create($1)', [names.origin]);
  await db.pool.query(
    `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, value)
     VALUES ($1, 'SOURCE', 'LSN', pg_current_wal_lsn()::text)`,
    [id],
  );
  return names.slot;
}

async function objectsOnServer(): Promise<{ slots: string[]; publications: string[]; origins: string[] }> {
  const list = async (sql: string) =>
    (await db.pool.query<{ name: string }>(sql)).rows
      .map((r) => r.name)
      .filter((n) => isOwnSlot(installation, n));
  return {
    slots: await list('SELECT slot_name::text AS name FROM pg_replication_slots ORDER BY 1'),
    publications: await list('SELECT pubname::text AS name FROM pg_publication ORDER BY 1'),
    origins: await list('SELECT roname::text AS name FROM pg_replication_origin ORDER BY 1'),
  };
}

beforeAll(async () => {
  db = await freshDatabase();
  await migrate(db.pool);
  installation = await readInstallationId(db.pool);
  for (const table of ['orders', 'invoices', 'archive', 'notes'])
    await db.pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, title text)`);
  ctx = {
    meta: db.pool,
    sourcePool: () => db.pool,
    target: () => {
      throw new Error('no Graph in slot safety tests');
    },
    log: {
      info: (line: string) => logged.push({ level: 'info', line }),
      warn: (line: string) => logged.push({ level: 'warn', line }),
      error: (line: string) => logged.push({ level: 'error', line }),
    },
    slotPolicy: LARGE,
  };
});

afterAll(async () => {
  // A logical slot keeps its database from being dropped, and slots and origins outlive it: drop ours first.
  const left = await objectsOnServer();
  for (const slot of left.slots) await db.pool.query('SELECT pg_drop_replication_slot($1)', [slot]);
  for (const origin of left.origins) await db.pool.query('SELECT pg_replication_origin_drop($1)', [origin]);
  await db.drop();
});

describe('status reports each LSN definition’s replication slot', () => {
  it('gives retained WAL and lag in bytes, healthy under the threshold and unhealthy over it', async () => {
    const id = await save(lsnDefinition('orders-lsn', 'orders'));
    const slot = await captureObjects(id, 'orders-lsn', 'orders');
    // WAL written after the slot was made is WAL the slot holds back until a push reads past it.
    await db.pool.query("INSERT INTO orders SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g");

    const [healthy] = await definitionStatus(db.pool, 'orders-lsn', {
      sourcePool: () => db.pool,
      policy: LARGE,
    });
    expect(healthy.slot).toMatchObject({
      slot,
      exists: true,
      active: false,
      walStatus: 'reserved',
      healthy: true,
      message: null,
      warnBytes: LARGE.warnBytes,
    });
    expect(healthy.slot?.retainedWalBytes).toBeGreaterThan(200 * 2000);
    expect(healthy.slot?.lagBytes).toBeGreaterThan(200 * 2000);
    expect(healthy.healthy).toBe(true);

    const small: SlotPolicy = { ...LARGE, warnBytes: 64 * 1024 };
    const [unhealthy] = await definitionStatus(db.pool, 'orders-lsn', {
      sourcePool: () => db.pool,
      policy: small,
    });
    expect(unhealthy.healthy).toBe(false);
    expect(unhealthy.slot?.healthy).toBe(false);
    expect(unhealthy.slot?.message).toMatch(
      /^the slot holds back \d+\.\d (KiB|MiB) of WAL, more than SLOT_WAL_WARN_BYTES \(64\.0 KiB\): pushes are not keeping up/,
    );
  });

  it('the push timer’s check logs a warning for an unhealthy slot and emits a slot event', async () => {
    logged.length = 0;
    const maintenance = await maintainSlots({ ...ctx, slotPolicy: { ...LARGE, warnBytes: 64 * 1024 } });
    const orders = maintenance.checked.find((c) => c.definition === 'orders-lsn');
    expect(orders?.status.healthy).toBe(false);
    expect(logged).toContainEqual({
      level: 'warn',
      line: expect.stringMatching(/^orders-lsn: replication slot unhealthy: the slot holds back/) as string,
    });
    const events = slotEvents(maintenance, new Date('2026-12-06T00:00:00Z'));
    expect(events).toContainEqual(
      expect.objectContaining({
        event: 'slot',
        definition: 'orders-lsn',
        outcome: 'unhealthy',
        walStatus: 'reserved',
      }),
    );
  });

  it('pushTimer’s slot safety sends each slot to telemetry and writes a warning line for the unhealthy one', async () => {
    const tracked: { definition: string; healthy: boolean; retained: number | null }[] = [];
    const telemetry: Telemetry = {
      ...disabledTelemetry,
      trackSlot: (definition, status) =>
        tracked.push({ definition, healthy: status.healthy, retained: status.retainedWalBytes }),
    };
    const { context, logs } = invocation('pushTimer');
    await slotSafety(
      { ctx: { ...ctx, slotPolicy: { ...LARGE, warnBytes: 64 * 1024 } }, telemetry, webhookUrls: {} },
      context,
    );
    expect(tracked).toContainEqual({
      definition: 'orders-lsn',
      healthy: false,
      retained: expect.any(Number) as number,
    });
    const warning = logs.find((l) => l.level === 'warning' && l.text.includes('"event":"slot"'));
    expect(JSON.parse(warning?.text ?? '{}')).toMatchObject({
      event: 'slot',
      definition: 'orders-lsn',
      outcome: 'unhealthy',
      walStatus: 'reserved',
    });
  });

  it('a TIMESTAMP definition has no slot, and `status` prints the slot line and its JSON', async () => {
    await upsertDefinitions(db.pool, [
      parseDefinition({
        ...lsnDefinition('notes-ts', 'notes'),
        source: { table: 'notes', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'title' } },
      }),
    ]);
    const statuses = await definitionStatus(db.pool, undefined, { sourcePool: () => db.pool, policy: LARGE });
    expect(statuses.find((s) => s.name === 'notes-ts')?.slot).toBeNull();

    const env = { DATABASE_URL: db.url, SLOT_WAL_WARN_BYTES: String(64 * 1024) };
    // Both at once: each CLI start costs seconds on a busy machine.
    const [text, json] = await Promise.all([
      runCli(['status', 'orders-lsn'], env),
      runCli(['status', 'orders-lsn', '--json'], env),
    ]);
    expect(text.stdout).toMatch(/^orders-lsn: enabled, .*, UNHEALTHY$/m);
    expect(text.stdout).toMatch(
      /^ {2}replication slot: UNHEALTHY: arcore_\w+ idle, wal_status reserved, retained WAL [\d.]+ (KiB|MiB) \(warning above 64\.0 KiB\), lag [\d.]+ (KiB|MiB); the slot holds back/m,
    );
    const parsed = JSON.parse(json.stdout) as {
      healthy: boolean;
      slot: { retainedWalBytes: number; warnBytes: number };
    };
    expect(parsed.healthy).toBe(false);
    expect(parsed.slot.warnBytes).toBe(64 * 1024);
    expect(parsed.slot.retainedWalBytes).toBeGreaterThan(64 * 1024);
  });

  it('names a lost (invalidated) slot and a missing one as unhealthy, each recovering by a re-read', () => {
    const row = {
      id: '1',
      name: 'x',
      enabled: true,
      connection: 'default',
      disabledAt: null,
      slotDroppedAt: null,
      hasCursor: true,
      recordedLsn: '0/3000000',
    };
    const lost = slotStatusOf(
      row,
      {
        slot: 'arcore_x',
        active: false,
        walStatus: 'lost',
        retainedWalBytes: null,
        lagBytes: null,
        invalidationReason: 'wal_removed',
        confirmedLsn: '0/4000000',
      },
      LARGE,
    );
    expect(lost).toMatchObject({ healthy: false, exists: true });
    expect(lost.message).toBe(
      'the slot was invalidated (wal_removed) and its changes are gone: its next push re-reads the table and ' +
        'compares it with the list (no duplicates)',
    );
    expect(slotStatusOf(row, undefined, LARGE).message).toMatch(
      /^the slot is missing: its next push re-reads/,
    );
    // The ArcoreSlot telemetry event carries the same figures.
    expect(slotEventOf('x', lost)).toEqual({
      properties: {
        definition: 'x',
        slot: 'arcore_x',
        exists: 'true',
        healthy: 'false',
        walStatus: 'lost',
        message: lost.message,
      },
      measurements: { warnBytes: LARGE.warnBytes },
    });
    expect(slotStatusOf({ ...row, hasCursor: false }, undefined, LARGE)).toMatchObject({
      healthy: true,
      message: 'no slot yet: the first push creates it',
    });
  });
});

describe('remove drops the definition’s slot, publication and origin', () => {
  it('says what it dropped, and nothing of the definition is left on the server', async () => {
    const id = await save(lsnDefinition('invoices-lsn', 'invoices'));
    const slot = await captureObjects(id, 'invoices-lsn', 'invoices');
    const names = lsnNames(installation, id, 'invoices-lsn');
    expect((await objectsOnServer()).slots).toContain(slot);

    const result = await removeDefinition(ctx, 'invoices-lsn');
    expect(result.replication).toEqual({
      dropped: [
        { kind: 'slot', name: names.slot },
        { kind: 'publication', name: names.publication },
        { kind: 'origin', name: names.origin },
      ],
      left: [],
    });
    const after = await objectsOnServer();
    expect(after.slots).not.toContain(names.slot);
    expect(after.publications).not.toContain(names.publication);
    expect(after.origins).not.toContain(names.origin);
  });
});

describe('a definition disabled longer than SLOT_DROP_AFTER_DISABLED_HOURS loses its slot', () => {
  let id: string;
  let names: ReturnType<typeof lsnNames>;

  beforeAll(async () => {
    id = await save(lsnDefinition('archive-lsn', 'archive'));
    await captureObjects(id, 'archive-lsn', 'archive');
    names = lsnNames(installation, id, 'archive-lsn');
    await save(lsnDefinition('archive-lsn', 'archive', false));
  });

  it('records when it was disabled, and keeps the slot until the setting has passed', async () => {
    const [row] = (await lsnDefinitionRows(db.pool, 'archive-lsn')).filter((r) => r.id === id);
    expect(row.enabled).toBe(false);
    expect(row.disabledAt).toBeInstanceOf(Date);
    const disabledAt = row.disabledAt as Date;
    expect(await retireIdleSlots(ctx, LARGE, new Date(disabledAt.getTime() + 71 * HOUR))).toEqual([]);
    expect((await objectsOnServer()).slots).toContain(names.slot);
    const [status] = await definitionStatus(db.pool, 'archive-lsn', {
      sourcePool: () => db.pool,
      policy: LARGE,
    });
    expect(status.slot?.message).toBe(
      `disabled since ${disabledAt.toISOString()}: the push timer drops the slot after ` +
        `${new Date(disabledAt.getTime() + 72 * HOUR).toISOString()}`,
    );
  });

  it('is left alone while a run holds the definition', async () => {
    const lock = await tryLockDefinition(db.pool, id);
    try {
      expect(await retireIdleSlots(ctx, LARGE, new Date(Date.now() + 100 * HOUR))).toEqual([]);
    } finally {
      await lock?.release();
    }
    expect((await objectsOnServer()).slots).toContain(names.slot);
  });

  it('drops slot, publication and origin, clears the push cursor and says so in the log and status', async () => {
    logged.length = 0;
    const retired = await retireIdleSlots(ctx, LARGE, new Date(Date.now() + 73 * HOUR));
    expect(retired.map((r) => [r.definition, r.dropped.map((d) => d.kind), r.left])).toEqual([
      ['archive-lsn', ['slot', 'publication', 'origin'], []],
    ]);
    expect(retired[0].message).toMatch(
      /^archive-lsn: disabled since .*, longer than SLOT_DROP_AFTER_DISABLED_HOURS \(72\): dropped slot arcore_\w+, publication arcore_\w+, origin arcore_\w+\. Enabled again, its next push re-reads the table and compares it with the list \(no duplicates\)$/,
    );
    expect(logged).toEqual([{ level: 'info', line: retired[0].message }]);
    const after = await objectsOnServer();
    expect(after.slots).not.toContain(names.slot);
    expect(after.publications).not.toContain(names.publication);
    const { rows: cursors } = await db.pool.query(
      "SELECT 1 FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'SOURCE'",
      [id],
    );
    expect(cursors).toEqual([]);
    const [status] = await definitionStatus(db.pool, 'archive-lsn', {
      sourcePool: () => db.pool,
      policy: LARGE,
    });
    expect(status.healthy).toBe(true);
    expect(status.slot?.droppedAt).not.toBeNull();
    expect(status.slot?.message).toMatch(
      /^dropped at .*, the definition being disabled longer than SLOT_DROP_AFTER_DISABLED_HOURS \(72\); enabled again, its next push re-reads the table/,
    );
    expect(slotEvents({ retired, checked: [] })).toEqual([
      expect.objectContaining({
        event: 'slot',
        definition: 'archive-lsn',
        outcome: 'dropped',
        slot: names.slot,
      }),
    ]);
    // Once dropped, later ticks leave it alone.
    expect(await retireIdleSlots(ctx, LARGE, new Date(Date.now() + 200 * HOUR))).toEqual([]);
  });

  it('enabled again, it no longer counts as dropped or disabled', async () => {
    await save(lsnDefinition('archive-lsn', 'archive', true));
    const [row] = await lsnDefinitionRows(db.pool, 'archive-lsn');
    expect(row).toMatchObject({ enabled: true, disabledAt: null, slotDroppedAt: null, hasCursor: false });
  });
});

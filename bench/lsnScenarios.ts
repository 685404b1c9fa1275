/**
 * Change data capture (LSN cursor) benchmarks, issue 20: the Postgres time of an idle push at several table
 * sizes, and push throughput with LSN against TIMESTAMP on the same rows (the initial load and a 10 % change).
 * Each definition gets a list of its own on the scenario's emulator; the slot is dropped before the database.
 *
 * Above SYNTHETIC_IDLE_ABOVE rows (or at every size with `--lsn-idle-seed`) the idle scenario does not load the
 * table through the push path (1,000,000 rows take hours on a loaded 2-core machine): it seeds what a finished
 * load leaves, in the order the load makes it (capture/lsn/push.ts, startCapture then load): the table's rows
 * exist first (a load reads rows already there; rows written after the slot would be changes it hands on), then
 * the publication and the slot, the cursor at the slot's position with the load under way, one SYNCED ledger entry
 * per row committed in pages after the slot (so the slot holds their WAL, as after a real load), and the cursor
 * with the load done and no delete comparison owed. An idle push reads nothing of the ledger's values; what it
 * reads (the cursor, the slot, the partial index of creates in flight) is as after a real load.
 */
import { parseDefinition } from '../src/core/definition/parse';
import type { SyncDefinition } from '../src/core/definition/schema';
import { writeLsnCursor } from '../src/core/capture/lsn/cursor';
import { lsnNames } from '../src/core/capture/lsn/names';
import { assertReplicaIdentity, createSlot, dropSlot, ensurePublication } from '../src/core/capture/lsn/slot';
import { provisionList } from '../src/core/engine/provision';
import { runPush } from '../src/core/engine/push';
import { resolveSharePoint } from '../src/core/engine/runner';
import type { RunSummary } from '../src/core/engine/types';
import { dropReplicationObjects, replicationBaseName } from '../src/core/ops/replicationObjects';
import { upsertDefinitions } from '../src/core/store/definitions';
import { readInstallationId } from '../src/core/store/installation';
import {
  benchDefinition,
  changeRows,
  DEFINITION,
  MAPPED_COLUMNS,
  TABLE,
  type BenchEnvironment,
} from './dataset';
import { SYNTHETIC_IDLE_ABOVE } from './idleSetup';
import { measurePostgres, type PgTiming } from './pgTiming';

export const LSN_DEFINITION = 'bench-lsn';
export const LSN_LIST = 'BenchItemsLsn';

/** Idle pushes measured per size; the median is the figure (one push is a handful of queries, so noisy). */
const IDLE_PUSHES = 7;

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

export class LsnScenarioError extends Error {
  constructor(message: string, summary?: RunSummary) {
    super(`${message}${summary ? ` (run ${summary.status}: ${summary.error ?? 'no error text'})` : ''}`);
    this.name = 'LsnScenarioError';
  }
}

/** Adds the LSN definition of the bench table (same columns and key as the TIMESTAMP one) and its list. */
async function addLsnDefinition(env: BenchEnvironment): Promise<SyncDefinition> {
  const input = benchDefinition();
  const def = parseDefinition({
    ...input,
    name: LSN_DEFINITION,
    source: { ...input.source, cursor: { type: 'LSN' } },
    target: { ...input.target, list: LSN_LIST },
  });
  await upsertDefinitions(env.ctx.meta, [def]);
  await provisionList(env.ctx, LSN_DEFINITION);
  return def;
}

/** Ledger entries committed per transaction while seeding, as a load commits a page at a time. */
const SEED_PAGE = 100_000;

/**
 * What a finished LSN load of `rows` rows leaves (see the file comment), written by SQL; the table's rows are
 * already there (openEnvironment). Identity hash: SHA-256 of "[id]", as identityOf renders an integer key (the
 * TIMESTAMP idle setup checks it by deletes; scenario 10 checks it by one delete after measuring). Item ids are
 * the row ids; the emulator holds no items for them, which an idle push never asks for.
 */
async function seedLoadedCapture(env: BenchEnvironment, def: SyncDefinition, rows: number): Promise<void> {
  const { pool } = env;
  const { rows: found } = await pool.query<{ id: string }>(
    'SELECT id::text AS id FROM arcore.sync_definitions WHERE name = $1',
    [LSN_DEFINITION],
  );
  const definitionId = found[0].id;
  const names = lsnNames(await readInstallationId(pool), definitionId, def.name);
  const { listId } = await resolveSharePoint(env.ctx.target(), def, LSN_LIST);
  // startCapture: replica identity, publication, slot, the cursor at the slot with the load under way.
  await assertReplicaIdentity(pool, def.name, def.source.schema, def.source.table, def.source.key);
  await ensurePublication(pool, def.name, names, def.source.schema, def.source.table);
  await dropSlot(pool, names.slot);
  const lsn = await createSlot(pool, def.name, names.slot);
  const reason = 'no capture yet: loading the table';
  await writeLsnCursor(pool, definitionId, { lsn, load: { after: null, reason } });
  // load: one SYNCED entry per row (synced values in the list's columns), a page per transaction, the load
  // position after each; then the full delete comparison the load owes, done (no position owed).
  const synced = MAPPED_COLUMNS.map(([source, target]) => `'${target}', t.${source}`).join(', ');
  for (let from = 1; from <= rows; from += SEED_PAGE) {
    const to = Math.min(rows, from + SEED_PAGE - 1);
    await pool.query(
      `INSERT INTO arcore.sync_ledger (definition_id, source_identity_hash, source_identity, source_key_strategy,
         source_connection, sp_list_id, sp_item_id, sp_etag, synced_values, content_hash, provenance, state,
         last_source_ts, sp_modified_at)
       SELECT d.id, encode(sha256(convert_to('[' || t.id || ']', 'UTF8')), 'hex'), jsonb_build_object('id', t.id),
              'PRIMARY_KEY', d.source_connection, $4, t.id::text, '"' || md5(t.id::text) || ',1"', v.synced,
              encode(sha256(convert_to(v.synced::text, 'UTF8')), 'hex'), 'PUSH', 'SYNCED', NULL, now()
         FROM arcore.sync_definitions d, ${TABLE} t,
              LATERAL (SELECT jsonb_build_object(${synced}) AS synced) v
        WHERE d.name = $3 AND t.id BETWEEN $1 AND $2`,
      [from, to, LSN_DEFINITION, listId],
    );
    await writeLsnCursor(pool, definitionId, { lsn, load: { after: [to], reason } });
  }
  await pool.query(
    `UPDATE arcore.sync_cursors SET deletes_full_position = NULL WHERE definition_id = $1 AND scope = 'SOURCE'`,
    [definitionId],
  );
  await writeLsnCursor(pool, definitionId, { lsn, load: null });
  await pool.query('VACUUM ANALYZE arcore.sync_ledger');
}

/** A logical slot keeps its database from being dropped: drop it (and publication, origin) first. */
async function dropLsnObjects(env: BenchEnvironment): Promise<void> {
  const { rows } = await env.pool.query<{ id: string }>(
    'SELECT id::text AS id FROM arcore.sync_definitions WHERE name = $1',
    [LSN_DEFINITION],
  );
  if (rows.length === 0) return;
  const base = replicationBaseName(await readInstallationId(env.pool), rows[0].id);
  await dropReplicationObjects(env.pool, base);
}

async function push(
  env: BenchEnvironment,
  definition: string,
  what: string,
  opts: { trigger: 'cli' | 'queue'; full?: boolean } = { trigger: 'cli', full: true },
): Promise<RunSummary> {
  const summary = await runPush(env.ctx, definition, opts);
  if (summary.status !== 'SUCCEEDED') throw new LsnScenarioError(`${what} did not succeed`, summary);
  return summary;
}

interface TimedPush {
  summary: RunSummary;
  seconds: number;
  postgres: PgTiming;
}

async function timedPush(
  env: BenchEnvironment,
  definition: string,
  what: string,
  opts: { trigger: 'cli' | 'queue'; full?: boolean } = { trigger: 'cli', full: true },
): Promise<TimedPush> {
  const postgres = measurePostgres();
  const started = performance.now();
  const summary = await push(env, definition, what, opts);
  return { summary, seconds: (performance.now() - started) / 1000, postgres: postgres(5) };
}

/** WAL between the bench slot's restart position and the current position: what every peek decodes. */
async function slotRestartLag(env: BenchEnvironment): Promise<string> {
  const { rows } = await env.pool.query<{ lag: string | null }>(
    `SELECT (pg_current_wal_insert_lsn() - restart_lsn)::text AS lag FROM pg_replication_slots
      WHERE database = current_database() AND slot_type = 'logical'`,
  );
  return rows.map((r) => r.lag ?? 'null').join(', ');
}

/** One `SELECT 1` round trip: what any single query costs on this machine right now (load included). */
export async function roundTripMs(env: BenchEnvironment): Promise<number> {
  const started = performance.now();
  await env.pool.query('SELECT 1');
  return performance.now() - started;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const describeSlowest = (timing: PgTiming) =>
  timing.slowest.map((q) => `${q.milliseconds.toFixed(2)} ms ×${q.queries}: ${q.statement}`).join(' | ');

/**
 * Figures of one table size: the load (or, `seeded`, what a load leaves: see the file comment), then
 * IDLE_PUSHES idle pushes with nothing changed, full and probed alternating, each after a `SELECT 1` floor.
 */
export async function lsnIdleAt(
  env: BenchEnvironment,
  rows: number,
  seeded: boolean,
): Promise<Record<string, number | string>> {
  const def = await addLsnDefinition(env);
  const figures: Record<string, number | string> = {};
  if (seeded) {
    const started = performance.now();
    await seedLoadedCapture(env, def, rows);
    figures[`rows${rows}Ledger`] =
      `seeded by SQL in ${round((performance.now() - started) / 1000, 1)} s: table rows, then slot and ` +
      'publication, then one SYNCED entry per row and the cursor with the load done (not pushed)';
    // The first run after the load: it decodes the WAL the load wrote after the slot and confirms past it.
    const first = await timedPush(env, LSN_DEFINITION, 'the first push after the seeded load');
    if (first.summary.created + first.summary.updated + first.summary.deleted > 0)
      throw new LsnScenarioError('the first push after the seeded load wrote items', first.summary);
    figures[`rows${rows}FirstPushAfterLoadSeconds`] = round(first.seconds, 1);
  } else {
    const load = await timedPush(env, LSN_DEFINITION, 'the initial load');
    if (load.summary.created !== rows)
      throw new LsnScenarioError(`the load created ${load.summary.created} of ${rows} items`, load.summary);
    figures[`rows${rows}Ledger`] = 'loaded through the push path';
    figures[`rows${rows}LoadRowsPerSecond`] = round(rows / load.seconds, 0);
  }
  await push(env, LSN_DEFINITION, 'a settling push');
  // A slot's restart position moves only past a running-transactions record, which the server writes every
  // 15 s while there is WAL activity: until then every peek decodes the load's WAL again. On a deployment the
  // probes are a minute apart, so measure that steady state: wait for the record, then let a run confirm it.
  const restartBefore = await slotRestartLag(env);
  await new Promise((resolve) => setTimeout(resolve, 16_000));
  await push(env, LSN_DEFINITION, 'a push after the running-transactions record');
  const restartAfter = await slotRestartLag(env);
  // Before the idle probe (a full run, as every idle push was) and after it, alternating, in this run.
  const idle: TimedPush[] = [];
  const full: TimedPush[] = [];
  const floor: number[] = [];
  for (let i = 0; i < IDLE_PUSHES; i++) {
    floor.push(await roundTripMs(env));
    full.push(await timedPush(env, LSN_DEFINITION, 'a full idle push', { trigger: 'queue', full: true }));
    idle.push(await timedPush(env, LSN_DEFINITION, 'an idle push', { trigger: 'queue' }));
  }
  const writes = [...idle, ...full].reduce(
    (n, p) => n + p.summary.created + p.summary.updated + p.summary.deleted,
    0,
  );
  if (writes > 0) throw new LsnScenarioError(`idle pushes wrote ${writes} items`);
  const ms = idle.map((p) => p.postgres.milliseconds);
  const middle = idle.find((p) => p.postgres.milliseconds === median(ms)) ?? idle[0];
  const fullMs = full.map((p) => p.postgres.milliseconds);
  const fullMiddle = full.find((p) => p.postgres.milliseconds === median(fullMs)) ?? full[0];
  const spread = (values: number[]) => `${round(Math.min(...values), 2)}–${round(Math.max(...values), 2)}`;
  Object.assign(figures, {
    [`rows${rows}SlotRestartLagBytes`]: `${restartBefore} after the load, ${restartAfter} after 16 s and a run`,
    [`rows${rows}RoundTripFloorMs`]: round(median(floor), 2),
    [`rows${rows}RoundTripFloorMsRange`]: spread(floor),
    [`rows${rows}IdleProbed`]: idle.filter((p) => p.summary.idle === true).length,
    [`rows${rows}IdlePostgresMsRuns`]: ms.map((v) => round(v, 2)).join(', '),
    [`rows${rows}FullIdlePostgresMs`]: round(median(fullMs), 2),
    [`rows${rows}FullIdlePostgresMsRange`]: spread(fullMs),
    [`rows${rows}FullIdlePostgresMsRuns`]: fullMs.map((v) => round(v, 2)).join(', '),
    [`rows${rows}FullIdlePostgresQueries`]: fullMiddle.postgres.queries,
    [`rows${rows}FullIdleSlowestStatements`]: describeSlowest(fullMiddle.postgres),
    [`rows${rows}IdlePostgresMs`]: round(median(ms), 2),
    [`rows${rows}IdlePostgresMsRange`]: spread(ms),
    [`rows${rows}IdlePostgresMsMax`]: round(Math.max(...ms), 2),
    [`rows${rows}IdlePostgresQueries`]: middle.postgres.queries,
    [`rows${rows}IdlePushMs`]: round(median(idle.map((p) => p.seconds * 1000)), 1),
    [`rows${rows}IdleGraphRequests`]: median(idle.map((p) => p.summary.graphRequests)),
    [`rows${rows}IdleSlowestStatements`]: describeSlowest(middle.postgres),
  });
  if (seeded) {
    // The seeded ledger is found by identity: one row deleted, the next push deletes exactly its item.
    await env.pool.query(`DELETE FROM ${TABLE} WHERE id = $1`, [rows]);
    const check = await push(env, LSN_DEFINITION, 'the push of one deleted row');
    if (check.deleted !== 1)
      throw new LsnScenarioError(`deleting one row deleted ${check.deleted} items`, check);
    figures[`rows${rows}SeededLedgerCheck`] = 'one row deleted after measuring: its item deleted (1 of 1)';
  }
  return figures;
}

export async function lsnIdleScenario(
  open: (rows: number) => Promise<BenchEnvironment>,
  sizes: number[],
  seedAll: boolean,
): Promise<Record<string, number | string>> {
  const figures: Record<string, number | string> = {};
  for (const rows of sizes) {
    const env = await open(rows);
    try {
      Object.assign(figures, await lsnIdleAt(env, rows, seedAll || rows > SYNTHETIC_IDLE_ABOVE));
    } finally {
      await dropLsnObjects(env);
      await env.close();
    }
  }
  return figures;
}

/**
 * The same rows pushed by a TIMESTAMP and an LSN definition (each to its own list): the initial push (for
 * LSN, the slot's load) and then a push of 10 % of the rows changed.
 */
export async function lsnThroughputScenario(
  env: BenchEnvironment,
  rows: number,
): Promise<Record<string, number>> {
  try {
    await addLsnDefinition(env);
    const tsInitial = await timedPush(env, DEFINITION, 'the TIMESTAMP initial push');
    const lsnInitial = await timedPush(env, LSN_DEFINITION, 'the LSN initial load');
    for (const [what, p] of [
      ['TIMESTAMP', tsInitial],
      ['LSN', lsnInitial],
    ] as const)
      if (p.summary.created !== rows)
        throw new LsnScenarioError(
          `the ${what} initial push created ${p.summary.created} of ${rows}`,
          p.summary,
        );
    const changed = await changeRows(env.pool, 10, 0);
    const tsChanged = await timedPush(env, DEFINITION, 'the TIMESTAMP push of changed rows');
    const lsnChanged = await timedPush(env, LSN_DEFINITION, 'the LSN push of changed rows');
    for (const [what, p] of [
      ['TIMESTAMP', tsChanged],
      ['LSN', lsnChanged],
    ] as const)
      if (p.summary.updated !== changed)
        throw new LsnScenarioError(
          `the ${what} push updated ${p.summary.updated} of ${changed} changed rows`,
          p.summary,
        );
    return {
      rowsChanged: changed,
      timestampInitialRowsPerSecond: round(rows / tsInitial.seconds, 0),
      lsnInitialRowsPerSecond: round(rows / lsnInitial.seconds, 0),
      timestampChangedRowsPerSecond: round(changed / tsChanged.seconds, 0),
      lsnChangedRowsPerSecond: round(changed / lsnChanged.seconds, 0),
      lsnToTimestampInitial: round(tsInitial.seconds / lsnInitial.seconds, 2),
      lsnToTimestampChanged: round(tsChanged.seconds / lsnChanged.seconds, 2),
      timestampChangedPostgresMs: round(tsChanged.postgres.milliseconds, 1),
      lsnChangedPostgresMs: round(lsnChanged.postgres.milliseconds, 1),
      timestampChangedPostgresQueries: tsChanged.postgres.queries,
      lsnChangedPostgresQueries: lsnChanged.postgres.queries,
    };
  } finally {
    await dropLsnObjects(env);
  }
}

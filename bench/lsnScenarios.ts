/**
 * Change data capture (LSN cursor) benchmarks, issue 20: the Postgres time of an idle push at several table
 * sizes, and push throughput with LSN against TIMESTAMP on the same rows (the initial load and a 10 % change).
 * Each definition gets a list of its own on the scenario's emulator; the slot is dropped before the database.
 */
import { parseDefinition } from '../src/core/definition/parse';
import { provisionList } from '../src/core/engine/provision';
import { runPush } from '../src/core/engine/push';
import type { RunSummary } from '../src/core/engine/types';
import { dropReplicationObjects, replicationBaseName } from '../src/core/ops/replicationObjects';
import { upsertDefinitions } from '../src/core/store/definitions';
import { readInstallationId } from '../src/core/store/installation';
import { benchDefinition, changeRows, DEFINITION, type BenchEnvironment } from './dataset';
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
async function addLsnDefinition(env: BenchEnvironment): Promise<void> {
  const input = benchDefinition();
  await upsertDefinitions(env.ctx.meta, [
    parseDefinition({
      ...input,
      name: LSN_DEFINITION,
      source: { ...input.source, cursor: { type: 'LSN' } },
      target: { ...input.target, list: LSN_LIST },
    }),
  ]);
  await provisionList(env.ctx, LSN_DEFINITION);
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

/** Figures of one table size: the load, then IDLE_PUSHES idle pushes with nothing changed. */
export async function lsnIdleAt(
  env: BenchEnvironment,
  rows: number,
): Promise<Record<string, number | string>> {
  await addLsnDefinition(env);
  const load = await timedPush(env, LSN_DEFINITION, 'the initial load');
  if (load.summary.created !== rows)
    throw new LsnScenarioError(`the load created ${load.summary.created} of ${rows} items`, load.summary);
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
  return {
    [`rows${rows}SlotRestartLagBytes`]: `${restartBefore} after the load, ${restartAfter} after 16 s and a run`,
    [`rows${rows}RoundTripFloorMs`]: round(median(floor), 2),
    [`rows${rows}IdleProbed`]: idle.filter((p) => p.summary.idle === true).length,
    [`rows${rows}IdlePostgresMsRuns`]: ms.map((v) => round(v, 2)).join(', '),
    [`rows${rows}FullIdlePostgresMs`]: round(median(fullMs), 2),
    [`rows${rows}FullIdlePostgresMsRuns`]: fullMs.map((v) => round(v, 2)).join(', '),
    [`rows${rows}FullIdlePostgresQueries`]: fullMiddle.postgres.queries,
    [`rows${rows}LoadRowsPerSecond`]: round(rows / load.seconds, 0),
    [`rows${rows}IdlePostgresMs`]: round(median(ms), 2),
    [`rows${rows}IdlePostgresMsMax`]: round(Math.max(...ms), 2),
    [`rows${rows}IdlePostgresQueries`]: middle.postgres.queries,
    [`rows${rows}IdlePushMs`]: round(median(idle.map((p) => p.seconds * 1000)), 1),
    [`rows${rows}IdleGraphRequests`]: median(idle.map((p) => p.summary.graphRequests)),
    [`rows${rows}IdleSlowestStatements`]: describeSlowest(middle.postgres),
  };
}

export async function lsnIdleScenario(
  open: (rows: number) => Promise<BenchEnvironment>,
  sizes: number[],
): Promise<Record<string, number | string>> {
  const figures: Record<string, number | string> = {};
  for (const rows of sizes) {
    const env = await open(rows);
    try {
      Object.assign(figures, await lsnIdleAt(env, rows));
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

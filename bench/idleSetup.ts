/**
 * Scenario 5's parts: idle cycles measured with and without the delete-capture trigger, the previous engine's
 * counts timed beside them, and a synthetic setup for tables too large to push and pull in a benchmark run.
 *
 * The synthetic setup: the table is filled with the cursor trigger disabled (timestamps a day old and more),
 * the ledger gets one SYNCED entry per row by SQL (identity hash = SHA-256 of "[id]", as identityOf renders an
 * integer key), and the SOURCE cursor is set past the last row. An idle push then reads the same things as
 * after a real first load; an entry whose row the engine thought gone would be deleted (counted, and refused
 * below), so a wrong hash would show.
 */
import { runPull } from '../src/core/engine/pull';
import { runPush } from '../src/core/engine/push';
import type { Pool } from 'pg';
import type { RunSummary } from '../src/core/engine/types';
import { cursorTriggerName } from '../src/core/source/postgres/PostgresSource';
import { deleteCaptureStatements } from '../src/core/source/postgres/tombstones';
import { keysetCursor } from '../src/core/cursor/timestampCursor';
import { writeCursor } from '../src/core/store/cursors';
import { DEFINITION, INSERT_ROWS_SQL, TABLE, type BenchEnvironment } from './dataset';
import { itemWrites, statsDelta } from './emulatorClient';
import { measurePostgres } from './pgTiming';

export const IDLE_REPEATS = 5;
export const SYNTHETIC_IDLE_ABOVE = 50_000;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const value = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return Number(value.toFixed(1));
}

export interface IdleCycle {
  postgresMs: number;
  pushPostgresMs: number;
  pushPostgresQueries: number;
  /** The pull alone: its idle probe (I18) or, with `full`, the whole run. */
  pullPostgresMs: number;
  pullPostgresQueries: number;
  pullProbedIdle: boolean;
  /** A `SELECT 1` round trip measured just before: the floor any one query costs under the current load. */
  roundTripMs: number;
  /** The idle probe found nothing to do (no run recorded). */
  probedIdle: boolean;
  postgresQueries: number;
  wallMs: number;
  graphRequests: number;
  resourceUnits: number;
  itemWrites: number;
  slowest: string;
  requestsMade: string;
}

class IdleBenchError extends Error {
  constructor(message: string, summary: RunSummary) {
    super(`scenario idle: ${message} (run ${summary.status}: ${summary.error ?? 'no error'})`);
    this.name = 'IdleBenchError';
  }
}

function quiet(summary: RunSummary, what: string): RunSummary {
  if (summary.status !== 'SUCCEEDED') throw new IdleBenchError(`${what} did not succeed`, summary);
  const wrote = summary.created + summary.updated + summary.deleted;
  if (wrote > 0) throw new IdleBenchError(`${what} wrote ${wrote} items on an idle cycle`, summary);
  return summary;
}

/**
 * IDLE_REPEATS idle push + pull cycles, each measured on its own. Both are scheduled (trigger queue): the idle
 * probes answer them (docs/design.md, I18), unless `full` runs both as before the probes existed.
 */
export async function idleCycles(
  env: BenchEnvironment,
  mode: 'sweep' | 'tombstones',
  full = false,
): Promise<{ cycles: IdleCycle[] }> {
  const cycles: IdleCycle[] = [];
  for (let i = 0; i < IDLE_REPEATS; i++) {
    await env.emulator.clearRequestLog();
    const statsBefore = await env.emulator.stats();
    const floorStarted = performance.now();
    await env.pool.query('SELECT 1');
    const roundTripMs = performance.now() - floorStarted;
    const postgres = measurePostgres();
    const started = performance.now();
    const push = quiet(
      await runPush(env.ctx, DEFINITION, { trigger: 'queue', full }),
      `an idle push (${mode})`,
    );
    const pushPostgres = postgres();
    const pull = quiet(
      await runPull(env.ctx, DEFINITION, { trigger: 'queue', full }),
      `an idle pull (${mode})`,
    );
    const wallMs = performance.now() - started;
    const pg = postgres(process.env.BENCH_ALL_STATEMENTS ? 100 : 6);
    const stats = statsDelta(statsBefore, await env.emulator.stats());
    const log = await env.emulator.requestLog();
    cycles.push({
      postgresMs: Number(pg.milliseconds.toFixed(1)),
      pushPostgresMs: Number(pushPostgres.milliseconds.toFixed(2)),
      pushPostgresQueries: pushPostgres.queries,
      pullPostgresMs: Number((pg.milliseconds - pushPostgres.milliseconds).toFixed(2)),
      pullPostgresQueries: pg.queries - pushPostgres.queries,
      pullProbedIdle: pull.idle === true,
      roundTripMs: Number(roundTripMs.toFixed(2)),
      probedIdle: push.idle === true,
      postgresQueries: pg.queries,
      wallMs: Math.round(wallMs),
      graphRequests: push.graphRequests + pull.graphRequests,
      resourceUnits: stats.resourceUnits,
      itemWrites: itemWrites(stats),
      slowest: pg.slowest
        .map((q) => `${q.milliseconds.toFixed(1)} ms ×${q.queries}: ${q.statement}`)
        .join(' | '),
      requestsMade: log
        .filter((r) => r.identity === 'app' && !r.batch)
        .map(
          (r) =>
            `${r.method} ${r.path.replace(/\/sites\/[^/]+/, '/sites/{site}')}${r.query.includes('token=') ? '?token=…' : ''}`,
        )
        .join('; '),
    });
  }
  return { cycles };
}

/** The previous engine's per-push delete check: count(*) of the table and of the ledger. */
export async function countsMilliseconds(env: BenchEnvironment): Promise<number> {
  const started = performance.now();
  await env.pool.query(`SELECT count(*) FROM ${TABLE}`);
  await env.pool.query(
    `SELECT count(*) FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
      WHERE d.name = $1 AND l.state <> 'ORPHANED'`,
    [DEFINITION],
  );
  return performance.now() - started;
}

/** Sets the SOURCE cursor at the table's newest row, as a push that read every row would leave it. */
async function sourceCursorAtNewestRow(pool: Pool): Promise<void> {
  const { rows: last } = await pool.query<{ ts: string; id: number; definition_id: string }>(
    `SELECT t.updated_at::text AS ts, t.id, d.id AS definition_id FROM ${TABLE} t, arcore.sync_definitions d
      WHERE d.name = $1 ORDER BY t.updated_at DESC, t.id DESC LIMIT 1`,
    [DEFINITION],
  );
  await writeCursor(
    pool,
    last[0].definition_id,
    'SOURCE',
    keysetCursor.serialize({ ts: last[0].ts, key: [last[0].id] }),
  );
}

/**
 * Moves every row's cursor a day back (the cursor trigger off, so nothing else moves) and the SOURCE cursor with
 * them: the overlap window behind the cursor (I5b) is then long closed, as on any table quiet for more than
 * `overlapSeconds`, and a push measured now is the steady idle push rather than one re-reading fresh rows.
 */
export async function closeOverlapWindow(env: BenchEnvironment): Promise<void> {
  const { pool } = env;
  const touch = `"${cursorTriggerName('updated_at')}"`;
  await pool.query(`ALTER TABLE ${TABLE} DISABLE TRIGGER ${touch}`);
  await pool.query(`UPDATE ${TABLE} SET updated_at = updated_at - interval '1 day'`);
  await pool.query(`ALTER TABLE ${TABLE} ENABLE TRIGGER ${touch}`);
  await pool.query(`VACUUM ANALYZE ${TABLE}`);
  await sourceCursorAtNewestRow(pool);
  // A run after the move: the probe trusts a window only a run has read since it closed.
  quiet(
    await runPush(env.ctx, DEFINITION, { trigger: 'cli', full: true }),
    'the push after closing the window',
  );
}

/** What `install-cursor` adds for deletes, then the push that consumes its one full comparison. */
export async function installDeleteCapture(env: BenchEnvironment): Promise<RunSummary> {
  for (const statement of deleteCaptureStatements('public', TABLE, ['id'])) await env.pool.query(statement);
  return runPush(env.ctx, DEFINITION, { trigger: 'cli' });
}

/** Rows 1..rows in the table and the ledger as a first load would leave them (see the file comment). */
export async function fillSyncedTable(env: BenchEnvironment, rows: number): Promise<void> {
  const { pool } = env;
  const touch = `"${cursorTriggerName('updated_at')}"`;
  await pool.query(`ALTER TABLE ${TABLE} DISABLE TRIGGER ${touch}`);
  const chunk = 100_000;
  for (let from = 1; from <= rows; from += chunk) {
    const to = Math.min(rows, from + chunk - 1);
    await pool.query(INSERT_ROWS_SQL, [from, to, rows]);
    await pool.query(
      `INSERT INTO arcore.sync_ledger (definition_id, source_identity_hash, source_identity, source_key_strategy,
         source_connection, sp_list_id, sp_item_id, sp_etag, synced_values, content_hash, provenance, state)
       SELECT d.id, encode(sha256(convert_to('[' || g || ']', 'UTF8')), 'hex'), jsonb_build_object('id', g),
              'PRIMARY_KEY', d.source_connection, c.fingerprint->>'listId', 's' || g, '"e"',
              '{}'::jsonb, 'h', 'PUSH', 'SYNCED'
         FROM arcore.sync_definitions d
         JOIN arcore.sync_cursors c ON c.definition_id = d.id AND c.scope = 'TARGET',
              generate_series($1::int, $2::int) g
        WHERE d.name = $3`,
      [from, to, DEFINITION],
    );
  }
  await pool.query(`ALTER TABLE ${TABLE} ENABLE TRIGGER ${touch}`);
  await pool.query(`VACUUM ANALYZE ${TABLE}`);
  await pool.query('VACUUM ANALYZE arcore.sync_ledger');
  await sourceCursorAtNewestRow(pool);
  // One settling cycle; the pull's delta token was taken on the empty list, so it sees nothing new.
  quiet(await runPush(env.ctx, DEFINITION, { trigger: 'cli' }), 'the settling push');
  quiet(await runPull(env.ctx, DEFINITION, { trigger: 'cli' }), 'the settling pull');
}

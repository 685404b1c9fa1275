/**
 * The benchmark's data: a ten-column mixed-type table (text, numeric, integer, double, date, timestamptz,
 * boolean, uuid, text[] as multi-choice, jsonb) with the cursor trigger users install, its sync definition,
 * and the engine wired to a scenario's database and emulator.
 */
import type { Pool } from 'pg';
import { loadSettings } from '../src/config/settings';
import { parseDefinition } from '../src/core/definition/parse';
import type { SyncDefinitionInput } from '../src/core/definition/schema';
import { createEngineContext } from '../src/core/engine/context';
import { provisionList } from '../src/core/engine/provision';
import type { EngineContext } from '../src/core/engine/types';
import { installCursorTrigger } from '../src/core/source/postgres/PostgresSource';
import { upsertDefinitions } from '../src/core/store/definitions';
import { migrate } from '../src/core/store/migrate';
import { createScenarioDatabase } from './postgres';
import { EmulatorProcess } from './emulatorClient';
import { SITE } from './emulatorProcess';

export const TABLE = 'bench_items';
export const LIST = 'BenchItems';
export const DEFINITION = 'bench';

/** Source column → SharePoint column, ten mapped fields of ten different kinds. */
export const MAPPED_COLUMNS: [string, string][] = [
  ['title', 'Title'],
  ['amount', 'Amount'],
  ['quantity', 'Quantity'],
  ['ratio', 'Ratio'],
  ['due', 'Due'],
  ['happened_at', 'HappenedAt'],
  ['done', 'Done'],
  ['ref', 'Ref'],
  ['tags', 'Tags'],
  ['meta', 'Meta'],
];

/** The bench's definition; `pageSize` is `source.pageSize` (the schema's default when absent). */
export function benchDefinition(pageSize?: number): SyncDefinitionInput {
  return {
    name: DEFINITION,
    source: {
      table: TABLE,
      key: ['id'],
      cursor: { type: 'TIMESTAMP', column: 'updated_at' },
      ...(pageSize === undefined ? {} : { pageSize }),
    },
    target: { site: SITE, list: LIST },
    fields: MAPPED_COLUMNS.map(([source, target]) => ({ source, target })),
  };
}

/**
 * Creates the table and fills it with `rows` rows. Their cursor timestamps are spread over the past year and
 * end a day ago, as in a table that has been in use and quiet since: the push's overlap window (I5b) then holds
 * only rows changed during the benchmark (distinct timestamps, as real tables have, not one shared instant).
 */
export async function createBenchTable(pool: Pool, rows: number): Promise<void> {
  await pool.query(`CREATE TABLE ${TABLE} (
    id integer PRIMARY KEY,
    title text,
    amount numeric(12,2),
    quantity integer,
    ratio double precision,
    due date,
    happened_at timestamptz,
    done boolean,
    ref uuid,
    tags text[],
    meta jsonb,
    updated_at timestamptz NOT NULL DEFAULT now())`);
  await pool.query(`CREATE INDEX ON ${TABLE} (updated_at, id)`);
  await insertRows(pool, 1, rows);
  await installCursorTrigger(pool, 'public', TABLE, 'updated_at');
  await pool.query(`VACUUM ANALYZE ${TABLE}`);
}

/**
 * Inserts bench rows `$1..$2` (ints); `$3` is the row count their `updated_at` values spread over a year by.
 * Shared with idleSetup.ts, which writes the ledger of each chunk beside it.
 */
export const INSERT_ROWS_SQL = `INSERT INTO ${TABLE} (id, title, amount, quantity, ratio, due, happened_at, done, ref, tags, meta, updated_at)
  SELECT g, 'Item ' || g, round((g * 1.37)::numeric % 100000, 2), g % 1000, ((g % 997) / 997.0)::float8,
         date '2024-01-01' + (g % 700), timestamptz '2024-01-01T00:00:00Z' + g * interval '17 seconds',
         g % 3 = 0, md5(g::text)::uuid, ARRAY[(ARRAY['red','green','blue','amber'])[g % 4 + 1]],
         jsonb_build_object('n', g, 'kind', 'k' || (g % 10)),
         now() - interval '366 days' + g * (interval '365 days' / $3::int)
    FROM generate_series($1::int, $2::int) g`;

async function insertRows(pool: Pool, first: number, last: number): Promise<void> {
  const chunk = 100_000;
  for (let from = first; from <= last; from += chunk) {
    const to = Math.min(last, from + chunk - 1);
    await pool.query(INSERT_ROWS_SQL, [from, to, last]);
  }
}

/** Changes a value in every row whose id is a multiple of `every` (the trigger moves their cursor). */
export async function changeRows(pool: Pool, every: number, offset: number): Promise<number> {
  const result = await pool.query(
    `UPDATE ${TABLE} SET amount = amount + 1, title = title || ' (changed)' WHERE id % $1 = $2`,
    [every, offset],
  );
  return result.rowCount ?? 0;
}

/** Rewrites rows with their own values: the cursor moves, nothing SharePoint holds changes. */
export async function touchRows(pool: Pool, every: number, offset: number): Promise<number> {
  const result = await pool.query(`UPDATE ${TABLE} SET amount = amount WHERE id % $1 = $2`, [every, offset]);
  return result.rowCount ?? 0;
}

export interface BenchEnvironment {
  pool: Pool;
  ctx: EngineContext;
  emulator: EmulatorProcess;
  /** Batches the engine keeps in flight (GRAPH_MAX_CONCURRENCY). */
  maxConcurrency: number;
  close(): Promise<void>;
}

export interface EnvironmentOptions {
  label: string;
  rows: number;
  throttling: { enabled: boolean; resourceUnitsPerMinute?: number };
  latencyMs: number;
  /** The client's pacing budget; 0 turns pacing off (the emulator does not throttle then). */
  clientResourceUnitsPerMinute: number;
  maxConcurrency: number;
  /** Share of batched writes the emulator applies and answers 503 (its default, 2 %, when absent). */
  batchAmbiguous503Rate?: number;
  /** The definition's `source.pageSize` (the schema's default when absent). */
  pageSize?: number;
}

/** A scenario's own database (migrated, table filled, definition saved, list provisioned) and emulator. */
export async function openEnvironment(
  adminUrl: string,
  options: EnvironmentOptions,
): Promise<BenchEnvironment> {
  const db = await createScenarioDatabase(adminUrl, options.label);
  const emulator = await EmulatorProcess.start({
    throttling: options.throttling,
    latencyMs: options.latencyMs,
    batchAmbiguous503Rate: options.batchAmbiguous503Rate,
  });
  const settings = loadSettings({
    DATABASE_URL: db.url,
    GRAPH_BASE_URL: emulator.baseUrl,
    GRAPH_TOKEN: emulator.appToken,
  });
  const { ctx, close } = await createEngineContext(settings, {
    caCert: emulator.caCert,
    graph: {
      resourceUnitsPerMinute: options.clientResourceUnitsPerMinute,
      maxConcurrency: options.maxConcurrency,
    },
  });
  await migrate(ctx.meta);
  await createBenchTable(ctx.meta, options.rows);
  await upsertDefinitions(ctx.meta, [parseDefinition(benchDefinition(options.pageSize))]);
  await provisionList(ctx, DEFINITION);
  return {
    pool: ctx.meta,
    ctx,
    emulator,
    maxConcurrency: options.maxConcurrency,
    async close() {
      await close();
      await emulator.stop();
      await db.drop();
    },
  };
}

/**
 * Shared-budget scenario (I16): four worker processes push four definitions at once against one emulator
 * that enforces a resource-unit budget, all drawing from the app's one bucket in the metadata database.
 * Reports budget efficiency (item writes achieved ÷ the writes the budget allows, budget/2 per minute),
 * 429s, and the coordination cost (bucket statements per `$batch`).
 *
 *   npx tsx bench/sharedBudget.ts [--seconds 60] [--budget 1250]
 */
import { Client } from 'pg';
import { parseDefinition } from '../src/core/definition/parse';
import { loadSettings } from '../src/config/settings';
import { createEngineContext } from '../src/core/engine/context';
import { provisionList } from '../src/core/engine/provision';
import { installCursorTrigger } from '../src/core/source/postgres/PostgresSource';
import { upsertDefinitions } from '../src/core/store/definitions';
import { migrate } from '../src/core/store/migrate';
import { EmulatorProcess, itemWrites, statsDelta } from './emulatorClient';
import { SITE } from './emulatorProcess';
import { createScenarioDatabase, startBenchPostgres } from './postgres';
import { forkBenchProcess } from './processes';

const WORKERS = 4;

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}

interface WorkerResult {
  definition: string;
  runs: number;
  writes: number;
  paceWaitMs: number;
  complete: boolean;
}

interface Worker {
  ready: Promise<void>;
  go(endAt: number): void;
  done: Promise<WorkerResult>;
}

function startWorker(request: Record<string, unknown>): Worker {
  const child = forkBenchProcess('sharedBudgetWorker', [JSON.stringify(request)]);
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const done = new Promise<WorkerResult>((resolve, reject) => {
    child.on('message', (raw: unknown) => {
      if ((raw as { ready?: number }).ready !== undefined) return onReady();
      const reply = raw as { ok: boolean; result?: WorkerResult; error?: string };
      if (reply.ok && reply.result) resolve(reply.result);
      else reject(new Error(reply.error ?? 'worker failed'));
    });
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with code ${code}`));
    });
  });
  return { ready, done, go: (endAt) => child.send({ endAt }) };
}

async function main(): Promise<void> {
  const seconds = option('seconds', 60);
  const budget = option('budget', 1250);
  // More rows than the budget lets through in the time, so every worker stays busy to the end.
  const rowsPerWorker = Math.ceil(((budget / 2) * (seconds / 60)) / WORKERS) * 2;
  const server = await startBenchPostgres();
  const db = await createScenarioDatabase(server.adminUrl, 'shared_budget');
  const emulator = await EmulatorProcess.start({
    throttling: { enabled: false },
    latencyMs: 0,
  });
  const { ctx, close } = await createEngineContext(
    loadSettings({ DATABASE_URL: db.url, GRAPH_BASE_URL: emulator.baseUrl, GRAPH_TOKEN: emulator.appToken }),
    { caCert: emulator.caCert, graph: { resourceUnitsPerMinute: 10_000_000 } },
  );
  try {
    await migrate(ctx.meta);
    const names = Array.from({ length: WORKERS }, (_, i) => `shared_${i + 1}`);
    for (const name of names) {
      await ctx.meta.query(
        `CREATE TABLE ${name} (id integer PRIMARY KEY, title text, updated_at timestamptz NOT NULL DEFAULT now())`,
      );
      await installCursorTrigger(ctx.meta, 'public', name, 'updated_at');
      await ctx.meta.query(
        `INSERT INTO ${name} (id, title) SELECT g, 'row ' || g FROM generate_series(1, $1) g`,
        [rowsPerWorker],
      );
      await upsertDefinitions(ctx.meta, [
        parseDefinition({
          name,
          source: {
            table: name,
            key: ['id'],
            cursor: { type: 'TIMESTAMP', column: 'updated_at' },
            // Pages of two batches, so runs stop close to their time budget at this small budget.
            pageSize: 40,
          },
          target: { site: SITE, list: name },
          fields: [{ source: 'title', target: 'Title' }],
        }),
      ]);
      await provisionList(ctx, name);
    }
    // Setup traffic is not measured: start the server's budget window afresh.
    await emulator.setThrottling(true, budget);
    const workers = names.map((definition) =>
      startWorker({
        databaseUrl: db.url,
        baseUrl: emulator.baseUrl,
        token: emulator.appToken,
        caCert: emulator.caCert,
        definition,
        unitsPerMinute: budget,
        runSeconds: 20,
      }),
    );
    await Promise.all(workers.map((w) => w.ready));
    // Measured from the moment every worker is ready: process start-up is not a budget question.
    const before = await emulator.stats();
    const started = Date.now();
    for (const w of workers) w.go(started + seconds * 1000);
    const results = await Promise.all(workers.map((w) => w.done));
    const elapsedS = (Date.now() - started) / 1000;
    const delta = statsDelta(before, await emulator.stats());
    const writes = itemWrites(delta);
    const batches = Object.entries(delta.requests)
      .filter(([key]) => key.startsWith('POST /$batch'))
      .reduce((n, [, count]) => n + count, 0);
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    const { rows } = await admin.query<{ reservations: string; refusals: string }>(
      'SELECT sum(reservations) AS reservations, sum(refusals) AS refusals FROM arcore.graph_budget',
    );
    await admin.end();
    const reservations = Number(rows[0].reservations ?? 0);
    const allowed = (budget / 2) * (elapsedS / 60);
    const figures = {
      workers: WORKERS,
      budgetRuPerMinute: budget,
      seconds: Number(elapsedS.toFixed(1)),
      writes,
      writesPerWorker: results.map((r) => r.writes),
      runs: results.reduce((n, r) => n + r.runs, 0),
      budgetEfficiency: Number((writes / allowed).toFixed(3)),
      throttled429: delta.throttled429,
      resourceUnits: delta.resourceUnits,
      batches,
      bucketStatements: reservations,
      bucketWaits: Number(rows[0].refusals ?? 0),
      queriesPerBatch: batches > 0 ? Number((reservations / batches).toFixed(2)) : null,
    };
    console.log(JSON.stringify(figures, null, 2));
  } finally {
    await close();
    await emulator.stop();
    await db.drop();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

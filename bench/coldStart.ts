import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * Cold start of the Function App: from the moment the worker starts loading the app to every function
 * registered (handlers ready), in a fresh Node process each time, as on a new Flex Consumption instance.
 * Compares the deployable bundle (`npm run package`, .arcore/package) with the tsc output the app used to
 * ship (dist/src/functions/*.js with the whole node_modules), with and without Application Insights.
 *
 *   npm run bench:cold-start            (builds both, then measures; RUNS=<n> to change the sample size)
 *
 * Writes bench/results/cold-start.json. The appStart hook (database connection and migrations) is not
 * part of this figure: it depends on the network to Postgres, not on the package.
 */

const ROOT = resolve(__dirname, '../..');
const WORKER = join(ROOT, 'bench', 'functionsWorker.js');
const RUNS = Number(process.env.RUNS ?? 9);
const FAKE_APPINSIGHTS =
  'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/';

const outputSchema = z.object({ functions: z.array(z.object({ name: z.string() })), loadMs: z.number() });

interface Sample {
  loadMs: number;
  processMs: number;
}

function measureOnce(appDir: string, env: Record<string, string>): Sample {
  const started = process.hrtime.bigint();
  const child = spawnSync(process.execPath, [WORKER, appDir], {
    cwd: appDir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: 'utf8',
  });
  const processMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (child.status !== 0) throw new Error(`loading ${appDir} failed: ${child.stderr}`);
  const parsed = outputSchema.parse(JSON.parse(child.stdout));
  if (parsed.functions.length !== 10)
    throw new Error(`expected 10 functions, got ${parsed.functions.length}`);
  return { loadMs: parsed.loadMs, processMs };
}

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n);
  return {
    medianMs: round(sorted[Math.floor(sorted.length / 2)]),
    minMs: round(sorted[0]),
    maxMs: round(sorted[sorted.length - 1]),
  };
}

function main(): void {
  const variants = [
    { name: 'bundle (.arcore/package)', dir: join(ROOT, '.arcore', 'package') },
    { name: 'tsc output (dist/src/functions, full node_modules)', dir: ROOT },
  ];
  for (const v of variants) {
    if (!existsSync(join(v.dir, 'package.json')))
      throw new Error(`${v.dir} is missing: run npm run build && npm run package`);
  }
  if (!existsSync(join(ROOT, 'dist', 'src', 'functions')))
    throw new Error('dist/src/functions is missing: run npm run build');
  const results = [];
  for (const telemetry of [false, true]) {
    for (const v of variants) {
      const env: Record<string, string> = telemetry
        ? { APPLICATIONINSIGHTS_CONNECTION_STRING: FAKE_APPINSIGHTS }
        : {};
      measureOnce(v.dir, env); // warm the OS file cache, as a second instance on the same host would have
      const samples = Array.from({ length: RUNS }, () => measureOnce(v.dir, env));
      const row = {
        variant: v.name,
        applicationInsights: telemetry,
        runs: RUNS,
        moduleLoadToHandlersReady: stats(samples.map((s) => s.loadMs)),
        processStartToExit: stats(samples.map((s) => s.processMs)),
      };
      results.push(row);
      process.stdout.write(
        `${v.name}${telemetry ? ' + App Insights' : ''}: load → handlers ready median ${row.moduleLoadToHandlersReady.medianMs} ms ` +
          `(min ${row.moduleLoadToHandlersReady.minMs}, max ${row.moduleLoadToHandlersReady.maxMs}); whole process ${row.processStartToExit.medianMs} ms\n`,
      );
    }
  }
  const out = join(ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'cold-start.json'),
    `${JSON.stringify({ node: process.version, measuredAt: new Date().toISOString(), results }, null, 2)}\n`,
  );
}

main();

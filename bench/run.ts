/**
 * `npm run bench`: the benchmarks of issue 10 on embedded Postgres (or DATABASE_URL) and the emulator.
 * Prints a table and writes bench/results/latest.json. Each scenario runs in a fresh process of its own.
 *
 *   npm run bench -- --scenarios overhead,incremental --rows 50000
 *   npm run bench -- --full            # the issue's sizes (takes far longer than the default run)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { startBenchPostgres } from './postgres';
import { forkBenchProcess } from './processes';
import {
  SCENARIO_IDS,
  SCENARIO_NUMBERS,
  type BenchSizes,
  type Figure,
  type ScenarioId,
  type ScenarioResult,
} from './scenarios';
import type { WorkerRequest } from './scenarioWorker';
import { SYNTHETIC_IDLE_ABOVE } from './idleSetup';

/** Sized so that the default run takes about six minutes on a 2-core machine. */
export const DEFAULT_SIZES: BenchSizes = {
  budgetRows: 5_000,
  budgetRuPerMinute: 6_000,
  // Pushes of 10,000 rows are dominated by warm-up and swing ±40 % between runs; 20,000 settle better.
  overheadRows: 20_000,
  latencyRows: 20_000,
  latencyMs: 20,
  incrementalRows: 10_000,
  idleRows: 10_000,
  pullChanges: 5_000,
  memoryRows: 40_000,
  memoryPageSize: 1_000,
  seedRows: 1_000,
  seedLatencyRows: 200,
  webhookEdits: 50,
  pushAmbiguous503Rate: 0,
  concurrency: 4,
  lsnIdleRows: [10_000],
  lsnIdleSeedAll: false,
  lsnThroughputRows: 10_000,
  emulatorItems: 200_000,
  emulatorRepeats: 3,
  pullPipelineRows: 20_000,
  pullPipelineRepeats: 3,
};

/** The issue's sizes; the budget is scaled up so that 50,000 rows still take a few minutes. */
export const ISSUE_SIZES: BenchSizes = {
  budgetRows: 50_000,
  budgetRuPerMinute: 30_000,
  overheadRows: 50_000,
  latencyRows: 50_000,
  latencyMs: 20,
  incrementalRows: 50_000,
  idleRows: 1_000_000,
  pullChanges: 10_000,
  memoryRows: 1_000_000,
  memoryPageSize: 1_000,
  seedRows: 5_000,
  seedLatencyRows: 1_000,
  webhookEdits: 50,
  pushAmbiguous503Rate: 0,
  concurrency: 4,
  lsnIdleRows: [10_000, 1_000_000],
  lsnIdleSeedAll: false,
  lsnThroughputRows: 50_000,
  emulatorItems: 1_000_000,
  emulatorRepeats: 3,
  pullPipelineRows: 50_000,
  pullPipelineRepeats: 3,
};

const DEFAULT_SCENARIOS: ScenarioId[] = [
  'budget',
  'overhead',
  'overheadSerial',
  'latency',
  'latencySerial',
  'incremental',
  'idle',
  'pull',
  'webhook',
  'memory',
  'seed',
  'lsnIdle',
  'lsnThroughput',
  'emulator',
];

/** The commit the figures belong to, `+dirty` when src/ has uncommitted changes; null outside a git clone. */
function sourceRevision(): string | null {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return null;
  }
}

function positiveInteger(value: string): number {
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(`must be a positive integer, got "${value}"`);
  return n;
}

function rate(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError(`must be a share between 0 and 1, got "${value}"`);
  return n;
}

function sizeList(value: string): number[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(positiveInteger);
}

function scenarioList(value: string): ScenarioId[] {
  const ids = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const byNumber = new Map(Object.entries(SCENARIO_NUMBERS).map(([id, n]) => [String(n), id as ScenarioId]));
  return ids.map((id) => {
    const resolved = byNumber.get(id) ?? (SCENARIO_IDS as readonly string[]).find((s) => s === id);
    if (!resolved)
      throw new InvalidArgumentError(`unknown scenario "${id}"; known: ${SCENARIO_IDS.join(', ')} (or 1–15)`);
    return resolved as ScenarioId;
  });
}

const workerReplySchema = z.union([
  z.object({
    ok: z.literal(true),
    result: z.custom<ScenarioResult>((v) => typeof v === 'object' && v !== null),
  }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);

function runInWorker(request: WorkerRequest): Promise<ScenarioResult> {
  return new Promise((resolveResult, reject) => {
    const child = forkBenchProcess('scenarioWorker', [JSON.stringify(request)]);
    let settled = false;
    child.on('message', (raw: unknown) => {
      const reply = workerReplySchema.safeParse(raw);
      if (!reply.success || settled) return;
      settled = true;
      if (reply.data.ok) resolveResult(reply.data.result);
      else reject(new Error(reply.data.error));
      // The worker exits on its own once its handles close; do not let a stray one hold the run.
      setTimeout(() => child.exitCode === null && child.kill(), 10_000).unref();
    });
    child.on('exit', (code) => {
      if (!settled) {
        settled = true;
        reject(new Error(`the ${request.scenario} worker exited with code ${code} before answering`));
      }
    });
  });
}

interface TargetCheck {
  target: string;
  scenario: number;
  measured: string;
  met: boolean | null;
}

const num = (r: ScenarioResult | undefined, key: string): number | null => {
  const v = r?.figures[key];
  return typeof v === 'number' ? v : null;
};

function checkTargets(results: Map<ScenarioId, ScenarioResult>): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const budget = results.get('budget');
  if (budget) {
    const efficiency = num(budget, 'budgetEfficiency') ?? 0;
    const share = num(budget, 'throttledShare') ?? 1;
    checks.push({
      target: 'Budget efficiency ≥ 0.95 with ≤ 1 % of requests throttled',
      scenario: 1,
      measured: `${efficiency} efficiency, ${(share * 100).toFixed(2)} % throttled`,
      met: efficiency >= 0.95 && share <= 0.01,
    });
  }
  const incremental = results.get('incremental');
  if (incremental) {
    const perRow = num(incremental, 'resourceUnitsPerChangedRow');
    checks.push({
      target: 'Exactly 2 RU per changed row; no writes for unchanged rows',
      scenario: 4,
      measured: `${perRow} RU/changed row (writes alone ${num(incremental, 'writeResourceUnitsPerChangedRow')}), ${incremental.figures.itemWrites} writes for ${incremental.figures.rowsChanged} changed rows`,
      met: perRow === 2 && incremental.figures.writesEqualChanges === true,
    });
  }
  const idle = results.get('idle');
  if (idle) {
    const requests = num(idle, 'graphRequests');
    const pgMs = num(idle, 'postgresMs');
    checks.push({
      target: 'Idle cycle: one Graph request (delta with a token), < 50 ms Postgres time',
      scenario: 5,
      measured: `${requests} Graph requests, ${pgMs} ms Postgres (${idle.sizes.rows} rows)`,
      met: requests === 1 && pgMs !== null && pgMs < 50,
    });
  }
  const overhead = results.get('overhead');
  if (overhead) {
    const rate = num(overhead, 'rowsPerSecond') ?? 0;
    checks.push({
      target: '≥ 2,000 rows/s in scenario 2 on this 2-core machine',
      scenario: 2,
      measured: `${rate} rows/s`,
      met: rate >= 2000,
    });
  }
  const pipelineCheck = (
    pipelined: ScenarioResult | undefined,
    serial: ScenarioResult | undefined,
    scenario: number,
    goal: number,
  ) => {
    if (!pipelined) return;
    const rate = num(pipelined, 'rowsPerSecond') ?? 0;
    const before = serial ? num(serial, 'rowsPerSecond') : null;
    checks.push({
      target: `Pipelined push (issue 23.1): ≥ ${goal.toLocaleString('en-US')} rows/s in scenario ${scenario}`,
      scenario,
      measured:
        `${rate} rows/s` + (before ? `; serial loop ${before} rows/s (${(rate / before).toFixed(2)}×)` : ''),
      met: rate >= goal,
    });
  };
  pipelineCheck(overhead, results.get('overheadSerial'), 2, 4000);
  pipelineCheck(results.get('latency'), results.get('latencySerial'), 3, 2500);
  for (const pushed of [overhead, results.get('latency')]) {
    const cpu = pushed ? num(pushed, 'engineCpuSecondsPer1000Rows') : null;
    if (!pushed || cpu === null) continue;
    checks.push({
      target: 'Engine CPU per 1,000 rows pushed ≤ 0.15 s (issue 23.3)',
      scenario: pushed.number,
      measured: `${cpu} s`,
      met: cpu <= 0.15,
    });
  }
  const seed = results.get('seed');
  const latency = results.get('latency');
  if (seed && overhead) {
    const ratio = (num(overhead, 'rowsPerSecond') ?? 0) / (num(seed, 'rowsPerSecond') ?? Infinity);
    checks.push({
      target: '≥ 20× the seed algorithm in scenario 2',
      scenario: 9,
      measured: `${ratio.toFixed(1)}×`,
      met: ratio >= 20,
    });
  }
  if (seed && latency) {
    const ratio = (num(latency, 'rowsPerSecond') ?? 0) / (num(seed, 'rowsPerSecondWithLatency') ?? Infinity);
    checks.push({
      target: '≥ 20× the seed algorithm in scenario 3',
      scenario: 9,
      measured: `${ratio.toFixed(1)}×`,
      met: ratio >= 20,
    });
  }
  const lsnIdle = results.get('lsnIdle');
  if (lsnIdle) {
    const sizes = Object.values(lsnIdle.sizes);
    const ms = sizes.map((rows) => num(lsnIdle, `rows${rows}IdlePostgresMs`));
    checks.push({
      target: 'Idle LSN push: < 5 ms Postgres time, whatever the table size',
      scenario: 10,
      measured: sizes.map((rows, i) => `${ms[i]} ms at ${rows.toLocaleString('en-US')} rows`).join(', '),
      met: ms.every((m) => m !== null && m < 5),
    });
  }
  const lsnThroughput = results.get('lsnThroughput');
  if (lsnThroughput) {
    const seedRate = seed ? num(seed, 'rowsPerSecond') : null;
    const lsnInitial = num(lsnThroughput, 'lsnInitialRowsPerSecond') ?? 0;
    checks.push({
      target: 'Push throughput, LSN against TIMESTAMP on the same rows (and the seed algorithm)',
      scenario: 11,
      measured:
        `initial ${lsnInitial} rows/s LSN vs ${num(lsnThroughput, 'timestampInitialRowsPerSecond')} TIMESTAMP, ` +
        `10 % changed ${num(lsnThroughput, 'lsnChangedRowsPerSecond')} vs ` +
        `${num(lsnThroughput, 'timestampChangedRowsPerSecond')} rows/s` +
        (seedRate ? `; LSN initial ${(lsnInitial / seedRate).toFixed(1)}× the seed algorithm` : ''),
      met: null,
    });
  }
  const memory = results.get('memory');
  if (memory) {
    const peak = num(memory, 'enginePeakRssMb') ?? Infinity;
    const smaller = overhead
      ? ` (${num(overhead, 'enginePeakRssMb')} MB at ${overhead.sizes.rows} rows in scenario 2)`
      : '';
    checks.push({
      target: 'Peak RSS < 300 MB in scenario 8, independent of table size',
      scenario: 8,
      measured: `${peak} MB at ${memory.sizes.rows} rows${smaller}`,
      met: peak < 300,
    });
    checks.push({
      target: 'Peak RSS < 200 MB per worker at 1,000,000 rows (issue 23 item 3)',
      scenario: 8,
      measured: `${peak} MB at ${memory.sizes.rows} rows, node flags "${memory.figures.engineNodeFlags ?? ''}"`,
      met: memory.sizes.rows >= 1_000_000 ? peak < 200 : null,
    });
  }
  const emulator = results.get('emulator');
  if (emulator) {
    const peak = num(emulator, 'peakRssMb') ?? Infinity;
    checks.push({
      target: 'Emulator holds 1,000,000 items in under 600 MB',
      scenario: 10,
      measured: `peak RSS ${peak} MB at ${emulator.sizes.items} items (worst of ${emulator.sizes.repeats})`,
      met: emulator.sizes.items >= 1_000_000 ? peak < 600 : null,
    });
  }
  const webhook = results.get('webhook');
  if (webhook) {
    const p50 = num(webhook, 'p50Ms');
    checks.push({
      target: 'Webhook to row p50 < 500 ms',
      scenario: 7,
      measured: p50 === null ? 'not measured' : `p50 ${p50} ms, p95 ${num(webhook, 'p95Ms')} ms`,
      met: p50 === null ? null : p50 < 500,
    });
  }
  return checks;
}

function formatFigure(value: Figure): string {
  if (typeof value === 'number') return value.toLocaleString('en-US');
  return String(value);
}

function printTable(results: ScenarioResult[], checks: TargetCheck[]): void {
  const lines: [string, string, string][] = [];
  for (const r of results) {
    lines.push([
      `${r.number}. ${r.id}`,
      'sizes',
      Object.entries(r.sizes)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
    ]);
    for (const [k, v] of Object.entries(r.figures)) lines.push(['', k, formatFigure(v)]);
  }
  const width = [0, 1].map((i) => Math.max(...lines.map((l) => l[i].length)));
  console.log('');
  for (const [a, b, c] of lines) console.log(`${a.padEnd(width[0])}  ${b.padEnd(width[1])}  ${c}`);
  console.log('\nTargets');
  for (const c of checks) {
    const mark = c.met === null ? 'n/a ' : c.met ? 'MET ' : 'MISS';
    console.log(`  ${mark}  [${c.scenario}] ${c.target}: ${c.measured}`);
  }
}

async function main(): Promise<void> {
  const program = new Command()
    .name('bench')
    .description('ArcoreSyncBridge benchmarks (issue 10): embedded Postgres + the SharePoint emulator')
    .option(
      '--scenarios <list>',
      `comma-separated: ${SCENARIO_IDS.join(',')} or numbers 1–15 (15 runs only when named)`,
      scenarioList,
      DEFAULT_SCENARIOS,
    )
    .option('--full', "the issue's sizes (50,000-row pushes, 1,000,000-row idle and memory tables)")
    .option('--rows <n>', 'rows of the initial push in scenarios 1–4', positiveInteger)
    .option('--budget-rows <n>', 'scenario 1 rows', positiveInteger)
    .option('--budget-ru <n>', 'scenario 1 resource units per minute (emulator and client)', positiveInteger)
    .option('--overhead-rows <n>', 'scenario 2 rows', positiveInteger)
    .option('--latency-rows <n>', 'scenario 3 rows', positiveInteger)
    .option(
      '--latency-ms <n>',
      'scenarios 3 and 9: latency added to every emulator response',
      positiveInteger,
    )
    .option('--incremental-rows <n>', 'scenario 4 rows (at least 200)', positiveInteger)
    .option('--idle-rows <n>', 'scenario 5 rows', positiveInteger)
    .option('--pull-changes <n>', 'scenario 6 items changed in SharePoint', positiveInteger)
    .option('--memory-rows <n>', 'scenario 8 rows', positiveInteger)
    .option(
      '--memory-page-size <n>',
      "scenario 8 definition's source.pageSize (default 1000)",
      positiveInteger,
    )
    .option('--seed-rows <n>', 'scenario 9 rows without latency', positiveInteger)
    .option('--seed-latency-rows <n>', 'scenario 9 rows with latency', positiveInteger)
    .option('--webhook-edits <n>', 'scenario 7 SharePoint edits, one after another', positiveInteger)
    .option(
      '--push-503-rate <r>',
      'scenarios 2, 3, 13, 14: share of batched writes the emulator applies and answers 503 (default 0; the emulator alone: 0.02)',
      rate,
    )
    .option(
      '--concurrency <n>',
      'Graph requests in flight (GRAPH_MAX_CONCURRENCY, app default 4)',
      positiveInteger,
    )
    .option(
      '--lsn-idle-rows <list>',
      'scenario 10 table sizes, comma-separated (e.g. 10000,1000000)',
      sizeList,
    )
    .option(
      '--lsn-idle-seed',
      `scenario 10: seed the table's ledger, slot and cursor by SQL at every size (default: above ${SYNTHETIC_IDLE_ABOVE.toLocaleString('en-US')} rows)`,
    )
    .option('--lsn-throughput-rows <n>', 'scenario 11 rows', positiveInteger)
    .option('--emulator-items <n>', 'scenario 12 items loaded into the emulator', positiveInteger)
    .option('--emulator-repeats <n>', 'scenario 12 fresh emulator processes measured', positiveInteger)
    .option('--pull-pipeline-rows <n>', 'scenario 15 items edited before each measured pull', positiveInteger)
    .option('--pull-pipeline-repeats <n>', 'scenario 15 measured pulls per loop and latency', positiveInteger)
    .option('--out <file>', 'where to write the JSON results', 'bench/results/latest.json');
  program.parse();
  const o = program.opts<{
    scenarios: ScenarioId[];
    full?: boolean;
    rows?: number;
    budgetRows?: number;
    budgetRu?: number;
    overheadRows?: number;
    latencyRows?: number;
    latencyMs?: number;
    incrementalRows?: number;
    idleRows?: number;
    pullChanges?: number;
    memoryRows?: number;
    memoryPageSize?: number;
    seedRows?: number;
    seedLatencyRows?: number;
    webhookEdits?: number;
    push503Rate?: number;
    concurrency?: number;
    lsnIdleRows?: number[];
    lsnIdleSeed?: boolean;
    lsnThroughputRows?: number;
    emulatorItems?: number;
    emulatorRepeats?: number;
    pullPipelineRows?: number;
    pullPipelineRepeats?: number;
    out: string;
  }>();
  const base = o.full ? ISSUE_SIZES : DEFAULT_SIZES;
  const sizes: BenchSizes = {
    budgetRows: o.budgetRows ?? o.rows ?? base.budgetRows,
    budgetRuPerMinute: o.budgetRu ?? base.budgetRuPerMinute,
    overheadRows: o.overheadRows ?? o.rows ?? base.overheadRows,
    latencyRows: o.latencyRows ?? o.rows ?? base.latencyRows,
    latencyMs: o.latencyMs ?? base.latencyMs,
    incrementalRows: Math.max(200, o.incrementalRows ?? o.rows ?? base.incrementalRows),
    idleRows: o.idleRows ?? base.idleRows,
    pullChanges: o.pullChanges ?? base.pullChanges,
    memoryRows: o.memoryRows ?? base.memoryRows,
    memoryPageSize: o.memoryPageSize ?? base.memoryPageSize,
    seedRows: o.seedRows ?? base.seedRows,
    seedLatencyRows: o.seedLatencyRows ?? base.seedLatencyRows,
    webhookEdits: o.webhookEdits ?? base.webhookEdits,
    pushAmbiguous503Rate: o.push503Rate ?? base.pushAmbiguous503Rate,
    concurrency: o.concurrency ?? base.concurrency,
    lsnIdleRows: o.lsnIdleRows ?? base.lsnIdleRows,
    lsnIdleSeedAll: o.lsnIdleSeed ?? base.lsnIdleSeedAll,
    lsnThroughputRows: o.lsnThroughputRows ?? o.rows ?? base.lsnThroughputRows,
    emulatorItems: o.emulatorItems ?? base.emulatorItems,
    emulatorRepeats: o.emulatorRepeats ?? base.emulatorRepeats,
    pullPipelineRows: o.pullPipelineRows ?? base.pullPipelineRows,
    pullPipelineRepeats: o.pullPipelineRepeats ?? base.pullPipelineRepeats,
  };
  const machine = {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: Number((totalmem() / 1024 ** 3).toFixed(1)),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
  const revision = sourceRevision();
  console.log(`Source: ${revision ?? 'unknown revision'}`);
  console.log(
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGb} GB, Node ${machine.node}`,
  );
  console.log(
    `Sizes: ${Object.entries(sizes)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );

  const postgres = await startBenchPostgres();
  const results = new Map<ScenarioId, ScenarioResult>();
  const failures: { scenario: ScenarioId; error: string }[] = [];
  const started = performance.now();
  try {
    for (const scenario of o.scenarios) {
      const t0 = performance.now();
      process.stdout.write(`▶ ${SCENARIO_NUMBERS[scenario]}. ${scenario} … `);
      try {
        const result = await runInWorker({ scenario, adminUrl: postgres.adminUrl, sizes });
        results.set(scenario, result);
        console.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        failures.push({ scenario, error });
        console.log(`FAILED: ${error}`);
      }
    }
  } finally {
    await postgres.stop();
  }
  const ordered = o.scenarios.flatMap((id) => results.get(id) ?? []);
  const checks = checkTargets(results);
  printTable(ordered, checks);
  const totalSeconds = (performance.now() - started) / 1000;
  console.log(`\nTotal ${totalSeconds.toFixed(0)} s; Postgres: ${postgres.origin}`);
  const out = resolve(o.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ generatedAt: new Date().toISOString(), revision, machine, postgres: postgres.origin, totalSeconds: Math.round(totalSeconds), sizes, scenarios: ordered, targets: checks, failures }, null, 2)}\n`,
  );
  console.log(`Wrote ${out}`);
  if (failures.length) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

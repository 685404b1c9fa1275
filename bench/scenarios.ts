/**
 * The benchmark scenarios of issue 10. Each runs in a fresh process (bench/scenarioWorker.ts) with its own
 * database and emulator process, so peak RSS and CPU time belong to that scenario alone.
 */
import { availableParallelism } from 'node:os';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { runPull } from '../src/core/engine/pull';
import { runPush } from '../src/core/engine/push';
import { silentLogger, type RunSummary } from '../src/core/engine/types';
import { importWithoutTestModeWarnings } from '../src/cli/quietImport';
import { changeRows, DEFINITION, LIST, openEnvironment, touchRows, type BenchEnvironment } from './dataset';
import { itemWrites, statsDelta } from './emulatorClient';
import { measureEmulatorMemory, type EmulatorMemoryRun } from './emulatorMemory';
import {
  medianRssBetween,
  rssSlopeMbPer100kRows,
  startMemorySeries,
  type MemorySample,
} from './memorySeries';
import { measurePostgres } from './pgTiming';
import { postgresServerCpuSeconds, postmasterPid, processUsage } from './processes';
import { createSeedLedger, seedPush } from './seedPush';
import {
  countsMilliseconds,
  fillSyncedTable,
  IDLE_REPEATS,
  closeOverlapWindow,
  idleCycles,
  installDeleteCapture,
  median,
  SYNTHETIC_IDLE_ABOVE,
} from './idleSetup';
import { lsnIdleScenario, lsnThroughputScenario } from './lsnScenarios';
import { WireTimingRecorder } from './wireTiming';
import { emulatorBatchTimes, WriteFlowRecorder } from './writeFlow';
import { editItems, pullPipelineScenario } from './pullPipeline';

export const SCENARIO_IDS = [
  'budget',
  'overhead',
  'latency',
  'incremental',
  'idle',
  'pull',
  'webhook',
  'memory',
  'seed',
  'lsnIdle',
  'lsnThroughput',
  'emulator',
  'overheadSerial',
  'latencySerial',
  'pullPipeline',
] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

export const SCENARIO_NUMBERS: Record<ScenarioId, number> = {
  budget: 1,
  overhead: 2,
  latency: 3,
  incremental: 4,
  idle: 5,
  pull: 6,
  webhook: 7,
  memory: 8,
  seed: 9,
  lsnIdle: 10,
  lsnThroughput: 11,
  emulator: 12,
  overheadSerial: 13,
  latencySerial: 14,
  pullPipeline: 15,
};

export interface BenchSizes {
  /** Scenario 1: rows of the initial push and the emulator's (and client's) resource units per minute. */
  budgetRows: number;
  budgetRuPerMinute: number;
  /** Scenario 2: rows of the initial push. */
  overheadRows: number;
  /** Scenario 3: rows, and latency added to every emulator response. */
  latencyRows: number;
  latencyMs: number;
  /** Scenario 4: rows of the synced table (1 % changed, 0.5 % touched). */
  incrementalRows: number;
  /** Scenario 5: rows of the synced, quiet table. */
  idleRows: number;
  /** Scenario 6: items changed in SharePoint (the table has as many rows). */
  pullChanges: number;
  /** Scenario 8: rows of the initial push, and the definition's `source.pageSize` (rows read per page). */
  memoryRows: number;
  memoryPageSize: number;
  /** Scenario 9: rows the seed's algorithm pushes with no latency, and with `latencyMs`. */
  seedRows: number;
  seedLatencyRows: number;
  /** Scenario 7: SharePoint edits, one after another. */
  webhookEdits: number;
  /**
   * Scenarios 2, 3, 13, 14: share of batched writes the emulator applies and answers 503 (its default is 2 %).
   * 0 by default: each costs a back-off of half a second or more, which measures the retry policy, not the engine.
   */
  pushAmbiguous503Rate: number;
  /** Graph requests in flight (GRAPH_MAX_CONCURRENCY). */
  concurrency: number;
  /** Scenario 10: table sizes at which an idle LSN push is measured. */
  lsnIdleRows: number[];
  /**
   * Scenario 10: seed the ledger, slot and cursor by SQL (bench/lsnScenarios.ts) at every size instead of only
   * above SYNTHETIC_IDLE_ABOVE rows, so that two sizes are set up the same way.
   */
  lsnIdleSeedAll: boolean;
  /** Scenario 11: rows pushed by a TIMESTAMP and an LSN definition (10 % then changed). */
  lsnThroughputRows: number;
  /** Scenario 12: items loaded into the emulator, and in how many fresh emulator processes. */
  emulatorItems: number;
  emulatorRepeats: number;
  /** Scenario 15: items edited in SharePoint before each measured pull, and measured pulls per loop and latency. */
  pullPipelineRows: number;
  pullPipelineRepeats: number;
}

export type Figure = number | string | boolean | null;

export interface ScenarioResult {
  id: ScenarioId;
  number: number;
  title: string;
  /** What was run: sizes and settings. */
  sizes: Record<string, number>;
  figures: Record<string, Figure>;
  /** Time series behind some figures (scenario 8: the engine's memory every 5 s of the push). */
  series?: { engineMemory: MemorySample[] };
  notes: string[];
  wallSeconds: number;
}

/** Heap still in use after a full garbage collection, MB (V8's gc exposed at run time for this measurement). */
function liveHeapMb(): number {
  setFlagsFromString('--expose-gc');
  const collect: unknown = runInNewContext('gc');
  if (typeof collect === 'function') collect();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

/** Scenario 8 samples the engine's memory this often: ~200 samples over a 1,000,000-row push. */
const MEMORY_SERIES_INTERVAL_MS = 5_000;

class ScenarioFailedError extends Error {
  constructor(
    scenario: ScenarioId,
    message: string,
    readonly summary?: RunSummary,
  ) {
    super(
      `scenario ${scenario}: ${message}${summary ? ` (run ${summary.status}: ${summary.error ?? 'no error text'})` : ''}`,
    );
    this.name = 'ScenarioFailedError';
  }
}

function requireSucceeded(scenario: ScenarioId, summary: RunSummary, what: string): RunSummary {
  if (summary.status !== 'SUCCEEDED')
    throw new ScenarioFailedError(scenario, `${what} did not succeed`, summary);
  return summary;
}

const unthrottled = (rows: number, latencyMs: number, label: string, sizes: BenchSizes) => ({
  label,
  rows,
  throttling: { enabled: false },
  latencyMs,
  clientResourceUnitsPerMinute: 0,
  maxConcurrency: sizes.concurrency,
});

/** The push page loop a throughput scenario runs: pipelined (the engine's) or serial (before issue 23.1). */
type PushLoop = 'pipelined' | 'serial';

/**
 * An initial push measured from outside: wall time, CPU of both processes, Graph and Postgres use. With
 * `untilComplete`, a push its time budget stopped (RUN_MAX_SECONDS, I16) is followed by the next run, as the
 * next timer tick would, until every row is pushed; `runs` says how many it took and the summary is the last's.
 */
async function measuredPush(
  env: BenchEnvironment,
  scenario: ScenarioId,
  rows: number,
  loop: PushLoop = 'pipelined',
  untilComplete = false,
) {
  const postmaster = await postmasterPid(env.pool);
  const emulatorBefore = await env.emulator.usage();
  const statsBefore = await env.emulator.stats();
  const postgres = measurePostgres();
  const cpuBefore = processUsage().cpuSeconds;
  const postgresCpuBefore = postgresServerCpuSeconds(postmaster);
  const flow = new WriteFlowRecorder();
  const wire = new WireTimingRecorder();
  const started = performance.now();
  const push = async () =>
    requireSucceeded(
      scenario,
      await runPush(
        { ...env.ctx, pipelinedPush: loop === 'pipelined', onProgress: flow.onProgress },
        DEFINITION,
        { trigger: 'cli' },
      ),
      'the push',
    );
  let summary = await push();
  let created = summary.created;
  let runs = 1;
  while (untilComplete && !summary.complete) {
    summary = await push();
    created += summary.created;
    runs++;
  }
  const seconds = (performance.now() - started) / 1000;
  const wireTiming = wire.stop();
  const engine = processUsage();
  const postgresCpuAfter = postgresServerCpuSeconds(postmaster);
  const emulatorAfter = await env.emulator.usage();
  const stats = statsDelta(statsBefore, await env.emulator.stats());
  if (created !== rows)
    throw new ScenarioFailedError(
      scenario,
      `expected ${rows} items created, the push created ${created}` +
        (summary.complete ? '' : ' (stopped by its time budget, RUN_MAX_SECONDS)'),
      summary,
    );
  return {
    summary,
    runs,
    seconds,
    stats,
    postgres: postgres(),
    engineCpuSeconds: engine.cpuSeconds - cpuBefore,
    enginePeakRssMb: engine.maxRssMb,
    emulatorCpuSeconds: emulatorAfter.cpuSeconds - emulatorBefore.cpuSeconds,
    emulatorPeakRssMb: emulatorAfter.maxRssMb,
    postgresServerCpuSeconds:
      postgresCpuBefore === null || postgresCpuAfter === null ? null : postgresCpuAfter - postgresCpuBefore,
    writeFlow: { ...flow.summary(env.maxConcurrency), ...wireTiming, ...emulatorBatchTimes(stats) },
  };
}

type ScenarioBody = (
  adminUrl: string,
  sizes: BenchSizes,
) => Promise<Omit<ScenarioResult, 'id' | 'number' | 'wallSeconds'>>;

/**
 * The initial push of scenarios 2, 3, 13 and 14, measured in an environment of its own: unthrottled, `latencyMs`
 * added to every emulator response, the emulator's ambiguous 503s at --push-503-rate.
 */
async function measuredPushOnItsOwn(
  adminUrl: string,
  sizes: BenchSizes,
  id: ScenarioId,
  loop: PushLoop,
  rows: number,
  latencyMs: number,
): ReturnType<typeof measuredPush> {
  const env = await openEnvironment(adminUrl, {
    ...unthrottled(rows, latencyMs, id, sizes),
    batchAmbiguous503Rate: sizes.pushAmbiguous503Rate,
  });
  try {
    return await measuredPush(env, id, rows, loop);
  } finally {
    await env.close();
  }
}

async function overheadScenario(
  adminUrl: string,
  sizes: BenchSizes,
  id: ScenarioId,
  loop: PushLoop,
): ReturnType<ScenarioBody> {
  const push = await measuredPushOnItsOwn(adminUrl, sizes, id, loop, sizes.overheadRows, 0);
  const perThousand = (seconds: number) => round((seconds / sizes.overheadRows) * 1000, 3);
  return {
    title: `Engine overhead (initial push, no throttling, no latency, ${loop} page loop)`,
    sizes: {
      rows: sizes.overheadRows,
      concurrency: sizes.concurrency,
      ambiguous503Rate: sizes.pushAmbiguous503Rate,
    },
    figures: {
      pushLoop: loop,
      seconds: round(push.seconds, 1),
      rowsPerSecond: round(sizes.overheadRows / push.seconds, 0),
      engineCpuSecondsPer1000Rows: perThousand(push.engineCpuSeconds),
      emulatorCpuSecondsPer1000Rows: perThousand(push.emulatorCpuSeconds),
      postgresServerCpuSecondsPer1000Rows:
        push.postgresServerCpuSeconds === null ? null : perThousand(push.postgresServerCpuSeconds),
      cpuUtilisationOfBothCores: round(
        (push.engineCpuSeconds + push.emulatorCpuSeconds + (push.postgresServerCpuSeconds ?? 0)) /
          (push.seconds * availableParallelism()),
        2,
      ),
      enginePeakRssMb: round(push.enginePeakRssMb, 0),
      emulatorPeakRssMb: round(push.emulatorPeakRssMb, 0),
      graphRequests: push.summary.graphRequests,
      resourceUnitsPerRow: round(push.stats.resourceUnits / sizes.overheadRows, 3),
      postgresQueries: push.postgres.queries,
      postgresSeconds: round(push.postgres.milliseconds / 1000, 2),
      ...push.writeFlow,
    },
    notes: [
      "The engine, the emulator and Postgres share the machine's cores (cpuUtilisationOfBothCores).",
      'secondsWithNoWriteInFlight: time the page loop left Graph idle (bench/writeFlow.ts).',
    ],
  };
}

async function latencyScenario(
  adminUrl: string,
  sizes: BenchSizes,
  id: ScenarioId,
  loop: PushLoop,
): ReturnType<ScenarioBody> {
  const push = await measuredPushOnItsOwn(adminUrl, sizes, id, loop, sizes.latencyRows, sizes.latencyMs);
  return {
    title: `Latency-bound (initial push, ${sizes.latencyMs} ms added to every emulator response, ${loop} page loop)`,
    sizes: {
      rows: sizes.latencyRows,
      latencyMs: sizes.latencyMs,
      concurrency: sizes.concurrency,
      ambiguous503Rate: sizes.pushAmbiguous503Rate,
    },
    figures: {
      pushLoop: loop,
      seconds: round(push.seconds, 1),
      rowsPerSecond: round(sizes.latencyRows / push.seconds, 0),
      graphRequests: push.summary.graphRequests,
      engineCpuSecondsPer1000Rows: round((push.engineCpuSeconds / sizes.latencyRows) * 1000, 3),
      ...push.writeFlow,
    },
    notes: [],
  };
}

const scenarios: Record<ScenarioId, ScenarioBody> = {
  async budget(adminUrl, sizes) {
    const budget = sizes.budgetRuPerMinute;
    const env = await openEnvironment(adminUrl, {
      label: 'budget',
      rows: sizes.budgetRows,
      throttling: { enabled: true, resourceUnitsPerMinute: budget },
      latencyMs: 0,
      clientResourceUnitsPerMinute: budget,
      maxConcurrency: sizes.concurrency,
    });
    try {
      // Provisioning spent a few dozen units of the same budget just before: part of the measured minute.
      const push = await measuredPush(env, 'budget', sizes.budgetRows);
      const writes = itemWrites(push.stats);
      const writesPerMinute = writes / (push.seconds / 60);
      return {
        title: 'Budget efficiency (initial push, emulator throttled, client paced to the same budget)',
        sizes: { rows: sizes.budgetRows, resourceUnitsPerMinute: budget, concurrency: sizes.concurrency },
        figures: {
          seconds: round(push.seconds, 1),
          itemWrites: writes,
          writesPerMinute: round(writesPerMinute, 0),
          budgetEfficiency: round(writesPerMinute / (budget / 2), 3),
          throttled429: push.stats.throttled429,
          graphRequests: push.summary.graphRequests,
          throttledShare: round(push.stats.throttled429 / Math.max(1, push.summary.graphRequests), 4),
          graphRequestsPerRow: round(push.summary.graphRequests / sizes.budgetRows, 4),
          resourceUnitsPerRow: round(push.stats.resourceUnits / sizes.budgetRows, 3),
          throttleWaitSeconds: round(push.summary.throttleWaitMs / 1000, 1),
        },
        notes: [],
      };
    } finally {
      await env.close();
    }
  },

  overhead: (adminUrl, sizes) => overheadScenario(adminUrl, sizes, 'overhead', 'pipelined'),
  overheadSerial: (adminUrl, sizes) => overheadScenario(adminUrl, sizes, 'overheadSerial', 'serial'),
  latency: (adminUrl, sizes) => latencyScenario(adminUrl, sizes, 'latency', 'pipelined'),
  latencySerial: (adminUrl, sizes) => latencyScenario(adminUrl, sizes, 'latencySerial', 'serial'),

  async incremental(adminUrl, sizes) {
    const rows = sizes.incrementalRows;
    const env = await openEnvironment(adminUrl, unthrottled(rows, 0, 'incremental', sizes));
    try {
      requireSucceeded(
        'incremental',
        await runPush(env.ctx, DEFINITION, { trigger: 'cli' }),
        'the initial push',
      );
      const changed = await changeRows(env.pool, 100, 0);
      const touched = await touchRows(env.pool, 200, 1);
      const statsBefore = await env.emulator.stats();
      const started = performance.now();
      const summary = requireSucceeded(
        'incremental',
        await runPush(env.ctx, DEFINITION, { trigger: 'cli' }),
        'the push',
      );
      const seconds = (performance.now() - started) / 1000;
      const stats = statsDelta(statsBefore, await env.emulator.stats());
      const writes = itemWrites(stats);
      const writeUnits = writes * 2;
      return {
        title: 'Incremental push (1 % of rows changed, 0.5 % touched without a value change)',
        sizes: { rows, changed, touched, concurrency: sizes.concurrency },
        figures: {
          seconds: round(seconds, 2),
          itemWrites: writes,
          rowsChanged: changed,
          writesEqualChanges: writes === changed,
          skipped: summary.skipped,
          graphRequests: summary.graphRequests,
          resourceUnits: stats.resourceUnits,
          resourceUnitsPerChangedRow: round(stats.resourceUnits / changed, 3),
          writeResourceUnitsPerChangedRow: round(writeUnits / changed, 3),
          runOverheadResourceUnits: stats.resourceUnits - writeUnits,
        },
        notes: [
          'resourceUnitsPerChangedRow counts every unit the run spent, including the reads each run makes to ' +
            'resolve the site, list and columns (runOverheadResourceUnits).',
        ],
      };
    } finally {
      await env.close();
    }
  },

  async idle(adminUrl, sizes) {
    const rows = sizes.idleRows;
    // Above this size the ledger is written by SQL instead of by a full push and pull (see bench/idleSetup.ts).
    const synthetic = rows > SYNTHETIC_IDLE_ABOVE;
    const env = await openEnvironment(adminUrl, unthrottled(synthetic ? 0 : rows, 0, 'idle', sizes));
    try {
      // Sync, then one settling cycle (the first pull enumerates the list and finds only echoes).
      for (let cycle = 0; cycle < 2; cycle++) {
        requireSucceeded('idle', await runPush(env.ctx, DEFINITION, { trigger: 'cli' }), 'a setup push');
        requireSucceeded('idle', await runPull(env.ctx, DEFINITION, { trigger: 'cli' }), 'a setup pull');
      }
      if (synthetic) await fillSyncedTable(env, rows);
      // The seed's (and the previous engine's) delete detection: both counts on every push, in this run.
      const counts: number[] = [];
      for (let i = 0; i < IDLE_REPEATS; i++) counts.push(await countsMilliseconds(env));
      const sweep = await idleCycles(env, 'sweep');
      requireSucceeded('idle', await installDeleteCapture(env), 'the push after installing delete capture');
      await closeOverlapWindow(env);
      // Before and after the idle probes, in this run: the same push and pull in full (as before), then probed.
      const fullPushes = await idleCycles(env, 'tombstones', true);
      const tombstones = await idleCycles(env, 'tombstones');
      const last = tombstones.cycles[tombstones.cycles.length - 1];
      return {
        title: 'Idle cycle (push then pull, nothing changed on either side)',
        sizes: { rows, repeats: IDLE_REPEATS },
        figures: {
          ledger: synthetic ? 'written by SQL (synthetic)' : 'pushed and pulled',
          postgresMs: median(tombstones.cycles.map((c) => c.postgresMs)),
          postgresMsRuns: tombstones.cycles.map((c) => c.postgresMs).join(', '),
          pushPostgresMsRuns: tombstones.cycles.map((c) => c.pushPostgresMs).join(', '),
          postgresQueries: last.postgresQueries,
          probedIdle: tombstones.cycles.filter((c) => c.probedIdle).length,
          pushPostgresMs: median(tombstones.cycles.map((c) => c.pushPostgresMs)),
          pushPostgresQueries: last.pushPostgresQueries,
          roundTripFloorMs: median(tombstones.cycles.map((c) => c.roundTripMs)),
          fullPushPostgresMs: median(fullPushes.cycles.map((c) => c.pushPostgresMs)),
          fullPushPostgresMsRuns: fullPushes.cycles.map((c) => c.pushPostgresMs).join(', '),
          fullPushPostgresQueries: fullPushes.cycles[fullPushes.cycles.length - 1].pushPostgresQueries,
          pullProbedIdle: tombstones.cycles.filter((c) => c.pullProbedIdle).length,
          pullPostgresMs: median(tombstones.cycles.map((c) => c.pullPostgresMs)),
          pullPostgresMsRuns: tombstones.cycles.map((c) => c.pullPostgresMs).join(', '),
          pullPostgresQueries: last.pullPostgresQueries,
          fullPullPostgresMs: median(fullPushes.cycles.map((c) => c.pullPostgresMs)),
          fullPullPostgresMsRuns: fullPushes.cycles.map((c) => c.pullPostgresMs).join(', '),
          fullPullPostgresQueries: fullPushes.cycles[fullPushes.cycles.length - 1].pullPostgresQueries,
          fullCyclePostgresMs: median(fullPushes.cycles.map((c) => c.postgresMs)),
          fullCyclePostgresMsRuns: fullPushes.cycles.map((c) => c.postgresMs).join(', '),
          fullCyclePostgresQueries: fullPushes.cycles[fullPushes.cycles.length - 1].postgresQueries,
          sweepPostgresMs: median(sweep.cycles.map((c) => c.postgresMs)),
          sweepPostgresMsRuns: sweep.cycles.map((c) => c.postgresMs).join(', '),
          sweepPostgresQueries: sweep.cycles[sweep.cycles.length - 1].postgresQueries,
          previousCountsMsRuns: counts.map((c) => round(c, 1)).join(', '),
          wallMs: median(tombstones.cycles.map((c) => c.wallMs)),
          graphRequests: last.graphRequests,
          resourceUnits: last.resourceUnits,
          itemWrites: last.itemWrites,
          slowestPostgresStatements: last.slowest,
          requestsMade: last.requestsMade,
        },
        notes: [
          'postgresMs: median over the repeats of the Postgres round trips of one idle push + pull with the ' +
            'delete-capture trigger (tombstones); sweepPostgresMs: the same without it (the bounded sweep).',
          'pushPostgresMs: the push alone, answered by the idle probe (probedIdle: how many of the repeats it ' +
            'found idle); fullPushPostgresMs: the same push run in full (--full), as before the probe, in this run.',
          'pullPostgresMs: the pull alone, answered by its idle probe (pullProbedIdle repeats); fullPullPostgresMs and ' +
            'fullCyclePostgresMs: the pull and the whole cycle run in full (--full), as before the probes, in this run.',
          'previousCountsMs: the two count(*) queries the previous engine ran on every push (table and ledger), ' +
            'timed in this run; the rest of its idle cycle was the same queries as now.',
        ],
      };
    } finally {
      await env.close();
    }
  },

  async pull(adminUrl, sizes) {
    const changes = sizes.pullChanges;
    const env = await openEnvironment(adminUrl, unthrottled(changes, 0, 'pull', sizes));
    try {
      requireSucceeded('pull', await runPush(env.ctx, DEFINITION, { trigger: 'cli' }), 'the setup push');
      requireSucceeded('pull', await runPull(env.ctx, DEFINITION, { trigger: 'cli' }), 'the setup pull');
      const ids = (await env.emulator.itemIds(LIST)).slice(0, changes);
      const editedQuantity = 424_242;
      await editItems(env, ids, editedQuantity);
      const statsBefore = await env.emulator.stats();
      const postgres = measurePostgres();
      const cpuBefore = processUsage().cpuSeconds;
      const started = performance.now();
      const summary = requireSucceeded(
        'pull',
        await runPull(env.ctx, DEFINITION, { trigger: 'cli' }),
        'the pull',
      );
      const seconds = (performance.now() - started) / 1000;
      const engineCpuSeconds = processUsage().cpuSeconds - cpuBefore;
      const pg = postgres();
      const stats = statsDelta(statsBefore, await env.emulator.stats());
      const { rows } = await env.pool.query<{ n: string }>(
        'SELECT count(*) AS n FROM bench_items WHERE quantity = $1',
        [editedQuantity],
      );
      const applied = Number(rows[0].n);
      if (applied !== changes)
        throw new ScenarioFailedError(
          'pull',
          `${changes} items edited, ${applied} rows hold the edit`,
          summary,
        );
      return {
        title: 'Pull (items changed in SharePoint, through the delta feed into Postgres)',
        sizes: { changes, rows: changes },
        figures: {
          seconds: round(seconds, 2),
          rowsPerSecond: round(changes / seconds, 0),
          engineCpuSecondsPer1000Rows: round((engineCpuSeconds / changes) * 1000, 3),
          rowsUpdated: summary.updated,
          graphRequests: summary.graphRequests,
          resourceUnits: stats.resourceUnits,
          resourceUnitsPerChange: round(stats.resourceUnits / changes, 3),
          postgresQueries: pg.queries,
          postgresSeconds: round(pg.milliseconds / 1000, 2),
          slowestPostgresStatements: pg.slowest
            .map((q) => `${(q.milliseconds / 1000).toFixed(2)} s ×${q.queries}: ${q.statement}`)
            .join(' | '),
        },
        notes: [],
      };
    } finally {
      await env.close();
    }
  },

  async webhook(adminUrl, sizes) {
    const rows = 1_000;
    const env = await openEnvironment(adminUrl, unthrottled(rows, 0, 'webhook', sizes));
    try {
      requireSucceeded('webhook', await runPush(env.ctx, DEFINITION, { trigger: 'cli' }), 'the setup push');
      requireSucceeded('webhook', await runPull(env.ctx, DEFINITION, { trigger: 'cli' }), 'the setup pull');
      const { startLocalHost } = await importWithoutTestModeWarnings(() => import('../src/serve/index.js'));
      // Timers far out: only the webhook path (notification → pull queue → pull worker) may move data.
      const host = await startLocalHost({
        ctx: env.ctx,
        port: 0,
        log: silentLogger,
        pushIntervalMs: 3_600_000,
        safetyIntervalMs: 3_600_000,
      });
      try {
        await host.idle();
        const { rows: subscriptions } = await env.pool.query<{ n: string }>(
          "SELECT count(*) AS n FROM arcore.graph_subscriptions WHERE state = 'ACTIVE'",
        );
        if (Number(subscriptions[0].n) === 0)
          throw new ScenarioFailedError('webhook', 'the local host created no Graph subscription');
        const ids = await env.emulator.itemIds(LIST);
        const path = `/sites/${env.emulator.siteId}/lists/${LIST}/items`;
        const latencies: number[] = [];
        for (let edit = 0; edit < sizes.webhookEdits; edit++) {
          const marker = 800_000 + edit;
          const started = performance.now();
          const answer = await env.emulator.asUser('PATCH', `${path}/${ids[edit % ids.length]}/fields`, {
            Quantity: marker,
          });
          if (answer.status !== 200)
            throw new ScenarioFailedError('webhook', `the edit answered ${answer.status}`);
          for (;;) {
            const { rows: found } = await env.pool.query('SELECT 1 FROM bench_items WHERE quantity = $1', [
              marker,
            ]);
            if (found.length > 0) break;
            if (performance.now() - started > 30_000)
              throw new ScenarioFailedError('webhook', `edit ${edit} did not reach Postgres within 30 s`);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          latencies.push(performance.now() - started);
          await host.idle(); // the next edit starts with no pull in flight
        }
        const sorted = [...latencies].sort((a, b) => a - b);
        const percentile = (p: number) =>
          sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
        return {
          title: 'Webhook to row (one SharePoint edit until Postgres reflects it, through the local host)',
          sizes: { edits: sizes.webhookEdits, rows, notificationDelayMs: 0 },
          figures: {
            p50Ms: round(percentile(0.5), 0),
            p95Ms: round(percentile(0.95), 0),
            maxMs: round(sorted[sorted.length - 1], 0),
            notificationsSent: (await env.emulator.stats()).notificationsSent,
          },
          notes: [
            'Path: emulator notification → src/serve local host → graphWebhook → local pull queue → pullWorker → ' +
              'delta pull. Measured from sending the edit until a 5 ms Postgres poll sees the new value.',
          ],
        };
      } finally {
        await host.stop();
      }
    } finally {
      await env.close();
    }
  },

  async memory(adminUrl, sizes) {
    const rows = sizes.memoryRows;
    // The emulator's ambiguous 503s at --push-503-rate (0 by default), as in scenarios 2 and 3: at its own default
    // (2 %) every such create is looked up by its hidden key, a scan of every item in the emulator, so a push
    // of 1,000,000 rows would measure that scan (hours), not the engine.
    const env = await openEnvironment(adminUrl, {
      ...unthrottled(rows, 0, 'memory', sizes),
      batchAmbiguous503Rate: sizes.pushAmbiguous503Rate,
      pageSize: sizes.memoryPageSize,
    });
    try {
      let sampledPeakMb = 0;
      const sampler = setInterval(() => {
        sampledPeakMb = Math.max(sampledPeakMb, process.memoryUsage().rss / 1024 / 1024);
      }, 200);
      const rssBeforeMb = process.memoryUsage().rss / 1024 / 1024;
      const heapBeforeMb = liveHeapMb();
      const series = await startMemorySeries(env.emulator, MEMORY_SERIES_INTERVAL_MS);
      try {
        // A worker runs one push per invocation: past RUN_MAX_SECONDS, the next run in the same process resumes.
        const push = await measuredPush(env, 'memory', rows, 'pipelined', true);
        const engineMemory = await series.stop();
        const heapAfterMb = liveHeapMb();
        const quarter = (from: number, to: number) => {
          const median = medianRssBetween(engineMemory, rows, from, to);
          return median === null ? null : round(median, 0);
        };
        const slope = rssSlopeMbPer100kRows(engineMemory, rows);
        return {
          title: 'Memory at scale (initial push, no throttling)',
          sizes: {
            rows,
            pageSize: sizes.memoryPageSize,
            concurrency: sizes.concurrency,
            ambiguous503Rate: sizes.pushAmbiguous503Rate,
          },
          figures: {
            seconds: round(push.seconds, 1),
            rowsPerSecond: round(rows / push.seconds, 0),
            pushRuns: push.runs,
            enginePeakRssMb: round(push.enginePeakRssMb, 0),
            engineRssBeforePushMb: round(rssBeforeMb, 0),
            engineSampledPeakRssMb: round(sampledPeakMb, 0),
            engineRssMedianFirstQuarterMb: quarter(0, 0.25),
            engineRssMedianLastQuarterMb: quarter(0.75, 1.01),
            engineRssSlopeMbPer100kRows: slope === null ? null : round(slope, 2),
            engineLiveHeapBeforePushMb: round(heapBeforeMb, 1),
            engineLiveHeapAfterPushMb: round(heapAfterMb, 1),
            engineHeapLimitMb: round(getHeapStatistics().heap_size_limit / 1024 / 1024, 0),
            engineNodeFlags: process.execArgv.join(' '),
            emulatorPeakRssMb: round(push.emulatorPeakRssMb, 0),
          },
          series: { engineMemory },
          notes: [
            'enginePeakRssMb is the process maximum (getrusage), setup included; the emulator runs apart.',
            `series.engineMemory: the engine's RSS and heap in use every ${MEMORY_SERIES_INTERVAL_MS / 1000} s ` +
              'beside the rows pushed so far; engineRssSlopeMbPer100kRows fits RSS over rows pushed past the ' +
              'first 10 % (near 0: nothing kept grows with the rows).',
          ],
        };
      } finally {
        clearInterval(sampler);
        await series.stop().catch(() => undefined);
      }
    } finally {
      await env.close();
    }
  },

  emulator: (_adminUrl, sizes) => emulatorScenario(sizes),

  async pullPipeline(adminUrl, sizes) {
    const rows = sizes.pullPipelineRows;
    const env = await openEnvironment(adminUrl, unthrottled(rows, 0, 'pullpipeline', sizes));
    try {
      const latencies = [0, sizes.latencyMs];
      return {
        title: 'Pull throughput: delta page N+1 read while page N is applied, against one page at a time',
        sizes: {
          rows,
          repeats: sizes.pullPipelineRepeats,
          latencyMs: sizes.latencyMs,
          concurrency: sizes.concurrency,
        },
        figures: await pullPipelineScenario(env, rows, latencies, sizes.pullPipelineRepeats),
        notes: [
          'Each measured pull applies `rows` SharePoint edits (Quantity) to Postgres; rows/s as min / median / max ' +
            'over the repeats; the two loops alternate going first, in one process, on one table and list.',
        ],
      };
    } finally {
      await env.close();
    }
  },

  async seed(adminUrl, sizes) {
    const total = sizes.seedRows + sizes.seedLatencyRows;
    const env = await openEnvironment(adminUrl, unthrottled(total, 0, 'seed', sizes));
    try {
      await createSeedLedger(env.pool);
      const target = {
        baseUrl: env.emulator.baseUrl,
        token: env.emulator.appToken,
        siteId: env.emulator.siteId,
        dispatcher: env.emulator.agent(),
      };
      let started = performance.now();
      const plain = await seedPush(env.pool, target, 1, sizes.seedRows);
      const plainSeconds = (performance.now() - started) / 1000;
      await env.emulator.setLatency(sizes.latencyMs);
      started = performance.now();
      const slow = await seedPush(env.pool, target, sizes.seedRows + 1, total);
      const slowSeconds = (performance.now() - started) / 1000;
      if (plain.created !== sizes.seedRows || slow.created !== sizes.seedLatencyRows)
        throw new ScenarioFailedError('seed', 'the seed algorithm did not create every item');
      return {
        title: "The seed's algorithm (one ledger query and one Graph request per row, sequential)",
        sizes: { rows: sizes.seedRows, latencyRows: sizes.seedLatencyRows, latencyMs: sizes.latencyMs },
        figures: {
          rowsPerSecond: round(sizes.seedRows / plainSeconds, 1),
          rowsPerSecondWithLatency: round(sizes.seedLatencyRows / slowSeconds, 1),
          graphRequestsPerRow: round((plain.graphRequests + slow.graphRequests) / total, 2),
          ledgerQueriesPerRow: round((plain.ledgerQueries + slow.ledgerQueries) / total, 2),
        },
        notes: [
          'Same table, emulator settings and machine as scenarios 2 and 3; rows/s does not depend on table size.',
        ],
      };
    } finally {
      await env.close();
    }
  },

  async lsnIdle(adminUrl, sizes) {
    const figures = await lsnIdleScenario(
      (rows) => openEnvironment(adminUrl, unthrottled(rows, 0, 'lsnidle', sizes)),
      sizes.lsnIdleRows,
      sizes.lsnIdleSeedAll,
    );
    return {
      title: 'Idle LSN push (change data capture, nothing changed): Postgres time at each table size',
      sizes: Object.fromEntries(sizes.lsnIdleRows.map((rows, i) => [`rows${i + 1}`, rows])),
      figures,
      notes: [
        'IdlePostgresMs is the median over 7 idle pushes of the summed round trips of every query the push sent ' +
          '(as scenario 5 measures); the push reads its definition, takes its lock, records the run and peeks ' +
          'at the slot.',
      ],
    };
  },

  async lsnThroughput(adminUrl, sizes) {
    const rows = sizes.lsnThroughputRows;
    const env = await openEnvironment(adminUrl, unthrottled(rows, 0, 'lsnthroughput', sizes));
    try {
      return {
        title: 'Push throughput, LSN against TIMESTAMP on the same rows (initial push, then 10 % changed)',
        sizes: { rows, concurrency: sizes.concurrency },
        figures: await lsnThroughputScenario(env, rows),
        notes: [
          'Each definition pushes to a list of its own on one emulator; TIMESTAMP runs first each time.',
        ],
      };
    } finally {
      await env.close();
    }
  },
};

/** Smallest, median and largest of a figure over repeated runs, as `min / median / max`. */
function spread(runs: EmulatorMemoryRun[], key: keyof EmulatorMemoryRun, digits = 0): string {
  const values = runs.map((run) => run[key]).sort((a, b) => a - b);
  const median = values[Math.floor(values.length / 2)];
  return [values[0], median, values[values.length - 1]].map((v) => round(v, digits)).join(' / ');
}

async function emulatorScenario(
  sizes: BenchSizes,
): Promise<Omit<ScenarioResult, 'id' | 'number' | 'wallSeconds'>> {
  const runs: EmulatorMemoryRun[] = [];
  for (let run = 0; run < sizes.emulatorRepeats; run++)
    runs.push(await measureEmulatorMemory(sizes.emulatorItems, sizes.concurrency));
  const worst = (key: keyof EmulatorMemoryRun) => round(Math.max(...runs.map((r) => r[key])), 0);
  return {
    title: 'Emulator memory with a large list (items created through POST /$batch, 20 per batch)',
    sizes: { items: sizes.emulatorItems, repeats: sizes.emulatorRepeats, concurrency: sizes.concurrency },
    figures: {
      peakRssMb: worst('peakRssMb'),
      peakRssMbMinMedianMax: spread(runs, 'peakRssMb'),
      rssAfterLoadMbMinMedianMax: spread(runs, 'rssMb'),
      liveHeapMbMinMedianMax: spread(runs, 'liveHeapMb'),
      arrayBuffersMbMinMedianMax: spread(runs, 'arrayBuffersMb'),
      liveHeapWithoutRequestLogMbMinMedianMax: spread(runs, 'liveHeapWithoutLogMb'),
      itemsPerSecondMinMedianMax: runs
        .map((r) => r.loadSeconds)
        .sort((a, b) => b - a)
        .map((seconds) => round(sizes.emulatorItems / seconds, 0))
        .filter((_, i, all) => i === 0 || i === Math.floor(all.length / 2) || i === all.length - 1)
        .join(' / '),
    },
    notes: [
      'Each repeat is a fresh emulator process; the loader runs in the scenario process, over HTTPS.',
      `Before the packed item store (${EMULATOR_BEFORE.revision}, same loader, ${EMULATOR_BEFORE.items.toLocaleString('en-US')} items): ${EMULATOR_BEFORE.summary}.`,
    ],
  };
}

/** The figure the packed store is measured against, from the same loader run on the code before it. */
export const EMULATOR_BEFORE = {
  revision: '256985b',
  items: 1_000_000,
  summary:
    'peak RSS 1,165 MB, RSS 1,149 MB after loading, live heap 851 MB (675 MB without the request log), ' +
    'array buffers 2 MB; the engine-driven 1,000,000-row push of scenario 8 saw 1,821 MB',
};

export async function runScenario(
  id: ScenarioId,
  adminUrl: string,
  sizes: BenchSizes,
): Promise<ScenarioResult> {
  const started = performance.now();
  const body = await scenarios[id](adminUrl, sizes);
  return {
    id,
    number: SCENARIO_NUMBERS[id],
    ...body,
    wallSeconds: round((performance.now() - started) / 1000, 1),
  };
}

/**
 * Scenario 15: pull throughput, the pipelined feed (page N+1 read while page N is applied) against the
 * one-page-at-a-time loop, in the same process, on the same table and list, at each emulator latency. Every
 * measured pull applies the same number of SharePoint edits; the two loops take turns going first.
 */
import { runPull } from '../src/core/engine/pull';
import { runPush } from '../src/core/engine/push';
import type { RunSummary } from '../src/core/engine/types';
import { DEFINITION, LIST, TABLE, type BenchEnvironment } from './dataset';
import { processUsage } from './processes';

export class PullBenchError extends Error {
  constructor(
    message: string,
    readonly summary?: RunSummary,
  ) {
    super(
      `pull benchmark: ${message}${summary ? ` (run ${summary.status}: ${summary.error ?? 'no error'})` : ''}`,
    );
    this.name = 'PullBenchError';
  }
}

/** Sets Quantity to `quantity` on every item in `ids`, as a user, 20 to a `$batch`, 8 batches in flight. */
export async function editItems(env: BenchEnvironment, ids: string[], quantity: number): Promise<void> {
  const path = `/sites/${env.emulator.siteId}/lists/${LIST}/items`;
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += 20) batches.push(ids.slice(i, i + 20));
  let next = 0;
  const editor = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++];
      const answer = await env.emulator.asUser('POST', '/$batch', {
        requests: batch.map((id, i) => ({
          id: String(i + 1),
          method: 'PATCH',
          url: `${path}/${id}/fields`,
          headers: { 'Content-Type': 'application/json' },
          body: { Quantity: quantity },
        })),
      });
      if (answer.status !== 200) throw new PullBenchError(`editing items answered ${answer.status}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, editor));
}

interface Pass {
  latencyMs: number;
  pipeline: boolean;
  seconds: number;
  engineCpuSeconds: number;
  graphRequests: number;
}

/** One measured pull of `rows` edited items. */
async function measuredPull(
  env: BenchEnvironment,
  ids: string[],
  quantity: number,
  latencyMs: number,
  pipeline: boolean,
): Promise<Pass> {
  await env.emulator.setLatency(0);
  await editItems(env, ids, quantity);
  await env.emulator.setLatency(latencyMs);
  const cpuBefore = processUsage().cpuSeconds;
  const started = performance.now();
  const summary = await runPull(env.ctx, DEFINITION, { trigger: 'cli', pipeline });
  const seconds = (performance.now() - started) / 1000;
  const engineCpuSeconds = processUsage().cpuSeconds - cpuBefore;
  await env.emulator.setLatency(0);
  if (summary.status !== 'SUCCEEDED') throw new PullBenchError('a measured pull did not succeed', summary);
  const { rows } = await env.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${TABLE} WHERE quantity = $1`,
    [quantity],
  );
  if (Number(rows[0].n) !== ids.length)
    throw new PullBenchError(`${ids.length} items edited, ${rows[0].n} rows hold the edit`, summary);
  return { latencyMs, pipeline, seconds, engineCpuSeconds, graphRequests: summary.graphRequests };
}

const round = (value: number, digits = 0): number => Number(value.toFixed(digits));

/** `min / median / max` of `values`. */
function spread(values: number[], digits = 0): string {
  const sorted = [...values].sort((a, b) => a - b);
  return [sorted[0], sorted[Math.floor(sorted.length / 2)], sorted[sorted.length - 1]]
    .map((v) => round(v, digits))
    .join(' / ');
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function pullPipelineScenario(
  env: BenchEnvironment,
  rows: number,
  latencies: number[],
  repeats: number,
): Promise<Record<string, string | number>> {
  const setupPush = await runPush(env.ctx, DEFINITION, { trigger: 'cli' });
  if (setupPush.created !== rows)
    throw new PullBenchError('the setup push did not create every item', setupPush);
  const setupPull = await runPull(env.ctx, DEFINITION, { trigger: 'cli' });
  if (setupPull.status !== 'SUCCEEDED') throw new PullBenchError('the setup pull did not succeed', setupPull);
  const ids = (await env.emulator.itemIds(LIST)).slice(0, rows);
  const passes: Pass[] = [];
  let quantity = 500_000;
  for (const latencyMs of latencies) {
    for (let repeat = 0; repeat < repeats; repeat++) {
      // The loops take turns going first, so that neither always meets a warmer cache.
      const order = repeat % 2 === 0 ? [false, true] : [true, false];
      for (const pipeline of order)
        passes.push(await measuredPull(env, ids, quantity++, latencyMs, pipeline));
    }
  }
  const figures: Record<string, string | number> = {};
  for (const latencyMs of latencies) {
    const rate = (pipeline: boolean) =>
      passes.filter((p) => p.latencyMs === latencyMs && p.pipeline === pipeline).map((p) => rows / p.seconds);
    const cpu = (pipeline: boolean) =>
      passes
        .filter((p) => p.latencyMs === latencyMs && p.pipeline === pipeline)
        .map((p) => (p.engineCpuSeconds / rows) * 1000);
    const [one, piped] = [rate(false), rate(true)];
    figures[`onePageRowsPerSecondAt${latencyMs}ms`] = spread(one);
    figures[`pipelinedRowsPerSecondAt${latencyMs}ms`] = spread(piped);
    figures[`speedupMedianAt${latencyMs}ms`] = round(median(piped) / median(one), 2);
    figures[`onePageEngineCpuPer1000RowsAt${latencyMs}ms`] = spread(cpu(false), 3);
    figures[`pipelinedEngineCpuPer1000RowsAt${latencyMs}ms`] = spread(cpu(true), 3);
  }
  figures.graphRequestsPerPull = spread(passes.map((p) => p.graphRequests));
  return figures;
}

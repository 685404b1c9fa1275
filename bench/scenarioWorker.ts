/**
 * One scenario in a process of its own (forked by bench/run.ts): its peak RSS and CPU time are the
 * scenario's alone. Reads its request from argv, answers over IPC, then exits.
 */
// First: the Postgres timing wraps pg's Client before any pool module captures its query method.
import './pgTiming';
import { z } from 'zod';
import { runScenario, SCENARIO_IDS, type BenchSizes } from './scenarios';

const positive = z.number().int().positive();
export const workerRequestSchema = z.object({
  scenario: z.enum(SCENARIO_IDS),
  adminUrl: z.string().min(1),
  sizes: z.object({
    budgetRows: positive,
    budgetRuPerMinute: positive,
    overheadRows: positive,
    latencyRows: positive,
    latencyMs: z.number().int().min(0),
    incrementalRows: z.number().int().min(200),
    idleRows: positive,
    pullChanges: positive,
    memoryRows: positive,
    memoryPageSize: positive,
    seedRows: positive,
    seedLatencyRows: positive,
    webhookEdits: positive,
    pushAmbiguous503Rate: z.number().min(0).max(1),
    concurrency: positive,
    lsnIdleRows: z.array(positive).min(1),
    lsnIdleSeedAll: z.boolean(),
    lsnThroughputRows: positive,
    emulatorItems: positive,
    emulatorRepeats: positive,
    pullPipelineRows: positive,
    pullPipelineRepeats: positive,
  }) satisfies z.ZodType<BenchSizes>,
});
export type WorkerRequest = z.infer<typeof workerRequestSchema>;

async function main(): Promise<void> {
  const request = workerRequestSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
  try {
    const result = await runScenario(request.scenario, request.adminUrl, request.sizes);
    process.send?.({ ok: true, result });
  } catch (err) {
    process.send?.({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}

if (require.main === module) {
  main().then(
    () => process.disconnect?.(),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}

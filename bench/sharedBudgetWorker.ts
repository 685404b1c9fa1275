/**
 * One worker of the shared-budget scenario (bench/sharedBudget.ts), in a process of its own as a Functions
 * instance would be: it pushes its definition run after run (each within RUN_MAX_SECONDS) until the
 * scenario's end time or until its table is done, then reports over IPC.
 */
import { z } from 'zod';
import { loadSettings } from '../src/config/settings';
import { createEngineContext } from '../src/core/engine/context';
import { runPush } from '../src/core/engine/push';

const requestSchema = z.object({
  databaseUrl: z.string(),
  baseUrl: z.string(),
  token: z.string(),
  caCert: z.string(),
  definition: z.string(),
  unitsPerMinute: z.number().int().positive(),
  runSeconds: z.number().int().positive(),
});

async function main(): Promise<void> {
  const request = requestSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
  const { ctx, close } = await createEngineContext(
    loadSettings({
      DATABASE_URL: request.databaseUrl,
      GRAPH_BASE_URL: request.baseUrl,
      GRAPH_TOKEN: request.token,
      GRAPH_RU_PER_MINUTE: String(request.unitsPerMinute),
      RUN_MAX_SECONDS: String(request.runSeconds),
    }),
    { caCert: request.caCert },
  );
  // The measured window starts when every worker is ready (process start-up is not the budget's doing).
  const endAt = await new Promise<number>((resolve) => {
    process.once('message', (raw: unknown) => resolve((raw as { endAt: number }).endAt));
    process.send?.({ ready: Date.now() });
  });
  let runs = 0;
  let writes = 0;
  let paceWaitMs = 0;
  let complete = false;
  try {
    while (!complete && Date.now() < endAt) {
      const left = Math.ceil((endAt - Date.now()) / 1000);
      const summary = await runPush(ctx, request.definition, {
        trigger: 'test',
        maxSeconds: Math.max(1, Math.min(request.runSeconds, left)),
      });
      if (summary.status === 'FAILED') throw new Error(summary.error ?? 'push failed');
      runs += 1;
      writes += summary.created + summary.updated;
      paceWaitMs += summary.paceWaitMs;
      complete = summary.complete;
    }
  } finally {
    await close();
  }
  process.send?.({
    ok: true,
    result: { definition: request.definition, runs, writes, paceWaitMs, complete },
  });
}

main().then(
  () => process.disconnect?.(),
  (err: unknown) => {
    process.send?.({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exitCode = 1;
  },
);

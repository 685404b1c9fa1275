/**
 * The emulator in a process of its own, so that the engine's CPU time and memory are measured apart from
 * the emulator's (scenarios 2 and 8). Driven over the IPC channel by bench/emulatorClient.ts.
 */
import { z } from 'zod';
import { startEmulator, type RunningEmulator } from '../src/emulator';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { processUsage } from './processes';

export const SITE = 'contoso.sharepoint.com:/sites/demo';

export const emulatorRequestSchema = z.object({
  id: z.number().int(),
  op: z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('start'),
      throttling: z.object({
        enabled: z.boolean(),
        resourceUnitsPerMinute: z.number().int().positive().optional(),
      }),
      latencyMs: z.number().int().min(0),
      /** Share of batched writes applied and answered 503 (the emulator's default when absent). */
      batchAmbiguous503Rate: z.number().min(0).max(1).optional(),
    }),
    z.object({
      kind: z.literal('setThrottling'),
      enabled: z.boolean(),
      resourceUnitsPerMinute: z.number().int().positive().optional(),
    }),
    z.object({ kind: z.literal('setLatency'), ms: z.number().int().min(0) }),
    z.object({ kind: z.literal('stats') }),
    z.object({ kind: z.literal('usage') }),
    z.object({ kind: z.literal('memory') }),
    z.object({ kind: z.literal('requestLog') }),
    z.object({ kind: z.literal('clearRequestLog') }),
    z.object({ kind: z.literal('itemIds'), list: z.string() }),
    z.object({ kind: z.literal('stop') }),
  ]),
});
export type EmulatorRequest = z.infer<typeof emulatorRequestSchema>;

let running: RunningEmulator | undefined;

/** RSS now, peak RSS, and the heap still in use after a full collection (gc exposed at run time). */
function memoryNow(): { rssMb: number; maxRssMb: number; liveHeapMb: number; arrayBuffersMb: number } {
  setFlagsFromString('--expose-gc');
  const collect: unknown = runInNewContext('gc');
  if (typeof collect === 'function') collect();
  const usage = process.memoryUsage();
  return {
    rssMb: usage.rss / 1024 / 1024,
    maxRssMb: processUsage().maxRssMb,
    liveHeapMb: usage.heapUsed / 1024 / 1024,
    arrayBuffersMb: usage.arrayBuffers / 1024 / 1024,
  };
}

function requireRunning(): RunningEmulator {
  if (!running) throw new Error('the emulator has not been started (send a start request first)');
  return running;
}

async function handle(op: EmulatorRequest['op']): Promise<unknown> {
  switch (op.kind) {
    case 'start': {
      running = await startEmulator({
        throttling: op.throttling,
        latencyMs: op.latencyMs,
        notificationDelayMs: 0,
        ...(op.batchAmbiguous503Rate === undefined
          ? {}
          : { batchAmbiguous503Rate: op.batchAmbiguous503Rate }),
      });
      return {
        baseUrl: running.baseUrl,
        caCert: running.caCert,
        appToken: running.appToken,
        userToken: running.userToken('alice'),
        siteId: running.control.getSiteId(SITE),
      };
    }
    case 'setThrottling':
      requireRunning().control.setThrottling({
        enabled: op.enabled,
        ...(op.resourceUnitsPerMinute ? { resourceUnitsPerMinute: op.resourceUnitsPerMinute } : {}),
      });
      return null;
    case 'setLatency':
      requireRunning().control.setLatency(op.ms);
      return null;
    case 'stats':
      return requireRunning().control.stats();
    case 'requestLog':
      return requireRunning()
        .control.requestLog()
        .map((r) => ({
          method: r.method,
          path: r.path,
          query: r.query,
          status: r.status,
          batch: r.batch === true,
          identity: r.identity,
        }));
    case 'clearRequestLog':
      requireRunning().control.clearRequestLog();
      return null;
    case 'usage':
      return processUsage();
    case 'memory':
      return memoryNow();
    case 'itemIds': {
      const emulator = requireRunning();
      return emulator.control.listItems(emulator.control.getSiteId(SITE), op.list).map((item) => item.id);
    }
    case 'stop':
      await running?.stop();
      running = undefined;
      setImmediate(() => process.exit(0));
      return null;
  }
}

if (require.main === module) {
  process.on('message', (raw: unknown) => {
    const parsed = emulatorRequestSchema.safeParse(raw);
    if (!parsed.success) {
      process.send?.({ id: -1, ok: false, error: `bad request: ${parsed.error.message}` });
      return;
    }
    const { id, op } = parsed.data;
    handle(op).then(
      (result) => process.send?.({ id, ok: true, result }),
      (err: unknown) =>
        process.send?.({ id, ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  // The parent going away ends us too: never leave an orphaned emulator behind.
  process.on('disconnect', () => process.exit(0));
}

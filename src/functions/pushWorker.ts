import './bootstrap';
import { app, type InvocationContext } from '@azure/functions';
import type { RunSummary } from '../core/engine/types';
import { runPush } from '../core/engine/push';
import { UnknownDefinitionError } from '../core/store/definitions';
import { parseQueueMessage, PUSH_QUEUE, pushMessageSchema, STORAGE_CONNECTION } from './queues';
import { engineContextFor, getRuntime, messageOf } from './runtime';

/**
 * Runs one definition's push. A SKIPPED run (another run holds the lock) needs nothing more: the next
 * tick pushes whatever is left. An exception (database unreachable, …) is rethrown so the host retries
 * the message and, after its attempts, moves it to the poison queue (pushPoison records that).
 * A run that fails inside is already recorded as FAILED; retrying it is the next tick's job.
 */
export async function pushWorker(message: unknown, context: InvocationContext): Promise<RunSummary | null> {
  const parsed = parseQueueMessage(pushMessageSchema, message);
  if (!parsed.success) {
    context.error(`pushWorker: dropping malformed message: ${parsed.error.message}`);
    return null;
  }
  const runtime = await getRuntime();
  const { definition, trigger } = parsed.data;
  try {
    const summary = await runPush(engineContextFor(runtime, context), definition, {
      trigger: trigger === 'ops' ? 'ops' : 'queue',
    });
    const line = `pushWorker: ${definition} ${summary.status} (run ${summary.runId ?? '-'}, ${summary.processed} processed, ${summary.durationMs} ms)`;
    if (summary.status === 'FAILED') context.error(`${line}: ${summary.error ?? ''}`);
    else context.log(line);
    return summary;
  } catch (err) {
    if (err instanceof UnknownDefinitionError) {
      context.warn(`pushWorker: ${err.message}; message dropped (the definition was removed)`);
      return null;
    }
    runtime.telemetry.trackException(err, { definition, operation: 'pushWorker' });
    context.error(`pushWorker: ${definition}: ${messageOf(err)}`);
    throw err;
  }
}

app.storageQueue('pushWorker', {
  queueName: PUSH_QUEUE,
  connection: STORAGE_CONNECTION,
  handler: pushWorker,
});

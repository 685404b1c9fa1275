import './bootstrap';
import { app, type InvocationContext } from '@azure/functions';
import { runPull } from '../core/engine/pull';
import type { RunSummary } from '../core/engine/types';
import { UnknownDefinitionError } from '../core/store/definitions';
import { claimPendingPull, markPullPending } from '../core/subscriptions';
import { parseQueueMessage, PULL_QUEUE, pullMessageSchema, STORAGE_CONNECTION } from './queues';
import { engineContextFor, getRuntime, messageOf } from './runtime';

/**
 * Another run of the definition held its lock, so this pull did not run. Thrown so the host delivers
 * the message again after the queue's visibility timeout (host.json); the pending row is restored
 * first, so notifications arriving meanwhile still collapse into this message.
 */
export class PullDeferredError extends Error {
  override readonly name = 'PullDeferredError';

  constructor(readonly definition: string) {
    super(`pull of "${definition}" deferred: another run holds the definition's lock`);
  }
}

/**
 * Runs one definition's pull. It first claims (deletes) the pending-pull row, so a notification that
 * arrives while the pull runs enqueues exactly one follow-up (I11).
 */
export async function pullWorker(message: unknown, context: InvocationContext): Promise<RunSummary | null> {
  const parsed = parseQueueMessage(pullMessageSchema, message);
  if (!parsed.success) {
    context.error(`pullWorker: dropping malformed message: ${parsed.error.message}`);
    return null;
  }
  const runtime = await getRuntime();
  const { definition, definitionId, trigger } = parsed.data;
  try {
    await claimPendingPull(runtime.ctx.meta, definitionId);
    const summary = await runPull(engineContextFor(runtime, context), definition, { trigger });
    if (summary.status === 'SKIPPED') {
      await markPullPending(runtime.ctx.meta, definitionId, 'deferred: lock held');
      throw new PullDeferredError(definition);
    }
    const line = `pullWorker: ${definition} ${summary.status} (run ${summary.runId ?? '-'}, ${summary.processed} processed, ${summary.durationMs} ms)`;
    if (summary.status === 'FAILED') context.error(`${line}: ${summary.error ?? ''}`);
    else context.log(line);
    return summary;
  } catch (err) {
    if (err instanceof PullDeferredError) {
      context.warn(`pullWorker: ${err.message}; the message will be delivered again`);
      throw err;
    }
    if (err instanceof UnknownDefinitionError) {
      context.warn(`pullWorker: ${err.message}; message dropped (the definition was removed)`);
      return null;
    }
    runtime.telemetry.trackException(err, { definition, operation: 'pullWorker' });
    context.error(`pullWorker: ${definition}: ${messageOf(err)}`);
    throw err;
  }
}

app.storageQueue('pullWorker', {
  queueName: PULL_QUEUE,
  connection: STORAGE_CONNECTION,
  handler: pullWorker,
});

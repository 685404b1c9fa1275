import './bootstrap';
import { app, type InvocationContext } from '@azure/functions';
import { runPull } from '../core/engine/pull';
import type { RunSummary } from '../core/engine/types';
import { UnknownDefinitionError } from '../core/store/definitions';
import { claimPendingPull, markPullPending, requestPull } from '../core/subscriptions';
import { awaitNotBefore, busyRetryOf, continuationOf, queueDelaysOf } from './queueWorkerFlow';
import {
  parseQueueMessage,
  PULL_QUEUE,
  pullMessageSchema,
  pullQueueOutput,
  STORAGE_CONNECTION,
  type PullMessage,
} from './queues';
import { engineContextFor, getRuntime, messageOf } from './runtime';

/**
 * Runs one definition's pull. It first claims (deletes) the pending-pull row, so a notification that
 * arrives while the pull runs enqueues exactly one follow-up (I11). Busy is not failure (I16): a pull that
 * finds another run holding the definition's lock restores the pending row (notifications arriving
 * meanwhile collapse into it) and sends itself again after a delay; a pull that stopped at its time
 * budget does the same with a continuation. Only genuine failures are rethrown (and, after the host's
 * attempts, poisoned).
 */
export async function pullWorker(message: unknown, context: InvocationContext): Promise<RunSummary | null> {
  const parsed = parseQueueMessage(pullMessageSchema, message);
  if (!parsed.success) {
    context.error(`pullWorker: dropping malformed message: ${parsed.error.message}`);
    return null;
  }
  const runtime = await getRuntime();
  const delays = queueDelaysOf(runtime);
  const msg = parsed.data;
  const { definition, definitionId, trigger } = msg;
  const sendOn = (next: PullMessage) => context.extraOutputs.set(pullQueueOutput, [next]);
  if (!(await awaitNotBefore(msg, delays))) {
    sendOn(msg);
    return null;
  }
  try {
    await claimPendingPull(runtime.ctx.meta, definitionId);
    const summary = await runPull(engineContextFor(runtime, context), definition, {
      trigger,
      ...(msg.importExistingItems ? { importExistingItems: true } : {}),
    });
    if (summary.status === 'SKIPPED') {
      const retry = busyRetryOf(msg, delays);
      if (retry) {
        // A notification that came in since the claim already sent a pull: this one folds into it.
        if (await requestPull(runtime.ctx.meta, definitionId, 'deferred: lock held')) {
          sendOn(retry);
          context.log(`pullWorker: ${definition} is busy; sent again for ${retry.notBefore ?? 'now'}`);
        } else {
          context.log(`pullWorker: ${definition} is busy; a pull already pending will serve it`);
        }
      } else {
        context.warn(
          `pullWorker: ${definition} stayed busy through ${delays.maxBusyHops} retries; left to the next ` +
            'notification or the safety pull',
        );
      }
      return summary;
    }
    if (summary.idle) {
      context.log(
        `pullWorker: ${definition} idle, nothing to pull (no run recorded, ${summary.graphRequests} delta ` +
          `request(s), ${summary.durationMs} ms)`,
      );
      return summary;
    }
    const line = `pullWorker: ${definition} ${summary.status} (run ${summary.runId ?? '-'}, ${summary.processed} processed, ${summary.durationMs} ms)`;
    if (summary.status === 'FAILED') context.error(`${line}: ${summary.error ?? ''}`);
    else context.log(line);
    if (summary.status !== 'FAILED' && !summary.complete) {
      await markPullPending(runtime.ctx.meta, definitionId, 'continuation');
      const next = continuationOf(msg, summary);
      sendOn(next);
      context.log(
        `pullWorker: ${definition} stopped at its time budget; continuation ${next.continues ?? 1} enqueued` +
          (next.notBefore ? ` for ${next.notBefore}` : ''),
      );
    }
    return summary;
  } catch (err) {
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
  extraOutputs: [pullQueueOutput],
  handler: pullWorker,
});

import './bootstrap';
import { app, type InvocationContext } from '@azure/functions';
import type { RunSummary } from '../core/engine/types';
import { runPush } from '../core/engine/push';
import { pushScheduledWithin } from '../core/ops/schedule';
import { UnknownDefinitionError } from '../core/store/definitions';
import { awaitNotBefore, busyRetryOf, continuationOf, queueDelaysOf } from './queueWorkerFlow';
import {
  parseQueueMessage,
  PUSH_QUEUE,
  pushMessageSchema,
  pushQueueOutput,
  STORAGE_CONNECTION,
  type PushMessage,
} from './queues';
import { engineContextFor, getRuntime, messageOf } from './runtime';

/** A timer push that finds its definition busy is left to the definition's next scheduled push within this. */
export const TIMER_PUSH_SOON_MS = 5 * 60_000;

/**
 * Runs one definition's push, within the run's time budget (RUN_MAX_SECONDS, I16). A run that stopped
 * with work left sends a continuation message (delayed until a 429 block ends when that stopped it), so a
 * load of any size completes over many invocations. A push that found the definition busy is sent again
 * after a delay, unless it came from the timer and the definition's own schedule pushes again within
 * TIMER_PUSH_SOON_MS. An exception (database unreachable, …) is rethrown so the host retries the message and,
 * after its attempts, moves it to the poison queue (pushPoison records that). A run that fails inside is
 * already recorded as FAILED; retrying it is the next tick's job.
 */

export async function pushWorker(message: unknown, context: InvocationContext): Promise<RunSummary | null> {
  const parsed = parseQueueMessage(pushMessageSchema, message);
  if (!parsed.success) {
    context.error(`pushWorker: dropping malformed message: ${parsed.error.message}`);
    return null;
  }
  const runtime = await getRuntime();
  const delays = queueDelaysOf(runtime);
  const msg = parsed.data;
  const { definition, trigger } = msg;
  const sendOn = (next: PushMessage) => context.extraOutputs.set(pushQueueOutput, [next]);
  if (!(await awaitNotBefore(msg, delays))) {
    sendOn(msg);
    return null;
  }
  try {
    const summary = await runPush(engineContextFor(runtime, context), definition, {
      trigger: trigger === 'timer' ? 'queue' : trigger,
      ...(msg.importExistingItems ? { importExistingItems: true } : {}),
    });
    const line = summary.idle
      ? `pushWorker: ${definition} idle, nothing to push (no run recorded, ${summary.durationMs} ms)`
      : `pushWorker: ${definition} ${summary.status} (run ${summary.runId ?? '-'}, ${summary.processed} processed, ${summary.durationMs} ms)`;
    if (summary.status === 'FAILED') context.error(`${line}: ${summary.error ?? ''}`);
    else context.log(line);
    if (summary.status === 'SKIPPED') {
      // A timer push is left to the definition's next scheduled push only when that comes soon: with an hourly or
      // daily schedule the changes would wait a whole period, so it is sent again like any other (one chain per
      // skipped tick; a schedule of minutes would pile them up and needs none).
      const tickSoon =
        trigger === 'timer' && (await pushScheduledWithin(runtime.ctx.meta, definition, TIMER_PUSH_SOON_MS));
      const retry = tickSoon ? null : busyRetryOf(msg, delays);
      if (retry) sendOn(retry);
      context.log(
        retry
          ? `pushWorker: ${definition} is busy; sent again for ${retry.notBefore ?? 'now'}`
          : tickSoon
            ? `pushWorker: ${definition} is busy; its next scheduled push (within ${TIMER_PUSH_SOON_MS / 60_000} minutes) pushes what is left`
            : `pushWorker: ${definition} stayed busy through ${delays.maxBusyHops} retries; left to its next scheduled push`,
      );
    } else if (summary.status !== 'FAILED' && !summary.complete) {
      const next = continuationOf(msg, summary);
      sendOn(next);
      context.log(
        `pushWorker: ${definition} stopped at its time budget; continuation ${next.continues ?? 1} enqueued` +
          (next.notBefore ? ` for ${next.notBefore}` : ''),
      );
    }
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
  extraOutputs: [pushQueueOutput],
  handler: pushWorker,
});

import './bootstrap';
import { app, type InvocationContext } from '@azure/functions';
import { definitionIdByName, recordPoisonedRun, type RunRecord } from '../core/ops';
import { UnknownDefinitionError } from '../core/store/definitions';
import { claimPendingPull } from '../core/subscriptions';
import { dequeueCountOf } from './pushPoison';
import { parseQueueMessage, PULL_POISON_QUEUE, pullMessageSchema, STORAGE_CONNECTION } from './queues';
import { getRuntime, messageOf } from './runtime';

/**
 * A pull message the host gave up on: recorded as a FAILED pull run, and the pending-pull row is
 * cleared so the next notification enqueues a fresh pull at once (the safety timer pulls within the hour
 * regardless).
 */
export async function pullPoison(message: unknown, context: InvocationContext): Promise<RunRecord | null> {
  const parsed = parseQueueMessage(pullMessageSchema, message);
  if (!parsed.success) {
    context.error(`pullPoison: unreadable poisoned message dropped: ${parsed.error.message}`);
    return null;
  }
  const { ctx } = await getRuntime();
  const { definition } = parsed.data;
  try {
    const definitionId = await definitionIdByName(ctx.meta, definition);
    await claimPendingPull(ctx.meta, definitionId);
    const attempts = dequeueCountOf(context);
    const run = await recordPoisonedRun(
      ctx.meta,
      definitionId,
      'PULL',
      `pull message was retried${attempts ? ` ${attempts} times` : ''} and moved to the poison queue`,
    );
    context.error(`pullPoison: ${definition}: recorded FAILED run ${run.runId}`);
    return run;
  } catch (err) {
    if (err instanceof UnknownDefinitionError) {
      context.warn(`pullPoison: ${err.message}; nothing to record`);
      return null;
    }
    context.error(`pullPoison: ${definition}: ${messageOf(err)}`);
    throw err;
  }
}

app.storageQueue('pullPoison', {
  queueName: PULL_POISON_QUEUE,
  connection: STORAGE_CONNECTION,
  handler: pullPoison,
});

import './bootstrap';
import { app, type InvocationContext } from '@azure/functions';
import { definitionIdByName, recordPoisonedRun } from '../core/ops';
import type { RunRecord } from '../core/ops';
import { UnknownDefinitionError } from '../core/store/definitions';
import { parseQueueMessage, PUSH_POISON_QUEUE, pushMessageSchema, STORAGE_CONNECTION } from './queues';
import { getRuntime, messageOf } from './runtime';

/** How many times the host tried a message, from the trigger metadata (absent in tests). */
export function dequeueCountOf(context: InvocationContext): number | null {
  const count = context.triggerMetadata?.dequeueCount;
  return typeof count === 'number' ? count : null;
}

/**
 * A push message the host gave up on (maxDequeueCount attempts, host.json) lands here: it is recorded
 * as a FAILED push run, so `status` and the run history show it instead of only a poison queue.
 */
export async function pushPoison(message: unknown, context: InvocationContext): Promise<RunRecord | null> {
  const parsed = parseQueueMessage(pushMessageSchema, message);
  if (!parsed.success) {
    context.error(`pushPoison: unreadable poisoned message dropped: ${parsed.error.message}`);
    return null;
  }
  const { ctx } = await getRuntime();
  const { definition } = parsed.data;
  try {
    // By name, not the id in the message: a definition removed and re-added has a new id.
    const definitionId = await definitionIdByName(ctx.meta, definition);
    const attempts = dequeueCountOf(context);
    const run = await recordPoisonedRun(
      ctx.meta,
      definitionId,
      'PUSH',
      `push message was retried${attempts ? ` ${attempts} times` : ''} and moved to the poison queue`,
    );
    context.error(`pushPoison: ${definition}: recorded FAILED run ${run.runId}`);
    return run;
  } catch (err) {
    if (err instanceof UnknownDefinitionError) {
      context.warn(`pushPoison: ${err.message}; nothing to record`);
      return null;
    }
    context.error(`pushPoison: ${definition}: ${messageOf(err)}`);
    throw err;
  }
}

app.storageQueue('pushPoison', {
  queueName: PUSH_POISON_QUEUE,
  connection: STORAGE_CONNECTION,
  handler: pushPoison,
});

import './bootstrap';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import type { Pool } from 'pg';
import { pullEnabledDefinitions } from '../core/ops';
import { markPullPending } from '../core/subscriptions';
import { pullQueueOutput, type PullMessage } from './queues';
import { getRuntime } from './runtime';

/** One pull message for every pull-enabled definition, each marked pending so notifications collapse into it. */
export async function safetyPullMessages(meta: Pool): Promise<PullMessage[]> {
  const enqueuedAt = new Date().toISOString();
  const definitions = await pullEnabledDefinitions(meta);
  for (const d of definitions) await markPullPending(meta, d.definitionId, 'safety timer');
  return definitions.map((d) => ({
    definition: d.definition,
    definitionId: d.definitionId,
    trigger: 'safety',
    enqueuedAt,
  }));
}

/**
 * Pulls every pull-enabled definition on PULL_SAFETY_SCHEDULE (hourly by default), in case change
 * notifications were lost or webhooks are not configured. An idle pull costs one delta call (1 RU).
 */
export async function pullSafetyTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const { ctx } = await getRuntime();
  const messages = await safetyPullMessages(ctx.meta);
  if (messages.length > 0) context.extraOutputs.set(pullQueueOutput, messages);
  context.log(`pullSafetyTimer: ${messages.length} pull(s) enqueued`);
}

app.timer('pullSafetyTimer', {
  schedule: '%PULL_SAFETY_SCHEDULE%',
  extraOutputs: [pullQueueOutput],
  handler: pullSafetyTimer,
});

import './bootstrap';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { ensureSubscriptions, requestPulls, type EnsureSubscriptionsResult } from '../core/subscriptions';
import { owedPullMessages, pullMessagesFor } from './owedPulls';
import { pullQueueOutput } from './queues';
import { engineContextFor, getRuntime } from './runtime';

/**
 * Keeps one live Graph subscription per pull-enabled definition (create, renew, recreate, delete), and enqueues
 * a catch-up pull for each list that had none live (changes made meanwhile were never notified), plus the pulls
 * owed with no message on its way. The pulls are armed at the end, just before the messages are set, so a crash
 * during upkeep arms none (the next upkeep finds the subscriptions it created and asks for no pull: the safety
 * pull then covers the gap).
 * Without WEBHOOK_NOTIFICATION_URL there are no webhooks: pulls then come from the safety timer only.
 */
export async function subscriptionTimer(
  _timer: Timer,
  context: InvocationContext,
): Promise<EnsureSubscriptionsResult | null> {
  const runtime = await getRuntime();
  const { meta } = runtime.ctx;
  const { notificationUrl, lifecycleNotificationUrl } = runtime.webhookUrls;
  if (!notificationUrl) {
    context.log('subscriptionTimer: WEBHOOK_NOTIFICATION_URL is not set; no subscriptions are kept');
    return null;
  }
  const result = await ensureSubscriptions(engineContextFor(runtime, context), {
    notificationUrl,
    lifecycleNotificationUrl,
  });
  const catchUp = pullMessagesFor(await requestPulls(meta, result.pulls), 'webhook');
  const messages = [...catchUp, ...(await owedPullMessages(meta))];
  if (messages.length > 0) {
    context.extraOutputs.set(pullQueueOutput, messages);
    context.log(
      `subscriptionTimer: ${messages.length} pull(s) enqueued (${messages.map((m) => m.definition).join(', ')})`,
    );
  }
  if (!result.ran) {
    context.log('subscriptionTimer: another upkeep is running; skipped');
    return result;
  }
  for (const a of result.actions.filter((x) => x.action !== 'kept')) {
    context.log(
      `subscriptionTimer: ${a.definition ?? '(orphan)'}: ${a.action} ${a.subscriptionId}` +
        (a.reason ? ` (${a.reason})` : '') +
        (a.expiration ? ` until ${a.expiration}` : ''),
    );
  }
  for (const e of result.errors) {
    context.warn(`subscriptionTimer: ${e.message}`);
    runtime.telemetry.trackException(e, { definition: e.definition, operation: 'subscriptionTimer' });
  }
  context.log(
    `subscriptionTimer: ${result.actions.length} subscription(s) checked, ${result.errors.length} error(s)`,
  );
  return result;
}

app.timer('subscriptionTimer', {
  schedule: '%SUBSCRIPTION_SCHEDULE%',
  extraOutputs: [pullQueueOutput],
  handler: subscriptionTimer,
});

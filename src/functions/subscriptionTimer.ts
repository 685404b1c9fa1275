import './bootstrap';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { ensureSubscriptions, type EnsureSubscriptionsResult } from '../core/subscriptions';
import { engineContextFor, getRuntime } from './runtime';

/**
 * Keeps one live Graph subscription per pull-enabled definition (create, renew, recreate, delete).
 * Without WEBHOOK_NOTIFICATION_URL there are no webhooks: pulls then come from the safety timer only.
 */
export async function subscriptionTimer(
  _timer: Timer,
  context: InvocationContext,
): Promise<EnsureSubscriptionsResult | null> {
  const runtime = await getRuntime();
  const { notificationUrl, lifecycleNotificationUrl } = runtime.webhookUrls;
  if (!notificationUrl) {
    context.log('subscriptionTimer: WEBHOOK_NOTIFICATION_URL is not set; no subscriptions are kept');
    return null;
  }
  const result = await ensureSubscriptions(engineContextFor(runtime, context), {
    notificationUrl,
    lifecycleNotificationUrl,
  });
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
  handler: subscriptionTimer,
});

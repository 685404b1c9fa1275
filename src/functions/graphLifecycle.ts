import './bootstrap';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleLifecycle, NotificationBodyError, type LifecycleResult } from '../core/subscriptions';
import { errorResponse, readJsonBody, validationEcho } from './http';
import { pullQueueOutput, type PullMessage } from './queues';
import { engineContextFor, getRuntime, messageOf } from './runtime';

/**
 * Graph expects an answer within a few seconds; reauthorizing is one Graph call, usually far quicker.
 * Past this budget we answer 202 and let the work finish on its own (the subscription timer repairs
 * whatever it leaves undone).
 */
export const LIFECYCLE_ANSWER_BUDGET_MS = 2500;

/**
 * The subscriptions' lifecycleNotificationUrl: validation echo, then `reauthorizationRequired` →
 * reauthorize (or renew), `subscriptionRemoved` → recreate and pull, `missed` → pull.
 */
export async function graphLifecycle(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const echo = validationEcho(request);
  if (echo) return echo;
  if (request.method !== 'POST')
    return errorResponse(405, 'POST lifecycle notifications, or pass validationToken');
  const body = await readJsonBody(request);
  if (!body.ok) {
    context.warn(`graphLifecycle: rejected body (${body.response.status})`);
    return body.response;
  }
  let runtime;
  try {
    runtime = await getRuntime();
  } catch (err) {
    context.error(`graphLifecycle: runtime unavailable: ${messageOf(err)}`);
    return errorResponse(500, 'the service is starting or misconfigured; retry later');
  }
  const { notificationUrl, lifecycleNotificationUrl } = runtime.webhookUrls;
  const work = handleLifecycle(engineContextFor(runtime, context), body.value, {
    urls: notificationUrl ? { notificationUrl, lifecycleNotificationUrl } : undefined,
  });
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), LIFECYCLE_ANSWER_BUDGET_MS);
  });
  try {
    const outcome: LifecycleResult | 'late' = await Promise.race([work, budget]);
    if (outcome === 'late') {
      context.warn('graphLifecycle: still working after the answer budget; answering 202 now');
      work.then(
        (result) => context.log(`graphLifecycle: finished late: ${JSON.stringify(result.handled)}`),
        (err: unknown) => context.error(`graphLifecycle: failed late: ${messageOf(err)}`),
      );
      return { status: 202 };
    }
    const enqueuedAt = new Date().toISOString();
    const messages: PullMessage[] = outcome.enqueue.map((r) => ({
      definition: r.definition,
      definitionId: r.definitionId,
      trigger: 'webhook',
      enqueuedAt,
    }));
    if (messages.length > 0) context.extraOutputs.set(pullQueueOutput, messages);
    if (outcome.ignored.length > 0) {
      const reasons = [...new Set(outcome.ignored.map((i) => i.reason))].slice(0, 5);
      context.warn(
        `graphLifecycle: ignored ${outcome.ignored.length} notification(s): ${reasons.join(' | ')}`,
      );
    }
    for (const h of outcome.handled) {
      const line = `graphLifecycle: ${h.event} for ${h.subscriptionId}: ${h.action}${h.error ? ` (${h.error})` : ''}`;
      if (h.action === 'failed') context.warn(line);
      else context.log(line);
    }
    return { status: 202 };
  } catch (err) {
    if (err instanceof NotificationBodyError) return errorResponse(400, err.message);
    context.error(`graphLifecycle: could not process: ${messageOf(err)}`);
    runtime.telemetry.trackException(err, { operation: 'graphLifecycle' });
    return errorResponse(500, 'could not record the lifecycle notification; retry later');
  } finally {
    clearTimeout(timer);
  }
}

// Anonymous on purpose: Graph authenticates itself with the subscription's clientState (checked against
// the stored hash in constant time), which is what Microsoft's webhook guidance relies on
// (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks). A function key in the
// notification URL would be stored at Microsoft and seen by every proxy on the way, and a host key would
// also open the ops API. Body size, content and rate limits apply as before (http.ts, acceptNotifications).
app.http('graphLifecycle', {
  methods: ['POST', 'GET'],
  authLevel: 'anonymous',
  route: 'graph/lifecycle',
  extraOutputs: [pullQueueOutput],
  handler: graphLifecycle,
});

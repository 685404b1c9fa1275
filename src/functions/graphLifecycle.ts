import './bootstrap';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import {
  handleLifecycle,
  NotificationBodyError,
  owePulls,
  requestPulls,
  type LifecycleResult,
} from '../core/subscriptions';
import { errorResponse, readJsonBody, validationEcho } from './http';
import { pullQueueOutput, type PullMessage } from './queues';
import { engineContextFor, getRuntimeWithin, messageOf, NOTIFICATION_RUNTIME_WAIT_MS } from './runtime';

/**
 * How long after the request arrived the work may run before we answer 202 without it. Graph counts answers
 * slower than 10 s against the endpoint (runtime.ts, NOTIFICATION_RUNTIME_WAIT_MS); reauthorizing is one Graph
 * call, far quicker, and recreating a subscription (Graph validates our endpoint before it answers) usually fits.
 */
export const LIFECYCLE_ANSWER_BUDGET_MS = 7_000;

/**
 * The subscriptions' lifecycleNotificationUrl: validation echo, then `reauthorizationRequired` →
 * reauthorize (or renew), `subscriptionRemoved` → recreate and pull, `missed` → pull.
 *
 * A pull the work asks for is armed and its message set on the output just before the answer. Work still
 * running at the answer budget goes on after the 202, and its pulls are recorded owed (it can no longer send a
 * message): the next notification of the definition, or the next timer tick, sends them. The subscription
 * timer repairs whatever it leaves undone (the host may stop an instance once its invocation ended).
 */
export async function graphLifecycle(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const arrived = Date.now();
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
    runtime = await getRuntimeWithin(NOTIFICATION_RUNTIME_WAIT_MS);
  } catch (err) {
    context.error(`graphLifecycle: runtime unavailable: ${messageOf(err)}`);
    return errorResponse(503, 'the service is starting or misconfigured; retry later');
  }
  const { meta } = runtime.ctx;
  const { notificationUrl, lifecycleNotificationUrl } = runtime.webhookUrls;
  const work = handleLifecycle(engineContextFor(runtime, context), body.value, {
    urls: notificationUrl ? { notificationUrl, lifecycleNotificationUrl } : undefined,
  });
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), Math.max(0, arrived + LIFECYCLE_ANSWER_BUDGET_MS - Date.now()));
  });
  try {
    const outcome: LifecycleResult | 'late' = await Promise.race([work, budget]);
    if (outcome === 'late') {
      context.warn('graphLifecycle: still working after the answer budget; answering 202 now');
      work
        .then(async (result) => {
          await owePulls(meta, result.pulls);
          const owed = [...new Set(result.pulls.map((p) => p.definition))];
          context.log(
            `graphLifecycle: finished late: ${JSON.stringify(result.handled)}` +
              (owed.length
                ? `; pull(s) of ${owed.join(', ')} owed, sent by the next notification or timer tick`
                : ''),
          );
        })
        .catch((err: unknown) => context.error(`graphLifecycle: failed late: ${messageOf(err)}`));
      return { status: 202 };
    }
    // Armed here, with the message set just after: a failure arms none and answers 500, so Graph retries.
    const armed = await requestPulls(meta, outcome.pulls);
    const enqueuedAt = new Date().toISOString();
    const messages: PullMessage[] = armed.map((r) => ({
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
    if (messages.length > 0)
      context.log(
        `graphLifecycle: ${messages.length} pull(s) enqueued (${messages.map((m) => m.definition).join(', ')})`,
      );
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

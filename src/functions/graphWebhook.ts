import './bootstrap';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { acceptNotifications, NotificationBodyError } from '../core/subscriptions';
import { formatEvent, notificationEvents, rejectedBodyEvent, type HostEvent } from './events';
import { errorResponse, readJsonBody, validationEcho } from './http';
import { pullQueueOutput, type PullMessage } from './queues';
import { getRuntimeWithin, messageOf, NOTIFICATION_RUNTIME_WAIT_MS } from './runtime';

/**
 * The subscriptions' notificationUrl. Answers Graph's validation echo; otherwise authenticates the
 * notifications (clientState against the stored hash), records at most one pending pull per list and
 * enqueues a pull message only for a newly pending one: no Graph call inline, 202 well within 3 s.
 * Bad bodies get 400 and nothing is enqueued; only a failure to persist answers 5xx, so Graph retries. The
 * pending rows of one body are armed in one statement, so a failure arms none of them and the retry enqueues
 * every pull it names.
 */
export async function graphWebhook(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const echo = validationEcho(request);
  if (echo) return echo;
  if (request.method !== 'POST') return errorResponse(405, 'POST notifications, or pass validationToken');
  const body = await readJsonBody(request);
  if (!body.ok) {
    // Refused before the runtime is asked for, so a flood of bad bodies costs no store access.
    context.warn(formatEvent(rejectedBodyEvent(`body refused with ${body.response.status}`), 'json'));
    return body.response;
  }
  let runtime;
  try {
    // Bounded: an answer within 10 s, even an error, is what makes Graph retry (runtime.ts).
    runtime = await getRuntimeWithin(NOTIFICATION_RUNTIME_WAIT_MS);
  } catch (err) {
    context.error(`graphWebhook: runtime unavailable: ${messageOf(err)}`);
    return errorResponse(503, 'the service is starting or misconfigured; retry later');
  }
  const emit = runtime.onEvent ?? ((event: HostEvent) => context.log(formatEvent(event, 'json')));
  try {
    const result = await acceptNotifications(runtime.ctx.meta, body.value);
    for (const event of notificationEvents(result)) emit(event);
    const enqueuedAt = new Date().toISOString();
    const messages: PullMessage[] = result.enqueue.map((r) => ({
      definition: r.definition,
      definitionId: r.definitionId,
      trigger: 'webhook',
      enqueuedAt,
    }));
    if (messages.length > 0) context.extraOutputs.set(pullQueueOutput, messages);
    if (result.ignored.length > 0) {
      const reasons = [...new Set(result.ignored.map((i) => i.reason))].slice(0, 5);
      context.warn(`graphWebhook: ignored ${result.ignored.length} notification(s): ${reasons.join(' | ')}`);
    }
    context.log(
      `graphWebhook: ${result.accepted} accepted, ${messages.length} pull(s) enqueued` +
        (messages.length ? ` (${messages.map((m) => m.definition).join(', ')})` : ''),
    );
    return { status: 202 };
  } catch (err) {
    if (err instanceof NotificationBodyError) {
      emit(rejectedBodyEvent(err.message));
      return errorResponse(400, err.message);
    }
    context.error(`graphWebhook: could not record notifications: ${messageOf(err)}`);
    runtime.telemetry.trackException(err, { operation: 'graphWebhook' });
    return errorResponse(500, 'could not record the notifications; retry later');
  }
}

// Anonymous on purpose: Graph authenticates itself with the subscription's clientState (checked against
// the stored hash in constant time), which is what Microsoft's webhook guidance relies on
// (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks). A function key in the
// notification URL would be stored at Microsoft and seen by every proxy on the way, and a host key would
// also open the ops API. Body size, content and rate limits apply as before (http.ts, acceptNotifications).
app.http('graphWebhook', {
  methods: ['POST', 'GET'],
  authLevel: 'anonymous',
  route: 'graph/notifications',
  extraOutputs: [pullQueueOutput],
  handler: graphWebhook,
});

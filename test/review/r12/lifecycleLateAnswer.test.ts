import { disabledTelemetry } from '../../../src/core/telemetry';
import { listStoredSubscriptions } from '../../../src/core/subscriptions';
import { graphLifecycle, LIFECYCLE_ANSWER_BUDGET_MS } from '../../../src/functions/graphLifecycle';
import { graphWebhook } from '../../../src/functions/graphWebhook';
import { pullQueueOutput } from '../../../src/functions/queues';
import { installRuntime } from '../../../src/functions/runtime';
import type { Harness } from '../../support/engineHarness';
import { eventually } from '../../support/eventually';
import { invocation, postJson, queued } from '../../functions/support/invocation';
import { deleteAtGraph, subscribedProjects, type receiver } from './support/receiver';

interface NotificationBody {
  value: { subscriptionId: string; clientState: string; lifecycleEvent?: string }[];
}

/**
 * graphLifecycle answers 202 once LIFECYCLE_ANSWER_BUDGET_MS has passed and lets the work finish "late". The late
 * work still asks for a pull (requestPull inserts the definition's pending_pulls row), but the pull message it
 * returns can no longer reach the queue output: the pull after a `subscriptionRemoved` (or a `missed`) is never
 * sent, and the armed pending row makes every change notification of the next 15 minutes enqueue nothing.
 */
describe('r12: a lifecycle notification answered late loses its pull', () => {
  let h: Harness;
  let endpoint: Awaited<ReturnType<typeof receiver>>;
  let uninstall: () => void;
  let urls: { notificationUrl: string; lifecycleNotificationUrl: string };
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ h, endpoint, urls, close } = await subscribedProjects());
    uninstall = installRuntime({ ctx: h.ctx, telemetry: disabledTelemetry, webhookUrls: urls });
  });

  afterAll(async () => {
    uninstall?.();
    await close?.();
  });

  it('reauthorizationRequired for a subscription Graph has dropped, re-created slower than the answer budget: no pull is ever enqueued', async () => {
    const [gone] = (await listStoredSubscriptions(h.db.pool)).filter((s) => s.state !== 'REMOVED');
    // reauthorizationRequired is the one lifecycle event Graph sends for every resource, SharePoint lists included
    // (https://learn.microsoft.com/graph/change-notifications-lifecycle-events#supported-resources). By the time it
    // is handled, Graph no longer knows the subscription (it expired or was removed meanwhile).
    h.emulator.control.triggerLifecycle(gone.subscriptionId, 'reauthorizationRequired');
    const body = (await endpoint.next()) as NotificationBody;
    expect(body.value[0].lifecycleEvent).toBe('reauthorizationRequired');
    expect(await deleteAtGraph(h, gone.subscriptionId)).toBe(204);
    await h.db.pool.query('DELETE FROM arcore.pending_pulls');

    // Re-creating takes a little longer than the budget (Graph validates the endpoint before it answers; up to 10 s).
    h.emulator.control.injectFault({
      method: 'POST',
      pathPattern: '^/subscriptions$',
      count: 1,
      latencyMs: LIFECYCLE_ANSWER_BUDGET_MS + 1500,
    });
    const { context, logs } = invocation('graphLifecycle');
    const answer = await graphLifecycle(postJson(`${urls.lifecycleNotificationUrl}`, body), context);
    expect(answer.status).toBe(202);
    await eventually('the late lifecycle work to finish', () =>
      logs.some((l) => l.text.includes('finished late')),
    );
    expect(logs.find((l) => l.text.includes('finished late'))?.text).toContain('recreated');

    // The late work asked for a pull: the pending row says "its message is on its way" (I11) ...
    const pending = await h.db.pool.query<{ reason: string }>('SELECT reason FROM arcore.pending_pulls');
    expect(pending.rows.map((r) => r.reason)).toEqual([`subscription ${gone.subscriptionId} was removed`]);
    // ... a change made in SharePoint now notifies the new subscription ...
    const created = await h.asUser('POST', `/sites/${h.siteId}/lists/Projects/items`, {
      fields: { Title: 'added while the subscription was gone' },
    });
    expect(created.status).toBe(201);
    const change = (await endpoint.next()) as NotificationBody;
    const hook = invocation('graphWebhook');
    expect((await graphWebhook(postJson(urls.notificationUrl, change), hook.context)).status).toBe(202);

    // ... and still no pull message exists anywhere: neither the lifecycle answer nor the webhook sent one.
    const sent = [...queued(context, pullQueueOutput), ...queued(hook.context, pullQueueOutput)];
    expect(sent).toEqual([expect.objectContaining({ definition: 'projects' })]);
  });
});

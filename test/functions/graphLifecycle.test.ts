import { listStoredSubscriptions } from '../../src/core/subscriptions';
import { disabledTelemetry } from '../../src/core/telemetry';
import { graphLifecycle, LIFECYCLE_ANSWER_BUDGET_MS } from '../../src/functions/graphLifecycle';
import { graphWebhook } from '../../src/functions/graphWebhook';
import { pullQueueOutput } from '../../src/functions/queues';
import { installRuntime } from '../../src/functions/runtime';
import type { Harness } from '../support/engineHarness';
import { eventually } from '../support/eventually';
import { deleteAtGraph, subscribedProjects, type GraphReceiver } from '../support/graphReceiver';
import { invocation, postJson, queued } from './support/invocation';

interface NotificationBody {
  value: { subscriptionId: string; clientState: string; lifecycleEvent?: string }[];
}

/**
 * Work still running at LIFECYCLE_ANSWER_BUDGET_MS goes on after the 202, when no queue output can be set any
 * more. Its pulls must not leave a pending row that claims "a message is on its way" (I11): every notification
 * of the list would then enqueue nothing for STALE_PENDING_PULL_SECONDS. Found by review r12.
 */
describe('graph lifecycle endpoint: work that finishes after the answer', () => {
  let h: Harness;
  let endpoint: GraphReceiver;
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

  it('reauthorizationRequired for a subscription Graph dropped, recreated past the budget: its pull is owed, and the next notification sends it', async () => {
    const [gone] = (await listStoredSubscriptions(h.db.pool)).filter((s) => s.state !== 'REMOVED');
    // reauthorizationRequired is the one lifecycle event Graph sends for lists
    // (https://learn.microsoft.com/graph/change-notifications-lifecycle-events#supported-resources). By the time it
    // is handled, Graph no longer knows the subscription: reauthorize and renew answer 404, so it is recreated.
    h.emulator.control.triggerLifecycle(gone.subscriptionId, 'reauthorizationRequired');
    const body = (await endpoint.next()) as NotificationBody;
    expect(body.value[0].lifecycleEvent).toBe('reauthorizationRequired');
    expect(await deleteAtGraph(h, gone.subscriptionId)).toBe(204);
    await h.db.pool.query('DELETE FROM arcore.pending_pulls');

    // Recreating takes longer than the budget (Graph validates the endpoint before it answers).
    h.emulator.control.injectFault({
      method: 'POST',
      pathPattern: '^/subscriptions$',
      count: 1,
      latencyMs: LIFECYCLE_ANSWER_BUDGET_MS + 1500,
    });
    const { context, logs } = invocation('graphLifecycle');
    const answer = await graphLifecycle(postJson(urls.lifecycleNotificationUrl, body), context);
    expect(answer.status).toBe(202);
    expect(queued(context, pullQueueOutput)).toEqual([]);
    const finished = await eventually('the late lifecycle work to finish', () =>
      logs.find((l) => l.text.includes('finished late')),
    );
    expect(finished.text).toContain('recreated');
    expect(finished.text).toContain('pull(s) of projects owed');

    // The pull is recorded owed: wanted, with no message on its way.
    const pending = await h.db.pool.query<{ reason: string; message_sent: boolean }>(
      'SELECT reason, message_sent FROM arcore.pending_pulls',
    );
    expect(pending.rows).toEqual([
      { reason: `subscription ${gone.subscriptionId} was removed`, message_sent: false },
    ]);

    // A change made in SharePoint now notifies the new subscription, and the webhook sends the owed pull.
    const created = await h.asUser('POST', `/sites/${h.siteId}/lists/Projects/items`, {
      fields: { Title: 'added after the recreation' },
    });
    expect(created.status).toBe(201);
    const change = (await endpoint.next()) as NotificationBody;
    const hook = invocation('graphWebhook');
    expect((await graphWebhook(postJson(urls.notificationUrl, change), hook.context)).status).toBe(202);
    expect(queued(hook.context, pullQueueOutput)).toEqual([
      expect.objectContaining({ definition: 'projects' }),
    ]);
    const armed = await h.db.pool.query<{ message_sent: boolean }>(
      'SELECT message_sent FROM arcore.pending_pulls',
    );
    expect(armed.rows).toEqual([{ message_sent: true }]);
  });
});

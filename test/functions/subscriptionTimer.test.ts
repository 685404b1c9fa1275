import { listStoredSubscriptions, owePulls } from '../../src/core/subscriptions';
import { disabledTelemetry } from '../../src/core/telemetry';
import { pullQueueOutput } from '../../src/functions/queues';
import { installRuntime } from '../../src/functions/runtime';
import { subscriptionTimer } from '../../src/functions/subscriptionTimer';
import type { Harness } from '../support/engineHarness';
import { deleteAtGraph, subscribedProjects } from '../support/graphReceiver';
import { invocation, queued, timer } from './support/invocation';

/**
 * Graph dropped the subscription and an item was added while nobody was subscribed. Upkeep recreates the
 * subscription; the change made meanwhile was never notified, so upkeep sends a catch-up pull (as the lifecycle
 * path does) instead of leaving it to the hourly safety pull. Found by review r12.
 */
describe('subscriptionTimer', () => {
  let h: Harness;
  let uninstall: () => void;
  let close: () => Promise<void>;

  beforeAll(async () => {
    let urls;
    ({ h, urls, close } = await subscribedProjects());
    uninstall = installRuntime({ ctx: h.ctx, telemetry: disabledTelemetry, webhookUrls: urls });
  });

  afterAll(async () => {
    uninstall?.();
    await close?.();
  });

  beforeEach(() => h.db.pool.query('DELETE FROM arcore.pending_pulls'));

  it('enqueues a catch-up pull when it recreates a subscription Graph dropped', async () => {
    const [sub] = await listStoredSubscriptions(h.db.pool);
    expect(await deleteAtGraph(h, sub.subscriptionId)).toBe(204);
    const created = await h.asUser('POST', `/sites/${h.siteId}/lists/Projects/items`, {
      fields: { Title: 'added while unsubscribed' },
    });
    expect(created.status).toBe(201);
    // Renewal is due, and Graph answers 404: upkeep recreates.
    await h.db.pool.query(
      "UPDATE arcore.graph_subscriptions SET expiration = now() + interval '1 hour' WHERE subscription_id = $1",
      [sub.subscriptionId],
    );

    const { context } = invocation('subscriptionTimer');
    const result = await subscriptionTimer(timer, context);
    expect(result?.actions).toEqual([
      expect.objectContaining({ action: 'recreated', reason: 'Graph no longer knows the subscription' }),
    ]);
    expect(queued(context, pullQueueOutput)).toEqual([
      expect.objectContaining({ definition: 'projects', trigger: 'webhook' }),
    ]);
    const { rows } = await h.db.pool.query('SELECT message_sent FROM arcore.pending_pulls');
    expect(rows).toEqual([{ message_sent: true }]);
  });

  it('sends a pull owed with no message on its way, and asks for none when the subscription is kept', async () => {
    const [def] = (await h.db.pool.query<{ id: string }>('SELECT id::text FROM arcore.sync_definitions'))
      .rows;
    await owePulls(h.db.pool, [{ definitionId: def.id, definition: 'projects', reason: 'late lifecycle' }]);
    const first = invocation('subscriptionTimer');
    expect((await subscriptionTimer(timer, first.context))?.actions.map((a) => a.action)).toEqual(['kept']);
    expect(queued(first.context, pullQueueOutput)).toEqual([
      expect.objectContaining({ definition: 'projects' }),
    ]);

    const second = invocation('subscriptionTimer');
    await subscriptionTimer(timer, second.context);
    expect(queued(second.context, pullQueueOutput)).toEqual([]);
  });
});

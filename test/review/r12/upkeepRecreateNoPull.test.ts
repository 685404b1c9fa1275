import { ensureSubscriptions, listStoredSubscriptions } from '../../../src/core/subscriptions';
import type { Harness } from '../../support/engineHarness';
import { deleteAtGraph, subscribedProjects } from './support/receiver';

/**
 * When Graph has dropped a subscription (expired while upkeep could not renew it, or removed), changes made in
 * the list meanwhile were never notified. The lifecycle path knows this: it recreates the subscription "and queues
 * a pull (changes may have gone unnoticed)" (lifecycle.ts). The subscription timer's upkeep recreates it too
 * (`recreated`, "Graph no longer knows the subscription"), but asks for no pull: the edits made while nobody was
 * subscribed wait for the hourly safety pull (or whatever PULL_SAFETY_SCHEDULE says).
 */
describe('r12: upkeep that recreates a dropped subscription asks for no catch-up pull', () => {
  let h: Harness;
  let urls: { notificationUrl: string; lifecycleNotificationUrl: string };
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ h, urls, close } = await subscribedProjects());
  });

  afterAll(() => close?.());

  it('a pull is pending once the subscription is recreated', async () => {
    const [sub] = await listStoredSubscriptions(h.db.pool);
    expect(await deleteAtGraph(h, sub.subscriptionId)).toBe(204);
    // Changes while unsubscribed: Graph notifies nobody.
    const created = await h.asUser('POST', `/sites/${h.siteId}/lists/Projects/items`, {
      fields: { Title: 'added while unsubscribed' },
    });
    expect(created.status).toBe(201);

    // Renewal is due (less than a third of the lifetime left), and Graph answers 404: upkeep recreates.
    await h.db.pool.query(
      "UPDATE arcore.graph_subscriptions SET expiration = now() + interval '1 hour' WHERE subscription_id = $1",
      [sub.subscriptionId],
    );
    const upkeep = await ensureSubscriptions(h.ctx, urls);
    expect(upkeep.errors).toEqual([]);
    expect(upkeep.actions).toEqual([
      expect.objectContaining({ action: 'recreated', reason: 'Graph no longer knows the subscription' }),
    ]);

    const { rows } = await h.db.pool.query('SELECT reason FROM arcore.pending_pulls');
    expect(rows).toHaveLength(1);
  });
});

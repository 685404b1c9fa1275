import { Agent } from 'undici';
import { listDefinitions } from '../../../src/core/store/definitions';
import {
  createSubscriptionFor,
  ensureSubscriptions,
  handleLifecycle,
  listStoredSubscriptions,
} from '../../../src/core/subscriptions';
import { projectsDefinition, SITE, startHarness, type Harness } from '../../support/engineHarness';
import { receiver, type Receiver } from '../../support/receiver';
import { createSplitsTable } from '../../support/routed';

interface LifecycleBody {
  value: { subscriptionId: string; clientState: string; lifecycleEvent: string }[];
}

describe('subscriptionRemoved lifecycle notifications (at-least-once delivery)', () => {
  let h: Harness;
  let endpoint: Receiver;
  let dispatcher: Agent;
  let urls: { notificationUrl: string; lifecycleNotificationUrl: string };

  const live = async () => (await listStoredSubscriptions(h.db.pool)).filter((s) => s.state !== 'REMOVED');
  const graphSubscriptions = async (): Promise<{ id: string }[]> => {
    const res = await fetch(`${h.emulator.baseUrl}/subscriptions`, {
      headers: { authorization: `Bearer ${h.emulator.appToken}` },
      dispatcher,
    });
    return ((await res.json()) as { value: { id: string }[] }).value;
  };
  const deleteAtGraph = async (id: string) => {
    const res = await fetch(`${h.emulator.baseUrl}/subscriptions/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${h.emulator.appToken}` },
      dispatcher,
    });
    expect(res.status).toBe(204);
  };

  /**
   * A genuine `subscriptionRemoved` body for the subscription: the emulator only sends
   * reauthorizationRequired, so its (authentic) body is captured and its event renamed.
   */
  async function removedBody(subscriptionId: string): Promise<LifecycleBody> {
    h.emulator.control.triggerLifecycle(subscriptionId, 'reauthorizationRequired');
    const body = (await endpoint.next()) as LifecycleBody;
    expect(body.value[0].subscriptionId).toBe(subscriptionId);
    return { value: body.value.map((n) => ({ ...n, lifecycleEvent: 'subscriptionRemoved' })) };
  }

  beforeAll(async () => {
    h = await startHarness({ notificationDelayMs: 0 });
    await h.db.pool.query('CREATE TABLE projects (id int PRIMARY KEY, name text, updated_at timestamptz)');
    await h.define(projectsDefinition({ fields: [{ source: 'name', target: 'Title' }] }));
    endpoint = await receiver();
    dispatcher = new Agent({ connect: { ca: h.emulator.caCert } });
    urls = {
      notificationUrl: `${endpoint.url}/api/graph/notifications?code=key-1`,
      lifecycleNotificationUrl: `${endpoint.url}/api/graph/lifecycle?code=key-1`,
    };
    const created = await ensureSubscriptions(h.ctx, urls);
    expect(created.errors).toEqual([]);
  });

  afterAll(async () => {
    await endpoint?.close();
    await dispatcher?.close();
    await h?.close();
  });

  it('20 copies delivered at once recreate exactly one subscription', async () => {
    const [removed] = await live();
    const body = await removedBody(removed.subscriptionId);
    await deleteAtGraph(removed.subscriptionId);

    const results = await Promise.all(
      Array.from({ length: 20 }, () => handleLifecycle(h.ctx, body, { urls })),
    );

    const recreated = results.flatMap((r) => r.handled).filter((a) => a.action === 'recreated');
    expect(recreated).toHaveLength(1);
    expect(results.flatMap((r) => r.ignored)).toHaveLength(19);
    const after = await live();
    expect(after).toHaveLength(1);
    expect(after[0].subscriptionId).toBe(recreated[0].newSubscriptionId);
    expect((await graphSubscriptions()).map((s) => s.id)).toEqual([after[0].subscriptionId]);
  });

  it('20 copies in one body, and again later, leave the one recreated subscription alone', async () => {
    const [removed] = await live();
    const single = await removedBody(removed.subscriptionId);
    await deleteAtGraph(removed.subscriptionId);
    const repeated = { value: Array.from({ length: 20 }, () => single.value[0]) };

    const first = await handleLifecycle(h.ctx, repeated, { urls });
    const later = await handleLifecycle(h.ctx, single, { urls });

    expect(first.handled.map((a) => a.action)).toEqual(['recreated']);
    expect(first.ignored.map((i) => i.reason)).toEqual(
      Array.from({ length: 19 }, () => 'removal already handled (a repeated notification)'),
    );
    expect(later.handled).toEqual([]);
    const after = await live();
    expect(after).toHaveLength(1);
    expect(after[0].subscriptionId).not.toBe(removed.subscriptionId);
    expect(await graphSubscriptions()).toHaveLength(1);
  });

  it('the removal of a subscription that is no longer the only live one is superseded, not recreated', async () => {
    const [older] = await live();
    const body = await removedBody(older.subscriptionId);
    const [def] = await listDefinitions(h.db.pool);
    const target = h.ctx.target();
    const newer = await createSubscriptionFor(h.db.pool, target, def, urls, new Date()).finally(() =>
      target.close(),
    );
    await deleteAtGraph(older.subscriptionId);

    const result = await handleLifecycle(h.ctx, body, { urls });

    expect(result.handled).toEqual([
      expect.objectContaining({ subscriptionId: older.subscriptionId, action: 'superseded' }),
    ]);
    expect((await live()).map((s) => s.subscriptionId)).toEqual([newer.subscriptionId]);
    expect((await graphSubscriptions()).map((s) => s.id)).toEqual([newer.subscriptionId]);
  });

  it('a late removal of a subscription that upkeep already replaced creates nothing', async () => {
    const [current] = await live();
    const body = await removedBody(current.subscriptionId);
    // Upkeep replaced it in the meantime (here: a changed function key), so it is no longer current.
    urls = { ...urls, notificationUrl: `${endpoint.url}/api/graph/notifications?code=key-2` };
    const upkeep = await ensureSubscriptions(h.ctx, urls);
    expect(upkeep.actions.map((a) => a.action)).toEqual(['recreated']);
    const [replacement] = await live();

    const result = await handleLifecycle(h.ctx, body, { urls });

    expect(result.handled).toEqual([]);
    expect(result.ignored).toEqual([expect.objectContaining({ subscriptionId: current.subscriptionId })]);
    expect((await live()).map((s) => s.subscriptionId)).toEqual([replacement.subscriptionId]);
    expect((await graphSubscriptions()).map((s) => s.id)).toEqual([replacement.subscriptionId]);
  });

  // Found by review r6 (suspected): another routed list's subscription was taken as serving the removed one.
  it('a routed list’s removed subscription is recreated for that list, though the other lists have theirs', async () => {
    await createSplitsTable(h);
    await h.define({
      name: 'splits',
      source: { table: 'splits', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, routes: [{ when: "region == 'N'", list: 'North' }, { list: 'South' }] },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'region', target: 'Region' },
      ],
    });
    const [def] = (await listDefinitions(h.db.pool)).filter((d) => d.definition.name === 'splits');
    const mine = async () => (await live()).filter((s) => s.definitionId === def.id);
    expect((await ensureSubscriptions(h.ctx, urls)).errors).toEqual([]);
    const before = await mine();
    expect(before).toHaveLength(2);
    const [removed, other] = before;
    const body = await removedBody(removed.subscriptionId);
    await deleteAtGraph(removed.subscriptionId);

    const result = await handleLifecycle(h.ctx, body, { urls });

    expect(result.handled).toEqual([
      expect.objectContaining({ subscriptionId: removed.subscriptionId, action: 'recreated' }),
    ]);
    const after = await mine();
    expect(after.map((s) => s.listId).sort()).toEqual([removed.listId, other.listId].sort());
    expect(after.map((s) => s.subscriptionId)).not.toContain(removed.subscriptionId);
  });
});

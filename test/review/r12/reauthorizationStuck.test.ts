import {
  ensureSubscriptions,
  getStoredSubscription,
  handleLifecycle,
  listStoredSubscriptions,
} from '../../../src/core/subscriptions';
import type { Harness } from '../../support/engineHarness';
import { subscribedProjects, type receiver } from './support/receiver';

/**
 * handleLifecycle says "Graph failures are reported per entry, never thrown: the subscription timer repairs
 * whatever is left". When both the reauthorization and the fallback renewal of a `reauthorizationRequired` fail
 * (Graph 503 for a while), the row is left REAUTHORIZATION_REQUIRED; upkeep then looks only at the expiry and
 * answers `kept` for weeks, never reauthorizing or renewing. The status keeps showing REAUTHORIZATION_REQUIRED.
 */
describe('r12: a subscription left REAUTHORIZATION_REQUIRED is never repaired by upkeep', () => {
  let h: Harness;
  let endpoint: Awaited<ReturnType<typeof receiver>>;
  let urls: { notificationUrl: string; lifecycleNotificationUrl: string };
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ h, endpoint, urls, close } = await subscribedProjects());
  });

  afterAll(() => close?.());

  it('the next upkeep reauthorizes or renews it', async () => {
    const [sub] = await listStoredSubscriptions(h.db.pool);
    h.emulator.control.triggerLifecycle(sub.subscriptionId, 'reauthorizationRequired');
    const body = await endpoint.next();

    // Graph is unavailable for the subscription calls while the notification is handled.
    h.emulator.control.injectFault({ pathPattern: '^/subscriptions/', count: 100, status: 503 });
    const handled = await handleLifecycle(h.ctx, body, { urls });
    h.emulator.control.clearFaults();
    expect(handled.handled).toEqual([
      expect.objectContaining({ subscriptionId: sub.subscriptionId, action: 'failed' }),
    ]);
    expect((await getStoredSubscription(h.db.pool, sub.subscriptionId))?.state).toBe(
      'REAUTHORIZATION_REQUIRED',
    );

    // Graph is back. The subscription timer runs.
    h.emulator.control.clearRequestLog();
    const upkeep = await ensureSubscriptions(h.ctx, urls);
    expect(upkeep.errors).toEqual([]);
    const calls = h.emulator.control
      .requestLog()
      .filter((r) => r.path.startsWith(`/subscriptions/${sub.subscriptionId}`))
      .map((r) => `${r.method} ${r.path}`);
    const after = await getStoredSubscription(h.db.pool, sub.subscriptionId);
    expect({ action: upkeep.actions[0]?.action, calls: calls.length > 0, state: after?.state }).toEqual({
      action: expect.stringMatching(/renewed|recreated/),
      calls: true,
      state: 'ACTIVE',
    });
  });
});

import {
  acceptNotifications,
  claimPendingPull,
  NotificationBodyError,
  requestPull,
  STALE_PENDING_PULL_SECONDS,
} from '../../../src/core/subscriptions';
import type { TestDatabase } from '../../support/db';
import {
  defineStored,
  metaDatabase,
  notification,
  storeSubscription,
} from '../../functions/support/metaFixtures';

let db: TestDatabase;
let ordersId: string;
let itemsId: string;
let pausedId: string;

beforeAll(async () => {
  db = await metaDatabase();
  ordersId = await defineStored(db.pool, 'orders');
  itemsId = await defineStored(db.pool, 'items');
  pausedId = await defineStored(db.pool, 'paused', { pull: { enabled: false } });
  await storeSubscription(db.pool, {
    subscriptionId: 'sub-orders',
    definitionId: ordersId,
    clientState: 'orders-secret',
  });
  await storeSubscription(db.pool, {
    subscriptionId: 'sub-items',
    definitionId: itemsId,
    clientState: 'items-secret',
  });
  await storeSubscription(db.pool, {
    subscriptionId: 'sub-paused',
    definitionId: pausedId,
    clientState: 'paused-secret',
  });
});

afterAll(() => db.drop());

beforeEach(async () => {
  await db.pool.query('DELETE FROM arcore.pending_pulls');
});

async function pendingRows(): Promise<string[]> {
  const { rows } = await db.pool.query<{ id: string }>(
    'SELECT definition_id::text AS id FROM arcore.pending_pulls ORDER BY 1',
  );
  return rows.map((r) => r.id);
}

describe('I11 many notifications collapse into one pending pull', () => {
  it('turns a burst of 100 notifications for one list into one pull message', async () => {
    const body = { value: Array.from({ length: 100 }, () => notification('sub-orders', 'orders-secret')) };
    const result = await acceptNotifications(db.pool, body);
    expect(result.accepted).toBe(100);
    expect(result.enqueue).toEqual([{ definitionId: ordersId, definition: 'orders' }]);
    expect(await pendingRows()).toEqual([ordersId]);
  });

  it('enqueues nothing for 100 concurrent POSTs while one pull is already pending', async () => {
    const posts = Array.from({ length: 100 }, () =>
      acceptNotifications(db.pool, { value: [notification('sub-orders', 'orders-secret')] }),
    );
    const results = await Promise.all(posts);
    expect(results.flatMap((r) => r.enqueue)).toHaveLength(1);
  });

  it('enqueues exactly one follow-up for notifications that arrive while the pull runs', async () => {
    await acceptNotifications(db.pool, { value: [notification('sub-orders', 'orders-secret')] });
    expect(await claimPendingPull(db.pool, ordersId)).toBe(true);
    const during = await Promise.all(
      Array.from({ length: 20 }, () =>
        acceptNotifications(db.pool, { value: [notification('sub-orders', 'orders-secret')] }),
      ),
    );
    expect(during.flatMap((r) => r.enqueue)).toEqual([{ definitionId: ordersId, definition: 'orders' }]);
  });

  it('gives each list of a mixed body its own single pull', async () => {
    const body = {
      value: [
        notification('sub-orders', 'orders-secret'),
        notification('sub-items', 'items-secret'),
        notification('sub-orders', 'orders-secret'),
      ],
    };
    const result = await acceptNotifications(db.pool, body);
    expect(result.enqueue.map((e) => e.definition).sort()).toEqual(['items', 'orders']);
  });

  it('re-arms a pending pull whose message was evidently lost', async () => {
    expect(await requestPull(db.pool, ordersId, 'first')).toBe(true);
    expect(await requestPull(db.pool, ordersId, 'second')).toBe(false);
    await db.pool.query(
      `UPDATE arcore.pending_pulls SET requested_at = now() - make_interval(secs => $1 + 1) WHERE definition_id = $2`,
      [STALE_PENDING_PULL_SECONDS, ordersId],
    );
    expect(await requestPull(db.pool, ordersId, 'third')).toBe(true);
  });
});

describe('I12 notification authentication and bad input', () => {
  it('ignores a wrong clientState and enqueues nothing', async () => {
    const result = await acceptNotifications(db.pool, {
      value: [notification('sub-orders', 'items-secret')],
    });
    expect(result).toMatchObject({ accepted: 0, enqueue: [] });
    expect(result.ignored[0].reason).toMatch(/clientState/);
    expect(await pendingRows()).toEqual([]);
  });

  it('ignores a missing clientState', async () => {
    const result = await acceptNotifications(db.pool, { value: [notification('sub-orders', undefined)] });
    expect(result.enqueue).toEqual([]);
    expect(result.ignored).toHaveLength(1);
  });

  it('ignores an unknown subscription', async () => {
    const result = await acceptNotifications(db.pool, {
      value: [notification('sub-nobody', 'orders-secret')],
    });
    expect(result.enqueue).toEqual([]);
    expect(result.ignored[0]).toMatchObject({ reason: 'unknown subscription', subscriptionId: 'sub-nobody' });
  });

  it('keeps the valid notification next to malformed ones', async () => {
    const result = await acceptNotifications(db.pool, {
      value: [42, { subscriptionId: '' }, notification('sub-orders', 'orders-secret'), null],
    });
    expect(result.enqueue).toEqual([{ definitionId: ordersId, definition: 'orders' }]);
    expect(result.ignored.map((i) => i.index)).toEqual([0, 1, 3]);
  });

  it('does not pull a definition whose pull is disabled', async () => {
    const result = await acceptNotifications(db.pool, {
      value: [notification('sub-paused', 'paused-secret')],
    });
    expect(result.accepted).toBe(1);
    expect(result.enqueue).toEqual([]);
    expect(result.ignored[0].reason).toMatch(/disabled/);
  });

  it.each([null, 'text', [], {}, { value: 'x' }, { value: null }, { value: new Array(5001).fill(0) }])(
    'rejects the body %# with NotificationBodyError',
    async (body) => {
      await expect(acceptNotifications(db.pool, body)).rejects.toBeInstanceOf(NotificationBodyError);
    },
  );
});

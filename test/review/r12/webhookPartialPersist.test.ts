import { disabledTelemetry } from '../../../src/core/telemetry';
import { graphWebhook } from '../../../src/functions/graphWebhook';
import { pullQueueOutput } from '../../../src/functions/queues';
import { installRuntime } from '../../../src/functions/runtime';
import { invocation, postJson, queued } from '../../functions/support/invocation';
import {
  defineStored,
  notification,
  ordersFixture,
  storeSubscription,
  type OrdersFixture,
} from '../../functions/support/metaFixtures';

const URL = 'http://127.0.0.1:7071/api/graph/notifications';

/**
 * One POST from Graph carries the notifications of every subscription sharing our notificationUrl. The webhook
 * arms each definition's pending_pulls row one statement at a time (autocommit), then sets the queue output. When
 * persisting fails part-way, it answers 500 so that Graph retries, but the rows armed before the failure stay:
 * Graph's retry finds them pending ("a message is on its way", I11) and enqueues nothing for them. Their pull is
 * lost until the row goes stale (15 min) and another notification arrives, or the hourly safety pull.
 */
describe('r12: a webhook that fails part-way loses the pulls it armed before the failure', () => {
  let f: OrdersFixture;
  let uninstall: () => void;
  let invoicesId: string;

  beforeAll(async () => {
    f = await ordersFixture();
    invoicesId = await defineStored(f.db.pool, 'invoices');
    await storeSubscription(f.db.pool, {
      subscriptionId: 'sub-invoices',
      definitionId: invoicesId,
      clientState: 'right-too',
    });
    uninstall = installRuntime({ ctx: f.ctx, telemetry: disabledTelemetry, webhookUrls: {} });
  });

  afterAll(async () => {
    uninstall?.();
    await f?.close();
  });

  it("Graph's retry of the same body enqueues a pull for every definition it names", async () => {
    const body = { value: [notification('sub-orders', 'right'), notification('sub-invoices', 'right-too')] };
    // The store fails while the second definition's row is written (a lost connection, a statement timeout...).
    await f.db.pool.query(`CREATE FUNCTION r12_fail_pull() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected: the store failed while recording a pull'; END $$`);
    await f.db.pool.query(
      `CREATE TRIGGER fail_invoices BEFORE INSERT ON arcore.pending_pulls FOR EACH ROW
       WHEN (NEW.definition_id = ${Number(invoicesId)}) EXECUTE FUNCTION r12_fail_pull()`,
    );
    const first = invocation('graphWebhook');
    const failed = await graphWebhook(postJson(URL, body), first.context);
    expect(failed.status).toBe(500);
    expect(queued(first.context, pullQueueOutput)).toEqual([]);

    // The store is back; Graph delivers the same body again.
    await f.db.pool.query('DROP TRIGGER fail_invoices ON arcore.pending_pulls');
    const second = invocation('graphWebhook');
    expect((await graphWebhook(postJson(URL, body), second.context)).status).toBe(202);
    const sent = queued<{ definition: string }>(second.context, pullQueueOutput).map((m) => m.definition);
    expect(sent.sort()).toEqual(['invoices', 'orders']);
  });
});

import type { EngineContext } from '../../src/core/engine/types';
import { listRuns } from '../../src/core/ops';
import { owePulls } from '../../src/core/subscriptions';
import { disabledTelemetry } from '../../src/core/telemetry';
import { pullPoison } from '../../src/functions/pullPoison';
import { pullSafetyTimer } from '../../src/functions/pullSafetyTimer';
import { pullWorker } from '../../src/functions/pullWorker';
import { pushPoison } from '../../src/functions/pushPoison';
import { pushTimer } from '../../src/functions/pushTimer';
import { pushWorker } from '../../src/functions/pushWorker';
import { pullQueueOutput, pushQueueOutput } from '../../src/functions/queues';
import { installRuntime } from '../../src/functions/runtime';
import { subscriptionTimer } from '../../src/functions/subscriptionTimer';
import type { TestDatabase } from '../support/db';
import { invocation, queued, timer } from './support/invocation';
import { defineStored, metaDatabase, metaOnlyContext } from './support/metaFixtures';

let db: TestDatabase;
let ctx: EngineContext;
let closeCtx: () => Promise<void>;
let uninstall: () => void;
let everySecondId: string;
let newYearId: string;

beforeAll(async () => {
  db = await metaDatabase();
  everySecondId = await defineStored(db.pool, 'every-second', { schedule: '* * * * * *' });
  newYearId = await defineStored(db.pool, 'new-year', { schedule: '0 0 0 1 1 *', pull: { enabled: false } });
  await defineStored(db.pool, 'disabled', { schedule: '* * * * * *', enabled: false });
  ({ ctx, close: closeCtx } = await metaOnlyContext(db));
  uninstall = installRuntime({ ctx, telemetry: disabledTelemetry, webhookUrls: {} });
});

afterAll(async () => {
  uninstall();
  await closeCtx();
  await db.drop();
});

describe('pushTimer fan-out', () => {
  it('enqueues one message per enabled definition due by its own schedule', async () => {
    process.env.PUSH_SCHEDULE = '0 */5 * * * *';
    const { context, logs } = invocation('pushTimer');
    await pushTimer(timer, context);
    const messages = queued(context, pushQueueOutput);
    expect(messages).toEqual([
      expect.objectContaining({ definition: 'every-second', definitionId: everySecondId, trigger: 'timer' }),
    ]);
    expect(logs.map((l) => l.text).join('\n')).toMatch(/1 push\(es\) due/);
  });

  it('sends the pulls owed with no message on its way, once, for pull-enabled definitions only', async () => {
    await db.pool.query('DELETE FROM arcore.pending_pulls');
    await owePulls(
      db.pool,
      [everySecondId, newYearId].map((definitionId) => ({
        definitionId,
        definition: '',
        reason: 'late lifecycle',
      })),
    );
    const first = invocation('pushTimer');
    await pushTimer(timer, first.context);
    expect(queued(first.context, pullQueueOutput)).toEqual([
      expect.objectContaining({ definition: 'every-second', definitionId: everySecondId }),
    ]);
    const { rows } = await db.pool.query(
      'SELECT definition_id::text AS id, message_sent FROM arcore.pending_pulls ORDER BY definition_id',
    );
    expect(rows).toEqual([
      { id: everySecondId, message_sent: true },
      { id: newYearId, message_sent: false },
    ]);
    const second = invocation('pushTimer');
    await pushTimer(timer, second.context);
    expect(queued(second.context, pullQueueOutput)).toEqual([]);
    await db.pool.query('DELETE FROM arcore.pending_pulls');
  });
});

describe('pullSafetyTimer', () => {
  it('enqueues a pull for every enabled, pull-enabled definition and marks each pending', async () => {
    const { context } = invocation('pullSafetyTimer');
    await pullSafetyTimer(timer, context);
    expect(queued(context, pullQueueOutput)).toEqual([
      expect.objectContaining({ definition: 'every-second', definitionId: everySecondId, trigger: 'safety' }),
    ]);
    const { rows } = await db.pool.query('SELECT definition_id::text AS id FROM arcore.pending_pulls');
    expect(rows).toEqual([{ id: everySecondId }]);
  });
});

describe('workers and poison handlers', () => {
  it('drops malformed messages without throwing (a retry could never help)', async () => {
    for (const message of ['not json', { definition: '' }, 42, null]) {
      const push = invocation('pushWorker');
      await expect(pushWorker(message, push.context)).resolves.toBeNull();
      expect(push.logs.some((l) => l.level === 'error')).toBe(true);
      const pull = invocation('pullWorker');
      await expect(pullWorker(message, pull.context)).resolves.toBeNull();
    }
  });

  it('accepts the JSON string form of a message as well as the parsed one', async () => {
    const { context } = invocation('pushWorker');
    // A definition that no longer exists: the message is dropped, not retried.
    await expect(pushWorker(JSON.stringify({ definition: 'gone' }), context)).resolves.toBeNull();
  });

  it('claims the pending pull before running, even when the definition is gone', async () => {
    await db.pool.query(
      `INSERT INTO arcore.pending_pulls (definition_id, reason) VALUES ($1, 'x') ON CONFLICT DO NOTHING`,
      [newYearId],
    );
    const { context } = invocation('pullWorker');
    await expect(
      pullWorker({ definition: 'renamed-away', definitionId: newYearId, trigger: 'webhook' }, context),
    ).resolves.toBeNull();
    const { rows } = await db.pool.query('SELECT 1 FROM arcore.pending_pulls WHERE definition_id = $1', [
      newYearId,
    ]);
    expect(rows).toHaveLength(0);
  });

  it('records a poisoned push message as a FAILED push run', async () => {
    const { context } = invocation('pushPoison', { dequeueCount: 5 });
    const run = await pushPoison({ definition: 'every-second', trigger: 'timer' }, context);
    expect(run).toMatchObject({ runType: 'PUSH', status: 'FAILED' });
    expect(run?.error).toMatch(/retried 5 times and moved to the poison queue/);
    expect((await listRuns(db.pool, 'every-second', 1))[0].runId).toBe(run?.runId);
  });

  it('records a poisoned pull message and clears its pending row so notifications enqueue again', async () => {
    await db.pool.query(
      `INSERT INTO arcore.pending_pulls (definition_id, reason) VALUES ($1, 'x') ON CONFLICT DO NOTHING`,
      [everySecondId],
    );
    const { context } = invocation('pullPoison', { dequeueCount: 5 });
    const run = await pullPoison({ definition: 'every-second', definitionId: everySecondId }, context);
    expect(run).toMatchObject({ runType: 'PULL', status: 'FAILED' });
    const { rows } = await db.pool.query('SELECT 1 FROM arcore.pending_pulls WHERE definition_id = $1', [
      everySecondId,
    ]);
    expect(rows).toHaveLength(0);
  });

  it('ignores poisoned messages of definitions that no longer exist', async () => {
    const { context } = invocation('pushPoison');
    await expect(pushPoison({ definition: 'gone' }, context)).resolves.toBeNull();
  });
});

describe('subscriptionTimer', () => {
  it('does nothing without a notification URL (webhooks off: pulls come from the safety timer)', async () => {
    const { context, logs } = invocation('subscriptionTimer');
    await expect(subscriptionTimer(timer, context)).resolves.toBeNull();
    expect(logs[0].text).toMatch(/WEBHOOK_NOTIFICATION_URL is not set/);
  });
});

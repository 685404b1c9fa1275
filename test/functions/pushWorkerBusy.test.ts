import type { EngineContext } from '../../src/core/engine/types';
import { tryLockDefinition } from '../../src/core/store/locks';
import { disabledTelemetry } from '../../src/core/telemetry';
import { pushWorker } from '../../src/functions/pushWorker';
import { pushQueueOutput, type PushMessage } from '../../src/functions/queues';
import { installRuntime } from '../../src/functions/runtime';
import type { TestDatabase } from '../support/db';
import { invocation, queued } from './support/invocation';
import { defineStored, metaDatabase, metaOnlyContext } from './support/metaFixtures';

/**
 * I16 (docs/design.md): being busy is not failure, and the work is done later. A timer push that found its definition
 * busy (a long pull held the lock) was left to "the next timer tick", but the next tick that pushes a definition is
 * the next occurrence of its own schedule: with a daily schedule its Postgres changes waited a day more (found by
 * review). It is now sent again after the busy delay, as any other push, unless the definition's own schedule
 * pushes again within a few minutes (a schedule of minutes would pile up one retry chain per tick).
 */
let db: TestDatabase;
let ctx: EngineContext;
let closeCtx: () => Promise<void>;
let uninstall: () => void;

// A daily schedule whose occurrence is about 12 h away, and one of every minute.
const DAILY = `0 0 ${(new Date().getUTCHours() + 12) % 24} * * *`;
const EVERY_MINUTE = '0 * * * * *';

beforeAll(async () => {
  db = await metaDatabase();
  ({ ctx, close: closeCtx } = await metaOnlyContext(db));
  uninstall = installRuntime({ ctx, telemetry: disabledTelemetry, webhookUrls: {} });
});

afterAll(async () => {
  uninstall();
  await closeCtx();
  await db.drop();
});

/** A timer push of `name` while another run holds the definition's lock: what the worker sent and said. */
async function busyTimerPush(name: string, schedule: string) {
  const id = await defineStored(db.pool, name, { schedule });
  const lock = await tryLockDefinition(db.pool, id);
  expect(lock).not.toBeNull();
  const { context, logs } = invocation('pushWorker');
  try {
    const summary = await pushWorker({ definition: name, definitionId: id, trigger: 'timer' }, context);
    expect(summary?.status).toBe('SKIPPED');
  } finally {
    await lock?.release();
  }
  return {
    sent: queued<PushMessage>(context, pushQueueOutput),
    said: logs.map((l) => l.text).find((t) => /busy/.test(t)) ?? '',
  };
}

describe('a timer push that finds its definition busy', () => {
  it('is sent again when its own schedule does not push again soon (a daily schedule)', async () => {
    const { sent, said } = await busyTimerPush('daily', DAILY);
    expect(sent).toEqual([expect.objectContaining({ definition: 'daily', trigger: 'timer', hops: 1 })]);
    expect(Date.parse(sent[0].notBefore ?? '')).toBeGreaterThan(Date.now());
    expect(said).toMatch(/daily is busy; sent again for /);
  });

  it('is left to its next scheduled push when that comes within minutes', async () => {
    const { sent, said } = await busyTimerPush('minutely', EVERY_MINUTE);
    expect(sent).toEqual([]);
    expect(said).toMatch(
      /minutely is busy; its next scheduled push \(within 5 minutes\) pushes what is left/,
    );
  });
});

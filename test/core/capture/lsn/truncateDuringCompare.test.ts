import { openTruncates } from '../../../../src/core/capture/lsn';
import { runPush } from '../../../../src/core/engine/push';
import { resetCursor } from '../../../../src/core/ops/cursors';
import { getDefinition } from '../../../../src/core/store/definitions';
import { closeCapturing, lsnDefinition } from '../../../support/capture';
import { startHarness, type Harness } from '../../../support/engineHarness';

/**
 * docs/design.md I17: a TRUNCATE that commits after the look at the slot for TRUNCATEs (its upto_lsn) and before the
 * full comparison that ends a load reads the table looked to the comparison like every row deleted, and it deleted
 * their items under PARK (found by review). The comparison now checks the table's storage before it deletes; a
 * TRUNCATE changes it, and the slot is looked at again. The hook (a wrapper over the real function) commits a real
 * TRUNCATE at that instant; a comparison of a big ledger runs chunk by chunk for minutes, so the window is real.
 */
const hook: { afterPeek: (() => Promise<void>) | null } = { afterPeek: null };
jest.mock('../../../../src/core/capture/lsn/pendingTruncates', () => {
  const actual = jest.requireActual('../../../../src/core/capture/lsn/pendingTruncates');
  return {
    ...actual,
    recordPendingTruncates: async (...args: unknown[]) => {
      const found = await actual.recordPendingTruncates(...args);
      if (hook.afterPeek) {
        const f = hook.afterPeek;
        hook.afterPeek = null;
        await f();
      }
      return found;
    },
  };
});

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => closeCapturing(h));

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });

it('a TRUNCATE committed while the load’s comparison runs is parked, not taken for deletes (deletes.truncate PARK)', async () => {
  await h.db.pool.query(`CREATE TABLE racetrunc (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
  await h.db.pool.query(`INSERT INTO racetrunc VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)`);
  await h.define(lsnDefinition('racetrunc')); // PARK by default
  expect(await push('racetrunc')).toMatchObject({ status: 'SUCCEEDED', created: 3 });

  // An ordinary reload (reset-cursor; a lost or invalidated slot or a routes change take the same path).
  await resetCursor(h.db.pool, 'racetrunc', 'source');
  hook.afterPeek = async () => {
    await h.db.pool.query('TRUNCATE racetrunc');
  };
  const run = await push('racetrunc');
  expect(run.status).toBe('SUCCEEDED');
  // PARK: nothing deleted until an operator decides.
  expect(run.deleted).toBe(0);
  expect((await h.items('racetrunc')).length).toBe(3);
  // and the TRUNCATE met later in the slot is parked
  await push('racetrunc');
  const stored = await getDefinition(h.db.pool, 'racetrunc');
  expect(await openTruncates(h.db.pool, stored.id)).toMatchObject([{ decision: null }]);
  expect((await h.items('racetrunc')).length).toBe(3);
});

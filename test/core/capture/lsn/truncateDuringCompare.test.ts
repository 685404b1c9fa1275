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

/** Comparison chunks of 2 ledger entries, so that a TRUNCATE can come between two of them. */
jest.mock('../../../../src/core/source/postgres/tombstones', () => ({
  ...jest.requireActual('../../../../src/core/source/postgres/tombstones'),
  DELETE_CHUNK_ROWS: 2,
}));

/** Runs once, as a comparison chunk's storage check has read the storage (a wrapper over the real function). */
const storageHook: { once: (() => Promise<void>) | null; reads: number } = { once: null, reads: 0 };
jest.mock('../../../../src/core/capture/lsn/storage', () => {
  const actual = jest.requireActual('../../../../src/core/capture/lsn/storage');
  return {
    ...actual,
    readStorage: async (...args: unknown[]) => {
      const storage = await actual.readStorage(...args);
      storageHook.reads++;
      // Read 1: before the look at the slot; read 2: the first chunk that found a row gone, which passes.
      if (storageHook.once && storageHook.reads === 2) {
        const once = storageHook.once;
        storageHook.once = null;
        await once();
      }
      return storage;
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

/**
 * The TRUNCATE comes between two chunks of the comparison (the first chunk passed its check). The comparison starts
 * again once the slot was looked at: rows the chunks before passed were there then and are gone now, and under
 * PROPAGATE their items go too. It continued from its last chunk and left them (found by review).
 */
it('a TRUNCATE between two chunks of the comparison, under PROPAGATE, deletes every truncated row’s item', async () => {
  await h.db.pool.query(`CREATE TABLE midtrunc (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
  await h.db.pool.query(`INSERT INTO midtrunc SELECT g, 'n' || g, g FROM generate_series(1, 12) g`);
  await h.define(lsnDefinition('midtrunc', { deletes: { truncate: 'PROPAGATE' } }));
  expect(await push('midtrunc')).toMatchObject({ status: 'SUCCEEDED', created: 12 });
  await resetCursor(h.db.pool, 'midtrunc', 'source');
  // Rows deleted before the reload: the comparison finds some gone in its first chunks (each such chunk is checked).
  await h.db.pool.query(`DELETE FROM midtrunc WHERE id % 2 = 0`);
  storageHook.reads = 0;
  storageHook.once = async () => {
    await h.db.pool.query('TRUNCATE midtrunc');
  };
  expect(await push('midtrunc')).toMatchObject({ status: 'SUCCEEDED' });
  expect(storageHook.once).toBeNull();
  await push('midtrunc');
  expect(await h.items('midtrunc')).toEqual([]);
});

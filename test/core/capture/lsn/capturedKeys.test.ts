import { runPush } from '../../../../src/core/engine/push';
import { closeCapturing } from '../../../support/capture';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * Captured keys the engine cannot sync (docs/design.md I12, I13, I17): the LSN push treats them as the load and a
 * TIMESTAMP push do, parked with their reason, and the other changes go on.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => closeCapturing(h));

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });

/**
 * I12/I17: a row whose key the engine cannot use (here a date key holding Postgres's 'infinity', the usual "still
 * valid" sentinel of history tables) is parked with its reason by the load and by a TIMESTAMP push, and the other
 * rows go on. In an LSN push, applyKeys computes the identity of every captured key to find the deleted ones,
 * outside the page's per-row handling: the IdentityKeyError fails the run before the slot moves, so every later push
 * meets the same change and fails again: every change after that page is never pushed, the slot holds WAL, and the
 * definition is stuck until someone changes the row's key.
 */
it('a captured row with an unusable key is parked and the other changes are pushed', async () => {
  await h.db.pool.query(
    `CREATE TABLE hist (code text, valid_to date, name text, PRIMARY KEY (code, valid_to))`,
  );
  await h.db.pool.query(`INSERT INTO hist VALUES ('a', '2025-01-01', 'a then')`);
  await h.define({
    name: 'hist',
    source: { table: 'hist', key: ['code', 'valid_to'], cursor: { type: 'LSN' }, pageSize: 2 },
    target: { site: SITE, list: 'hist' },
    fields: [{ source: 'name', target: 'Title' }],
  });
  expect(await push('hist')).toMatchObject({ status: 'SUCCEEDED', created: 1 });

  await h.db.pool.query(`INSERT INTO hist VALUES ('a', 'infinity', 'a now'), ('b', '2026-01-01', 'b')`);
  const run = await push('hist');
  await h.db.pool.query(`INSERT INTO hist VALUES ('c', '2026-01-01', 'c')`);
  const next = await push('hist');
  expect((await h.items('hist')).map((i) => String(i.fields.Title)).sort()).toEqual(['a then', 'b', 'c']);
  expect([run.error, next.error]).toEqual([null, null]);
  // As the load does with such a row: parked, naming the key.
  const { rows } = await h.db.pool.query<{ error: string }>(
    `SELECT last_error AS error FROM arcore.sync_failures WHERE status = 'PARKED' AND direction = 'PUSH'`,
  );
  expect(rows.map((r) => r.error).join(' ')).toMatch(/infinit/);
  // Its delete names no item (it was never synced) and stops nothing either.
  await h.db.pool.query(`DELETE FROM hist WHERE valid_to = 'infinity'`);
  expect(await push('hist')).toMatchObject({ status: 'SUCCEEDED', error: null, deleted: 0 });
});

async function parkedNullKeys(): Promise<number> {
  const { rows } = await h.db.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM arcore.sync_failures WHERE status = 'PARKED' AND item_key = 'null-key'`,
  );
  return Number(rows[0].n);
}

/**
 * I13: "A row with NULL in a key column is parked (one `null-key` record per definition, resolved
 * once no such row is left)". The LSN load and a TIMESTAMP push do so. A row inserted with a NULL key after the load
 * reaches the LSN push as a change whose key ChangeFolder cannot render (keyOf returns null), and is dropped without
 * a word: nothing parked, nothing reported, the run SUCCEEDED.
 */
it('a row inserted with a NULL key after the load is reported as the load reports it', async () => {
  await h.db.pool.query(`CREATE TABLE nullable (id serial PRIMARY KEY, code text UNIQUE, name text)`);
  await h.db.pool.query('ALTER TABLE nullable REPLICA IDENTITY FULL');
  await h.db.pool.query(`INSERT INTO nullable (code, name) VALUES ('A', 'alpha')`);
  await h.define({
    name: 'nullable',
    source: { table: 'nullable', key: ['code'], cursor: { type: 'LSN' } },
    target: { site: SITE, list: 'nullable' },
    fields: [{ source: 'name', target: 'Title' }],
  });
  expect(await push('nullable')).toMatchObject({ status: 'SUCCEEDED', created: 1 });

  await h.db.pool.query(`INSERT INTO nullable (code, name) VALUES (NULL, 'no key yet')`);
  const run = await push('nullable');
  expect(await parkedNullKeys()).toBe(1);
  expect(run.failed).toBe(1);
  // Deleted again: nothing was synced, so nothing is deleted and no full comparison is owed.
  await h.db.pool.query(`DELETE FROM nullable WHERE code IS NULL`);
  const deleted = await push('nullable');
  expect(deleted).toMatchObject({ status: 'SUCCEEDED', deleted: 0 });
  expect(await h.items('nullable')).toHaveLength(1);
});

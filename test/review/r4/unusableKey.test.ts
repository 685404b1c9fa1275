import { runPush } from '../../../src/core/engine/push';
import { dropCaptureObjects } from '../../support/capture';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * I12/I17: a row whose key the engine cannot use (here a date key holding Postgres's 'infinity', the usual "still
 * valid" sentinel of history tables) is parked with its reason by the load and by a TIMESTAMP push, and the other
 * rows go on. In an LSN push, applyKeys computes the identity of every captured key to find the deleted ones,
 * outside the page's per-row handling: the IdentityKeyError fails the run before the slot moves, so every later push
 * meets the same change and fails again: every change after that page is never pushed, the slot holds WAL, and the
 * definition is stuck until someone changes the row's key.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await dropCaptureObjects(h.db.pool);
  await h.close();
});

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });

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
    `SELECT error FROM arcore.sync_failures WHERE status = 'PARKED' AND direction = 'PUSH'`,
  );
  expect(rows.map((r) => r.error).join(' ')).toMatch(/infinit/);
});

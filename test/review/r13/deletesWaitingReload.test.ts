/**
 * Review r13 (f1): `deletesWaiting` (run details, `status`, the CLI's "deletes waiting" line) counts tombstone rows
 * left unread, not deletes owed. A table reloaded the common way (DELETE every row, INSERT them again, same keys)
 * leaves a tombstone per row although no row is missing; a time-sliced push then reports that many "delete(s)
 * recorded in Postgres not yet applied to SharePoint" and marks itself incomplete for them, while nothing is to be
 * deleted and the next push deletes nothing.
 */
import { runPush } from '../../../src/core/engine/push';
import { definitionStatus } from '../../../src/core/ops/status';
import { startHarness, type Harness } from '../../support/engineHarness';
import { pushedTwoProjects } from '../../support/projects';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

it('a table reloaded with the same rows shows no deletes waiting after a time-sliced push', async () => {
  const name = 'r13_reload';
  await pushedTwoProjects(h, name, { tombstones: true, source: { pageSize: 50, overlapSeconds: 0 } });
  // More rows than one chunk of tombstones (DELETE_CHUNK_ROWS, 1000), all synced.
  await h.db.pool.query(
    `INSERT INTO ${name} (id, name) SELECT g, 'row ' || g FROM generate_series(10, 1109) g`,
  );
  expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 1100, complete: true });

  // The nightly reload: every row deleted and inserted again, unchanged.
  await h.db.pool.query(`CREATE TEMP TABLE r13_copy AS SELECT id, name, budget FROM ${name}`);
  await h.db.pool.query(`DELETE FROM ${name}`);
  await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) SELECT id, name, budget FROM r13_copy`);

  const sliced = await runPush(h.ctx, name, { trigger: 'test', maxSeconds: 0.001 });
  const [status] = await definitionStatus(h.db.pool, name);
  const next = await runPush(h.ctx, name, { trigger: 'test' });
  expect({ deleted: next.deleted, items: (await h.items(name)).length }).toEqual({ deleted: 0, items: 1102 });
  expect({ slicedDeleted: sliced.deleted, deletesWaiting: status.deletesWaiting }).toEqual({
    slicedDeleted: 0,
    deletesWaiting: 0,
  });
});

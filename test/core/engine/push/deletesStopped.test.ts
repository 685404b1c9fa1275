/**
 * I8, I16 (docs/design.md): the deletes of a push whose time budget stops them part-way (a 429 block or the budget's
 * pacing beyond the deadline, met before a batch leaves). The batches that went through are recorded before the run
 * stops. They used to be forgotten with the rest: the ledger kept those items, and a row inserted again under the
 * same key was then taken for one whose item had been deleted in SharePoint.
 */
import { runPush } from '../../../../src/core/engine/push';
import type { ProgressEvent } from '../../../../src/core/engine/types';
import { throttleAfterFirstBatch } from '../../../support/faults';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { defineProjects, ledgerCount, tombstoneCount } from '../../../support/projects';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

/**
 * A context of its own, as a new instance's (its throttle gate has read nothing yet), sending one request at a time:
 * the second delete batch leaves only after the first is answered.
 */
const instance = (onProgress?: (e: ProgressEvent) => void) =>
  h.otherInstance({ GRAPH_MAX_CONCURRENCY: '1' }, onProgress);

const titles = async (list: string) => (await h.items(list)).map((i) => String(i.fields.Title)).sort();

it('a delete step stopped between its batches keeps what the first did; the row inserted again gets a new item', async () => {
  await defineProjects(h, 'stopped', { tombstones: true });
  await h.db.pool.query("INSERT INTO stopped (id, name) SELECT g, 'row ' || g FROM generate_series(1, 40) g");
  expect(await runPush(h.ctx, 'stopped', { trigger: 'test' })).toMatchObject({
    status: 'SUCCEEDED',
    created: 40,
  });

  await h.db.pool.query('DELETE FROM stopped');
  // The first delete batch (20 deletes) goes through; the second is answered 429 asking for 2 minutes, beyond the
  // run's 5 s: the run stops before sending anything more.
  const first = await instance(throttleAfterFirstBatch(h.emulator, 120));
  const stopped = await runPush(first.ctx, 'stopped', { trigger: 'test', maxSeconds: 5 }).finally(() =>
    first.close(),
  );
  expect(stopped).toMatchObject({ status: 'SUCCEEDED', complete: false, error: null });
  const left = await titles('stopped');
  expect(left).toHaveLength(20);
  // The ledger holds the pairs of the 20 items left, not of the 20 deleted.
  expect(await ledgerCount(h, 'stopped')).toBe(20);
  expect(stopped.deleted).toBe(20);
  // Every tombstone waits for the next run (those of the deleted rows find no pair there and are simply consumed).
  expect(await tombstoneCount(h, 'stopped')).toBe(40);

  // A row whose item the stopped run deleted is inserted again under its key before the next run.
  const deletedRow = Array.from({ length: 40 }, (_, i) => i + 1).find(
    (id) => !left.includes(`row ${id}`),
  ) as number;
  await h.db.pool.query("INSERT INTO stopped (id, name) VALUES ($1, 'back again')", [deletedRow]);
  // The block is over (another instance runs the next push: this process's gate may still have it cached).
  await h.db.pool.query('UPDATE arcore.graph_throttle SET blocked_until = now()');
  const second = await instance();
  const next = await runPush(second.ctx, 'stopped', { trigger: 'test' }).finally(() => second.close());
  expect(next).toMatchObject({ status: 'SUCCEEDED', complete: true, created: 1, deleted: 20, failed: 0 });
  expect(await titles('stopped')).toEqual(['back again']);
  const { rows } = await h.db.pool.query('SELECT id, name FROM stopped');
  expect(rows).toEqual([{ id: deletedRow, name: 'back again' }]);
  expect(await tombstoneCount(h, 'stopped')).toBe(0);
});

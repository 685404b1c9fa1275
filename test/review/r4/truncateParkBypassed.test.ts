import { openTruncates } from '../../../src/core/capture/lsn';
import { runPush } from '../../../src/core/engine/push';
import { resetCursor } from '../../../src/core/ops/cursors';
import { getDefinition } from '../../../src/core/store/definitions';
import { dropCaptureObjects, lsnDefinition } from '../../support/capture';
import { startHarness, type Harness } from '../../support/engineHarness';

/**
 * I8/I17, deletes.truncate PARK: "records it and stops the pushes at it until truncate-decide decides PROPAGATE
 * or IGNORE". A parked TRUNCATE holds every later change in the slot, so its WAL grows; docs/deploy.md tells the
 * operator "to free WAL, prefer arcore-sync reset-cursor NAME --scope source" (and a slot lost or invalidated
 * meanwhile, or a routes change, takes the same path). The re-read's full comparison then deletes every item of the
 * truncated table under deletes.push: the TRUNCATE is propagated with no decision, exactly what PARK is for.
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

it('a full re-read while a TRUNCATE is parked does not delete the items the TRUNCATE would', async () => {
  await h.db.pool.query(`CREATE TABLE heldtrunc (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
  await h.db.pool.query(`INSERT INTO heldtrunc VALUES (1, 'a', 1), (2, 'b', 2)`);
  await h.define(lsnDefinition('heldtrunc')); // deletes.truncate defaults to PARK
  expect(await push('heldtrunc')).toMatchObject({ status: 'SUCCEEDED', created: 2 });

  await h.db.pool.query('TRUNCATE heldtrunc'); // a mistake, say: PARK is there to stop it reaching SharePoint
  expect(await push('heldtrunc')).toMatchObject({ status: 'SUCCEEDED', deleted: 0 });
  const stored = await getDefinition(h.db.pool, 'heldtrunc');
  expect(await openTruncates(h.db.pool, stored.id)).toMatchObject([{ decision: null }]);

  // The slot holds WAL behind the parked TRUNCATE: the operator frees it as docs/deploy.md advises.
  await resetCursor(h.db.pool, 'heldtrunc', 'source');
  const reread = await push('heldtrunc');

  // Nobody decided the TRUNCATE: the items stay until truncate-decide says PROPAGATE.
  expect(reread.deleted).toBe(0);
  expect((await h.items('heldtrunc')).map((i) => String(i.fields.Title)).sort()).toEqual(['a', 'b']);
});

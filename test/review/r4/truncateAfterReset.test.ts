import { decideTruncate, openTruncates } from '../../../src/core/capture/lsn';
import { probeIdle } from '../../../src/core/engine/idle';
import { runPush } from '../../../src/core/engine/push';
import { resetCursor } from '../../../src/core/ops/cursors';
import { getDefinition } from '../../../src/core/store/definitions';
import { dropCaptureObjects, lsnDefinition } from '../../support/capture';
import { startHarness, type Harness } from '../../support/engineHarness';

/**
 * I17/I18: a TRUNCATE parked under deletes.truncate PARK is recorded in arcore.capture_truncates and applied only
 * when a push meets it in the slot again. When the slot is replaced instead (reset-cursor, which re-reads the
 * table and compares it with the ledger; or a slot lost or dropped while the parked TRUNCATE held it back; a switch
 * to TIMESTAMP and back), the new slot starts after the TRUNCATE: the record stays open for ever (a
 * `truncate-decide` is recorded but never applied), so the idle probe answers "open TRUNCATE" on every scheduled
 * push: a full run each minute, for ever.
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

it('a parked TRUNCATE whose slot was replaced does not keep the definition busy for ever', async () => {
  await h.db.pool.query(`CREATE TABLE parked (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
  await h.db.pool.query(`INSERT INTO parked VALUES (1, 'a', 1), (2, 'b', 2)`);
  await h.define(lsnDefinition('parked'));
  expect(await push('parked')).toMatchObject({ status: 'SUCCEEDED', created: 2 });

  await h.db.pool.query('TRUNCATE parked');
  await h.db.pool.query(`INSERT INTO parked VALUES (3, 'after', 3)`);
  expect(await push('parked')).toMatchObject({ status: 'SUCCEEDED', created: 0, deleted: 0 });
  const stored = await getDefinition(h.db.pool, 'parked');
  expect(await openTruncates(h.db.pool, stored.id)).toHaveLength(1);

  // The operator has the table re-read and compared (docs/deploy.md: "to free WAL, prefer arcore-sync
  // reset-cursor NAME --scope source"; a parked TRUNCATE holds every later change, so its slot grows).
  await resetCursor(h.db.pool, 'parked', 'source');
  await push('parked');
  // Whatever the re-read did with the parked TRUNCATE, an operator deciding it (when it still waits) settles it.
  if ((await openTruncates(h.db.pool, stored.id)).some((t) => t.decision === null))
    await decideTruncate(h.db.pool, stored.id, 'parked', 'PROPAGATE', 'test');
  await push('parked');
  expect((await h.items('parked')).map((i) => String(i.fields.Title))).toEqual(['after']);
  expect(await push('parked')).toMatchObject({ status: 'SUCCEEDED', processed: 0 });

  // Everything is in sync: nothing waits any more, and the probe finds the definition idle.
  expect(await openTruncates(h.db.pool, stored.id)).toHaveLength(0);
  expect((await probeIdle(h.ctx, 'parked'))?.busy).toEqual([]);
});

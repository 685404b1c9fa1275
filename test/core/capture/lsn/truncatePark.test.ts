import { decideTruncate, openTruncates } from '../../../../src/core/capture/lsn';
import { probeIdle } from '../../../../src/core/engine/idle';
import { runPush } from '../../../../src/core/engine/push';
import { resetCursor } from '../../../../src/core/ops/cursors';
import { getDefinition } from '../../../../src/core/store/definitions';
import { closeCapturing, lsnDefinition } from '../../../support/capture';
import { startHarness, type Harness } from '../../../support/engineHarness';

/**
 * deletes.truncate PARK (docs/design.md I8, I17, I18): "records it and stops the pushes at it until truncate-decide decides
 * PROPAGATE or IGNORE". The record (arcore.capture_truncates) is applied only when a push meets the TRUNCATE in the
 * slot again. A parked TRUNCATE holds every later change in the slot, so its WAL grows, and docs/deploy.md tells the
 * operator "to free WAL, prefer arcore-sync reset-cursor NAME --scope source"; a slot lost, dropped or invalidated
 * meanwhile, a routes change (load again) and a switch to TIMESTAMP take the same path: a new slot that starts after
 * the TRUNCATE, a load, and a full comparison of the ledger with the table.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => closeCapturing(h));

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });

// The full comparison deletes every item of the truncated table under deletes.push: the TRUNCATE is propagated
// with no decision, exactly what PARK is for.
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

  // Nobody decided the TRUNCATE: the items stay until truncate-decide says PROPAGATE, and the run says so.
  expect(reread.deleted).toBe(0);
  expect((await h.items('heldtrunc')).map((i) => String(i.fields.Title)).sort()).toEqual(['a', 'b']);
  const { rows } = await h.db.pool.query<{ message: string }>(
    `SELECT details->'truncateParked'->>'message' AS message FROM arcore.sync_runs WHERE id = $1`,
    [reread.runId],
  );
  expect(rows[0].message).toMatch(/comparison .* is held .*truncate-decide heldtrunc --propagate/);
  // Held, the comparison makes no scheduled push a run; once decided, the next push deletes the items.
  expect((await probeIdle(h.ctx, 'heldtrunc'))?.busy).not.toContain('delete comparison owed');
  await decideTruncate(h.db.pool, stored.id, 'heldtrunc', 'PROPAGATE', 'test');
  expect(await push('heldtrunc')).toMatchObject({ status: 'SUCCEEDED', deleted: 2 });
  expect(await h.items('heldtrunc')).toEqual([]);
  expect(await openTruncates(h.db.pool, stored.id)).toEqual([]);
});

// The new slot never meets the TRUNCATE again: its record stays open for ever (a truncate-decide is recorded but
// never applied), so the idle probe answers "open TRUNCATE" on every scheduled push: a full run each minute.
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
  // The re-read held the parked TRUNCATE's deletes; the operator decides it.
  await decideTruncate(h.db.pool, stored.id, 'parked', 'PROPAGATE', 'test');
  await push('parked');
  expect((await h.items('parked')).map((i) => String(i.fields.Title))).toEqual(['after']);
  expect(await push('parked')).toMatchObject({ status: 'SUCCEEDED', processed: 0 });

  // Everything is in sync: nothing waits any more, and the probe finds the definition idle.
  expect(await openTruncates(h.db.pool, stored.id)).toHaveLength(0);
  // (A lag bound far above this test's WAL: the cluster is shared, and other tests' WAL would put the slot behind,
  // as idle.test.ts sets it too.)
  expect((await probeIdle({ ...h.ctx, idleSlotLagBytes: 1024 ** 3 }, 'parked'))?.busy).toEqual([]);
});

// A switch to TIMESTAMP drops the slot and compares the whole table: the same bypass. It waits for the decision.
it('a switch to TIMESTAMP while a TRUNCATE is parked waits for truncate-decide', async () => {
  await h.db.pool.query(`CREATE TABLE leaving (id integer PRIMARY KEY, name text, budget numeric(12,2),
    updated_at timestamptz NOT NULL DEFAULT now())`);
  await h.db.pool.query(`INSERT INTO leaving (id, name, budget) VALUES (1, 'a', 1), (2, 'b', 2)`);
  await h.define(lsnDefinition('leaving'));
  expect(await push('leaving')).toMatchObject({ status: 'SUCCEEDED', created: 2 });
  await h.db.pool.query('TRUNCATE leaving');
  expect(await push('leaving')).toMatchObject({ status: 'SUCCEEDED', deleted: 0 });

  await h.define(
    lsnDefinition('leaving', {
      source: { table: 'leaving', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    }),
  );
  const refused = await push('leaving');
  expect(refused.status).toBe('FAILED');
  expect(refused.error).toContain('truncate-decide leaving --propagate or --ignore');
  const stored = await getDefinition(h.db.pool, 'leaving');
  expect(await h.items('leaving')).toHaveLength(2);
  await decideTruncate(h.db.pool, stored.id, 'leaving', 'PROPAGATE', 'test');
  expect(await push('leaving')).toMatchObject({ status: 'SUCCEEDED', deleted: 2 });
  expect(await openTruncates(h.db.pool, stored.id)).toEqual([]);
});

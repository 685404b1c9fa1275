import { runPush } from '../../../../src/core/engine/push';
import { resetCursor } from '../../../../src/core/ops/cursors';
import { closeCapturing, lsnDefinition } from '../../../support/capture';
import { startHarness, type Harness } from '../../../support/engineHarness';

/**
 * docs/design.md I17 own writes: a push's conflict writes into Postgres mark their session with the definition's replication
 * origin (pg_replication_origin_session_setup). An origin is active in ONE session at a time. The LSN load (a new
 * definition, a switch from TIMESTAMP, reset-cursor, a lost slot) writes two pages at once (PageWindow depth 2), so
 * two pages meeting 412s settle their conflicts at the same time, each in inSourceTx on its own connection: the
 * second session's setup fails with "replication origin with ID n is already active for PID m" (55006), which is
 * no row refusal, and the run fails.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => closeCapturing(h));

const ROWS = 10;

it('conflicts settled on two pages written at once do not fail the run on the replication origin', async () => {
  await h.db.pool.query(`CREATE TABLE twopages (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
  await h.db.pool.query(`INSERT INTO twopages SELECT g, 'pg' || g, g FROM generate_series(1, ${ROWS}) g`);
  await h.define(
    lsnDefinition('twopages', {
      source: { table: 'twopages', key: ['id'], cursor: { type: 'LSN' }, pageSize: 1 },
      conflictPolicy: 'DESTINATION_WINS',
    }),
  );
  expect(await runPush(h.ctx, 'twopages', { trigger: 'test' })).toMatchObject({
    status: 'SUCCEEDED',
    created: ROWS,
  });

  // Both sides edit every row's Title; then the table is re-read and compared (here: reset-cursor).
  for (const item of await h.items('twopages')) {
    const edited = await h.asUser('PATCH', `/sites/${h.siteId}/lists/twopages/items/${item.id}/fields`, {
      Title: `sp${String(item.fields.Title).slice(2)}`,
    });
    expect(edited.status).toBe(200);
  }
  await h.db.pool.query(`UPDATE twopages SET name = 'pg-edit' || id`);
  await resetCursor(h.db.pool, 'twopages', 'source');

  const run = await runPush(h.ctx, 'twopages', { trigger: 'test' });
  expect(run.error).toBeNull();
  expect(run).toMatchObject({ status: 'SUCCEEDED', conflicts: ROWS });
  const { rows } = await h.db.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM twopages WHERE name = 'sp' || id`,
  );
  expect(Number(rows[0].n)).toBe(ROWS); // SharePoint's values won everywhere
});

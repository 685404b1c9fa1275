import { runPush } from '../../../../src/core/engine/push';
import { closeCapturing, lsnDefinition } from '../../../support/capture';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { startOwnPostgres, type OwnPostgres } from '../../../support/ownPostgres';

/**
 * A server whose max_replication_slots are all taken: Postgres answers only "all replication slots are in use", and
 * that was the run's whole error (found by review), naming neither the setting nor a way on. The push now names the
 * setting, its value, the slots taking it and the two ways on (capture/lsn/slot.ts, createSlot). A server of its own:
 * the setting needs a restart.
 */
let pg: OwnPostgres;
let h: Harness;
beforeAll(async () => {
  pg = await startOwnPostgres({ wal_level: 'logical', max_replication_slots: '1' });
  h = await startHarness({}, pg.adminUrl);
}, 60000);
afterAll(async () => {
  await closeCapturing(h);
  await pg.stop();
});

it('a push that cannot create its slot names max_replication_slots, the slots in use and the ways on', async () => {
  for (const name of ['first_def', 'second_def']) {
    await h.db.pool.query(`CREATE TABLE ${name} (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
    await h.define(lsnDefinition(name));
  }
  expect(await runPush(h.ctx, 'first_def', { trigger: 'test' })).toMatchObject({ status: 'SUCCEEDED' });
  const second = await runPush(h.ctx, 'second_def', { trigger: 'test' });
  expect(second.status).toBe('FAILED');
  expect(second.error).toMatch(
    /^Definition "second_def": cannot create replication slot "arcore_\w+_second_def" for change data capture: all 1 replication slots of the server \(max_replication_slots\) are in use: arcore_\w+_first_def \(inactive\)\. Raise max_replication_slots/,
  );
  expect(second.error).toContain("SELECT pg_drop_replication_slot('<name>')");
  expect(second.errorKind).toBe('invalid_input');
}, 60000);

import { lsnNames } from '../../../../src/core/capture/lsn';
import { runPush } from '../../../../src/core/engine/push';
import { getDefinition } from '../../../../src/core/store/definitions';
import { readInstallationId } from '../../../../src/core/store/installation';
import { closeCapturing } from '../../../support/capture';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';
import { startOwnPostgres, type OwnPostgres } from '../../../support/ownPostgres';

/**
 * A slot the server invalidated (max_slot_wal_keep_size exceeded, wal_status "lost"): the push falls back to a
 * full re-read and compare, says so, and duplicates nothing. A server of its own, since the setting and the
 * WAL it takes to exceed it would disturb the shared one.
 */
let pg: OwnPostgres;
let h: Harness;

beforeAll(async () => {
  pg = await startOwnPostgres({ wal_level: 'logical', max_slot_wal_keep_size: '1MB', wal_keep_size: '0' });
  h = await startHarness({}, pg.adminUrl);
}, 60000);

afterAll(async () => {
  await closeCapturing(h);
  await pg.stop();
});

it('an invalidated slot is replaced by a full re-read and compare, without duplicates', async () => {
  await h.db.pool.query(`CREATE TABLE gone (id integer PRIMARY KEY, name text)`);
  await h.db.pool.query(`INSERT INTO gone VALUES (1, 'a'), (2, 'b')`);
  await h.define({
    name: 'gone',
    source: { table: 'gone', key: ['id'], cursor: { type: 'LSN' } },
    target: { site: SITE, list: 'gone' },
    fields: [{ source: 'name', target: 'Title' }],
  });
  expect(await runPush(h.ctx, 'gone', { trigger: 'test' })).toMatchObject({ created: 2 });
  const stored = await getDefinition(h.db.pool, 'gone');
  const { slot } = lsnNames(await readInstallationId(h.db.pool), stored.id, 'gone');

  await h.db.pool.query(`UPDATE gone SET name = 'A' WHERE id = 1`);
  for (let i = 0; i < 4; i++) {
    await h.db.pool.query(`INSERT INTO gone VALUES (${10 + i}, 'w')`);
    await h.db.pool.query(`DELETE FROM gone WHERE id = ${10 + i}`);
    await h.db.pool.query('SELECT pg_switch_wal()');
  }
  await h.db.pool.query('CHECKPOINT');
  const { rows } = await h.db.pool.query<{ wal_status: string }>(
    'SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  expect(rows[0].wal_status).toBe('lost');

  const recovered = await runPush(h.ctx, 'gone', { trigger: 'test' });
  expect(recovered).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 1, deleted: 0 });
  const run = await h.db.pool.query<{ details: { captureRestarted?: string } }>(
    'SELECT details FROM arcore.sync_runs WHERE id = $1',
    [recovered.runId],
  );
  expect(run.rows[0].details.captureRestarted).toMatch(/invalidated: full re-read and compare/);
  expect((await h.items('gone')).map((i) => i.fields.Title).sort()).toEqual(['A', 'b']);
  expect(await runPush(h.ctx, 'gone', { trigger: 'test' })).toMatchObject({ processed: 0 });
}, 60000);

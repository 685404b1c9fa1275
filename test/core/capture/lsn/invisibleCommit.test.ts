import { Client } from 'pg';
import { lsnNames } from '../../../../src/core/capture/lsn';
import { runPush } from '../../../../src/core/engine/push';
import { getDefinition } from '../../../../src/core/store/definitions';
import { readInstallationId } from '../../../../src/core/store/installation';
import { closeCapturing, lsnDefinition } from '../../../support/capture';
import { eventually } from '../../../support/eventually';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { startOwnPostgres, type OwnPostgres } from '../../../support/ownPostgres';

/**
 * I5 cursor safety / I17 (docs/design.md, "Change data capture"): a transaction's commit record is in (flushed) WAL before the transaction is visible to other sessions:
 * with synchronous replication (Azure Flexible Server zone-redundant HA, any synchronous_standby_names) the
 * committing backend waits for the standby between the two. The LSN push decodes the commit from the slot, then
 * reads the touched rows by key; read before the commit is visible, an inserted row is "not there" and an update
 * reads the old version, and the slot would then move past the transaction: the change would never be pushed. The
 * push waits (bounded) until every transaction it read is visible, and otherwise stops in front of it.
 * A server of its own: synchronous_standby_names is server-wide.
 */
let pg: OwnPostgres;
let h: Harness;

beforeAll(async () => {
  // Every session but the application's below commits without waiting for the (absent) standby.
  pg = await startOwnPostgres({
    wal_level: 'logical',
    synchronous_commit: 'local',
    synchronous_standby_names: 'standby1',
  });
  h = await startHarness({}, pg.adminUrl);
  // The push stops in front of the waiting commit after this long (5 s by default): keeps the file fast.
  h.ctx.lsnVisibilityWaitMs = 300;
}, 60000);

afterAll(async () => {
  await closeCapturing(h);
  await pg.stop();
});

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });

/** Row changes (not BEGIN/COMMIT) the definition's slot still holds. */
async function slotChanges(name: string): Promise<number> {
  const stored = await getDefinition(h.db.pool, name);
  const { slot, publication } = lsnNames(await readInstallationId(h.db.pool), stored.id, name);
  const { rows } = await h.db.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1',
       'publication_names', $2) WHERE get_byte(data, 0) IN (73, 85, 68)`,
    [slot, publication],
  );
  return Number(rows[0].n);
}

/**
 * Runs `sql` on a session of the application that commits with synchronous replication, and returns once its commit
 * record is flushed and it waits for the (absent) standby, its change not yet visible to other sessions. `release`
 * plays the standby's answer: the wait is cancelled, which makes the commit visible at once.
 */
async function commitWaitingForStandby(sql: string): Promise<{ release: () => Promise<void> }> {
  const app = new Client({ connectionString: h.db.url });
  await app.connect();
  app.on('error', () => undefined);
  await app.query(`SET synchronous_commit = 'on'`);
  const { rows } = await app.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const pid = rows[0].pid;
  const committing = app.query(sql).then(
    () => 'committed',
    (err: Error) => err.message,
  );
  await eventually('the commit waiting for the standby', async () => {
    const { rows: waiting } = await h.db.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'SyncRep'`,
      [pid],
    );
    return waiting.length === 1;
  });
  return {
    async release() {
      await h.db.pool.query('SELECT pg_cancel_backend($1)', [pid]);
      await committing;
      await app.end();
    },
  };
}

const titles = async (list: string) => (await h.items(list)).map((i) => String(i.fields.Title)).sort();

it('a row committed while the push reads the slot is pushed, not skipped because it was not visible yet', async () => {
  await h.db.pool.query(`CREATE TABLE syncrep (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
  await h.db.pool.query(`INSERT INTO syncrep VALUES (1, 'a', 1)`);
  await h.define(lsnDefinition('syncrep'));
  expect(await push('syncrep')).toMatchObject({ status: 'SUCCEEDED', created: 1 });

  // A transaction committed (and visible) before the waiting one: applied, the slot moves up to the waiting one.
  await h.db.pool.query(`INSERT INTO syncrep VALUES (3, 'c', 3)`);
  const standby = await commitWaitingForStandby(`INSERT INTO syncrep VALUES (2, 'b', 2)`);
  // A push meanwhile (the commit is in WAL and decodable, the row not yet visible to other sessions).
  expect(await slotChanges('syncrep')).toBe(2);
  expect((await h.db.pool.query('SELECT 1 FROM syncrep WHERE id = 2')).rows).toHaveLength(0);
  const during = await push('syncrep');
  // The transaction before it is pushed; the run stops in front of the one it could not see yet, saying why.
  expect(during).toMatchObject({ status: 'SUCCEEDED', created: 1, complete: false });
  const { rows: runs } = await h.db.pool.query<{ incomplete: string }>(
    `SELECT details->>'incomplete' AS incomplete FROM arcore.sync_runs WHERE id = $1`,
    [during.runId],
  );
  expect(runs[0].incomplete).toMatch(/not visible yet .*synchronous standby.*next run reads it again/);
  expect(await slotChanges('syncrep')).toBe(1);
  await standby.release();
  expect((await h.db.pool.query('SELECT name FROM syncrep WHERE id = 2')).rows).toEqual([{ name: 'b' }]);

  const after = await push('syncrep');
  expect(after).toMatchObject({ status: 'SUCCEEDED', created: 1, complete: true });
  expect(await slotChanges('syncrep')).toBe(0);
  expect(await titles('syncrep')).toEqual(['a', 'b', 'c']);
}, 60000);

it('a delete committed while the push reads the slot deletes the item (the row, still visible, is no echo)', async () => {
  await h.db.pool.query(`CREATE TABLE syncdel (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
  await h.db.pool.query(`INSERT INTO syncdel VALUES (1, 'a', 1), (2, 'b', 2)`);
  await h.define(lsnDefinition('syncdel'));
  expect(await push('syncdel')).toMatchObject({ status: 'SUCCEEDED', created: 2 });

  const standby = await commitWaitingForStandby('DELETE FROM syncdel WHERE id = 2');
  const during = await push('syncdel');
  expect(during).toMatchObject({ deleted: 0, updated: 0, complete: false });
  await standby.release();
  expect((await h.db.pool.query('SELECT 1 FROM syncdel WHERE id = 2')).rows).toHaveLength(0);
  const after = await push('syncdel');
  expect(during.deleted + after.deleted).toBe(1);
  expect(await titles('syncdel')).toEqual(['a']);
}, 60000);

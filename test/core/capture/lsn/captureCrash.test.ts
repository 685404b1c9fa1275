import type { PoolClient } from 'pg';
import { lsnNames } from '../../../../src/core/capture/lsn';
import { runPush } from '../../../../src/core/engine/push';
import { getDefinition } from '../../../../src/core/store/definitions';
import { readInstallationId } from '../../../../src/core/store/installation';
import { closeCapturing } from '../../../support/capture';
import { killWhen, lockReleased, spawnEngineChild } from '../../../support/engineChild';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

const NAME = 'crashy';
const ROWS = 60;

/** I6 for LSN capture: a push SIGKILLed at each step of a run re-reads from the slot and writes nothing twice. */
let h: Harness;
let slot: string;

beforeAll(async () => {
  h = await startHarness();
  await h.db.pool.query(`CREATE TABLE ${NAME} (id integer PRIMARY KEY, name text)`);
  await h.define({
    name: NAME,
    source: { table: NAME, key: ['id'], cursor: { type: 'LSN' }, pageSize: 10 },
    target: { site: SITE, list: NAME },
    fields: [{ source: 'name', target: 'Title' }],
  });
  const stored = await getDefinition(h.db.pool, NAME);
  slot = lsnNames(await readInstallationId(h.db.pool), stored.id, NAME).slot;
});
afterAll(() => closeCapturing(h));

/** Starts a push in a child process and SIGKILLs it once `condition` is true; true when it was killed. */
function killMidPush(condition: () => Promise<boolean>): Promise<boolean> {
  return killWhen(spawnEngineChild(h, ['push', NAME]), condition);
}

async function titles(): Promise<string[]> {
  return (await h.items(NAME)).map((i) => String(i.fields.Title)).sort();
}

async function expected(): Promise<string[]> {
  const { rows } = await h.db.pool.query<{ name: string }>(`SELECT name FROM ${NAME}`);
  return rows.map((r) => r.name).sort();
}

async function confirmedLsn(): Promise<string> {
  const { rows } = await h.db.pool.query<{ lsn: string }>(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return rows[0].lsn;
}

/** Holds `LOCK TABLE … IN SHARE MODE` (reads go on, writes wait) until released. */
async function lockTable(table: string): Promise<{ release(): Promise<void> }> {
  const client: PoolClient = await h.db.pool.connect();
  await client.query('BEGIN');
  await client.query(`LOCK TABLE ${table} IN SHARE MODE`);
  return {
    async release() {
      await client.query('ROLLBACK');
      client.release();
    },
  };
}

/** After the kill, a normal push finishes the work: the list equals the table, and a further push is idle. */
async function rerunConverges(): Promise<void> {
  // A killed child's session blocked on a lock lives until the lock is granted and it finds its client gone.
  await lockReleased(h, NAME);
  const rerun = await runPush(h.ctx, NAME, { trigger: 'test' });
  expect(rerun).toMatchObject({ status: 'SUCCEEDED', failed: 0, complete: true });
  const items = await titles();
  expect(items).toEqual(await expected());
  expect(new Set(items).size).toBe(items.length);
  expect(await runPush(h.ctx, NAME, { trigger: 'test' })).toMatchObject({
    processed: 0,
    created: 0,
    updated: 0,
  });
}

describe('LSN capture killed at each step of a run (a real SIGKILL)', () => {
  it('during the initial load', async () => {
    await h.db.pool.query(`INSERT INTO ${NAME} SELECT g, 'p' || g FROM generate_series(1, ${ROWS}) g`);
    h.emulator.control.setLatency(20);
    const killed = await killMidPush(async () => (await h.items(NAME)).length >= 20);
    h.emulator.control.setLatency(0);
    expect(killed).toBe(true);
    expect((await h.items(NAME)).length).toBeLessThan(ROWS);
    await rerunConverges();
  }, 60000);

  it('while replaying the slot: after SharePoint took a page, before the ledger committed it', async () => {
    await h.db.pool.query(`UPDATE ${NAME} SET name = name || '!'`); // one transaction, several pages
    const ledger = await lockTable('arcore.sync_ledger');
    let killed: boolean;
    try {
      killed = await killMidPush(async () => (await titles()).some((t) => t.endsWith('!')));
    } finally {
      await ledger.release();
    }
    expect(killed).toBe(true);
    await rerunConverges();
  }, 60000);

  it('after the ledger committed a page, before the slot advanced', async () => {
    const before = await confirmedLsn();
    for (let i = 0; i < 3; i++)
      await h.db.pool.query(`UPDATE ${NAME} SET name = name || '?' WHERE id % 3 = $1`, [i]);
    const cursors = await lockTable('arcore.sync_cursors'); // the run waits right before advancing the slot
    let killed: boolean;
    try {
      killed = await killMidPush(async () => {
        const { rows } = await h.db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM arcore.sync_ledger WHERE synced_values->>'Title' LIKE '%?'`,
        );
        return rows[0].n > 0;
      });
    } finally {
      await cursors.release();
    }
    expect(killed).toBe(true);
    expect(await confirmedLsn()).toBe(before);
    await rerunConverges();
  }, 60000);

  it('at any point of a replay over several transactions', async () => {
    for (let i = 0; i < 5; i++)
      await h.db.pool.query(
        `INSERT INTO ${NAME} SELECT g, 'n' || g FROM generate_series(${ROWS + 1 + i * 10}, ${ROWS + 10 + i * 10}) g`,
      );
    h.emulator.control.setLatency(20);
    const killed = await killMidPush(async () => (await h.items(NAME)).length >= ROWS + 20);
    h.emulator.control.setLatency(0);
    expect(killed).toBe(true);
    await rerunConverges();
    expect(await h.items(NAME)).toHaveLength(ROWS + 50);
  }, 60000);
});

import { lsnNames } from '../../../../src/core/capture/lsn';
import { parseLsn } from '../../../../src/core/capture/lsn/pgoutput';
import { probeIdle } from '../../../../src/core/engine/idle';
import { DEFAULT_SLOT_POLICY, slotStatuses } from '../../../../src/core/ops/slotHealth';
import { runPush } from '../../../../src/core/engine/push';
import { getDefinition } from '../../../../src/core/store/definitions';
import { readInstallationId } from '../../../../src/core/store/installation';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { closeCapturing, lsnDefinition, restartedBecause } from '../../../support/capture';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => closeCapturing(h));

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });
const titles = async (list: string) => (await h.items(list)).map((i) => String(i.fields.Title)).sort();

async function slotName(name: string): Promise<string> {
  const stored = await getDefinition(h.db.pool, name);
  return lsnNames(await readInstallationId(h.db.pool), stored.id, name).slot;
}

async function confirmedOf(slot: string): Promise<string> {
  const { rows } = await h.db.pool.query<{ lsn: string }>(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return rows[0].lsn;
}

async function createTable(name: string): Promise<void> {
  await h.db.pool.query(`CREATE TABLE ${name} (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
  await h.db.pool.query(`INSERT INTO ${name} VALUES (1, 'a', 1), (2, 'b', 2)`);
  await h.define(lsnDefinition(name));
  expect(await push(name)).toMatchObject({ status: 'SUCCEEDED', created: 2 });
}

describe('I5, I17 (docs/design.md, the recorded position is never behind the slot): a slot moved outside the push', () => {
  it('dropped and created again under the same name: the changes made before it are not silently skipped', async () => {
    await createTable('again');
    const slot = await slotName('again');

    await h.db.pool.query(`UPDATE again SET name = 'A' WHERE id = 1`);
    await h.db.pool.query(`DELETE FROM again WHERE id = 2`);
    // An operator frees the WAL by re-creating the slot (same name, same plugin)
    await h.db.pool.query('SELECT pg_drop_replication_slot($1)', [slot]);
    await h.db.pool.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    // The new slot holds no change, but the idle probe does not take it for idle, and status says why. (A lag bound
    // far above this test's WAL: other tests of the shared cluster write WAL that would put the new slot behind too.)
    expect((await probeIdle({ ...h.ctx, idleSlotLagBytes: 1024 ** 3 }, 'again'))?.busy).toEqual([
      'slot moved',
    ]);
    const statuses = await slotStatuses(h.db.pool, () => h.db.pool, DEFAULT_SLOT_POLICY, 'again');
    expect([...statuses.values()]).toMatchObject([
      {
        exists: true,
        healthy: false,
        message: expect.stringMatching(/is past .*, the one its push recorded/),
      },
    ]);

    const run = await push('again');
    expect(run.status).toBe('SUCCEEDED');
    // The edit and the delete were made before the new slot: a full re-read (as for a missing slot) or an error,
    // never a silent success that leaves SharePoint stale.
    expect(await titles('again')).toEqual(['A']);
    expect(await restartedBecause(h, run)).toBe('replication slot moved ahead: full re-read and compare');
  });

  it('advanced past unread changes: they are compared in full; the push’s own moves never look like that', async () => {
    await createTable('ahead');
    const slot = await slotName('ahead');

    await h.db.pool.query(`UPDATE ahead SET name = 'B' WHERE id = 2`);
    await h.db.pool.query('SELECT pg_replication_slot_advance($1, pg_current_wal_flush_lsn())', [slot]);
    const run = await push('ahead');
    expect(run).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
    expect(await titles('ahead')).toEqual(['B', 'a']);
    expect(await restartedBecause(h, run)).toMatch(/^replication slot moved ahead/);

    // The push's own moves record the position first: a change confirmed, then WAL of another table confirmed
    // by an idle run, and neither the next push nor the probe takes the slot for moved.
    await h.db.pool.query(`UPDATE ahead SET name = 'C' WHERE id = 2`);
    const changed = await push('ahead');
    expect(changed).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
    await h.db.pool.query('CREATE TABLE elsewhere (id integer PRIMARY KEY)');
    await h.db.pool.query('INSERT INTO elsewhere VALUES (1)');
    const held = await confirmedOf(slot);
    const idle = await push('ahead');
    expect(idle).toMatchObject({ status: 'SUCCEEDED', processed: 0 });
    expect(parseLsn(await confirmedOf(slot))).toBeGreaterThan(parseLsn(held)); // the idle run moved the slot
    const after = await push('ahead');
    expect([
      await restartedBecause(h, changed),
      await restartedBecause(h, idle),
      await restartedBecause(h, after),
    ]).toEqual([null, null, null]);
    expect((await probeIdle(h.ctx, 'ahead'))?.busy).not.toContain('slot moved');
    const statuses = await slotStatuses(h.db.pool, () => h.db.pool, DEFAULT_SLOT_POLICY, 'ahead');
    expect([...statuses.values()]).toMatchObject([{ exists: true, healthy: true }]);
    expect(await titles('ahead')).toEqual(['C', 'a']);
  });
});

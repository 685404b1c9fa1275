import { parseDefinition } from '../../../src/core/definition/parse';
import { describeDeleteDetection } from '../../../src/core/definition/deleteDetection';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { installCursorFor } from '../../../src/core/ops';
import { tombstoneTableName } from '../../../src/core/source/postgres/tombstones';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';
import { ledgerCount, tombstoneCount } from '../../support/projects';

/** Delete detection for TIMESTAMP definitions (I8): tombstones from the capture trigger, or the chunked sweep. */
describe('I8 deletes found without comparing the whole table', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  /** A projects-shaped table with its own definition and list, optionally with delete capture installed. */
  async function setUp(name: string, capture: boolean): Promise<void> {
    await createProjectsTable(h.db, name);
    const input = projectsDefinition(
      { name, source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } } },
      name,
    );
    await h.define(input);
    if (capture) {
      const result = await installCursorFor(parseDefinition(input), h.db.pool);
      expect(result.parts.find((p) => p.part === 'deletes')?.status).toBe('added');
    }
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name) SELECT g, 'row ' || g FROM generate_series(1, 4) g`,
    );
  }

  const push = (name: string) => runPush(h.ctx, name, { trigger: 'cli' });
  const titles = async (list: string) => (await h.items(list)).map((i) => i.fields.Title).sort();
  const tombstones = (table: string) => tombstoneCount(h, table);
  const ledgerRows = (name: string) => ledgerCount(h, name);

  it('a delete reaches SharePoint from its tombstone, which is then dropped; delete and re-insert of a key keeps its item', async () => {
    await setUp('capt', true);
    const first = await push('capt');
    expect(first).toMatchObject({ status: 'SUCCEEDED', created: 4 });
    // The install's sweep request was consumed by the first push.
    expect(await tombstones('capt')).toBe(0);
    const itemOf2 = (await h.items('capt')).find((i) => i.fields.Title === 'row 2')?.id;

    await h.db.pool.query('DELETE FROM capt WHERE id = 1');
    await h.db.pool.query('DELETE FROM capt WHERE id = 2');
    await h.db.pool.query("INSERT INTO capt (id, name) VALUES (2, 'row 2 again')");
    expect(await tombstones('capt')).toBe(2);
    const second = await push('capt');
    expect(second).toMatchObject({ status: 'SUCCEEDED', deleted: 1, updated: 1, created: 0 });
    expect(await titles('capt')).toEqual(['row 2 again', 'row 3', 'row 4']);
    expect((await h.items('capt')).find((i) => i.fields.Title === 'row 2 again')?.id).toBe(itemOf2);
    expect(await tombstones('capt')).toBe(0);
    expect(await ledgerRows('capt')).toBe(3);

    // A key change is the old key's delete.
    await h.db.pool.query('UPDATE capt SET id = 40 WHERE id = 4');
    const third = await push('capt');
    expect(third).toMatchObject({ status: 'SUCCEEDED', deleted: 1, created: 1 });
    expect(await titles('capt')).toEqual(['row 2 again', 'row 3', 'row 4']);
    expect(await tombstones('capt')).toBe(0);

    // TRUNCATE fires no row trigger: it asks for one full comparison instead.
    await h.db.pool.query('TRUNCATE capt');
    const fourth = await push('capt');
    expect(fourth).toMatchObject({ status: 'SUCCEEDED', deleted: 3 });
    expect(await h.items('capt')).toEqual([]);
    expect(await tombstones('capt')).toBe(0);
  });

  it('two definitions reading one table both see its deletes (tombstones are read once, so both sweep)', async () => {
    await setUp('twice', true);
    const copy = projectsDefinition(
      {
        name: 'twice_b',
        source: { table: 'twice', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      },
      'twice_b',
    );
    await h.define(copy);
    expect(await push('twice')).toMatchObject({ status: 'SUCCEEDED', created: 4 });
    expect(await push('twice_b')).toMatchObject({ status: 'SUCCEEDED', created: 4 });
    await h.db.pool.query('DELETE FROM twice WHERE id = 3');
    const a = await push('twice');
    const b = await push('twice_b');
    expect(a).toMatchObject({ status: 'SUCCEEDED', deleted: 1 });
    expect(b).toMatchObject({ status: 'SUCCEEDED', deleted: 1 });
    expect(await titles('twice')).toEqual(['row 1', 'row 2', 'row 4']);
    expect(await titles('twice_b')).toEqual(['row 1', 'row 2', 'row 4']);
    // Read by no one, the tombstones do not pile up.
    expect(await tombstones('twice')).toBe(0);
  });

  it('I6 a crash between the SharePoint delete and the ledger commit keeps the tombstone; the rerun applies the delete once', async () => {
    await setUp('crashy', true);
    expect(await push('crashy')).toMatchObject({ status: 'SUCCEEDED', created: 4 });
    // The ledger commit fails after SharePoint has deleted the item: as if the process died there.
    await h.db.pool.query(`
      CREATE FUNCTION fail_ledger_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'injected: the process died before the ledger commit'; END $$;
      CREATE TRIGGER fail_ledger_delete BEFORE DELETE ON arcore.sync_ledger
        FOR EACH ROW EXECUTE FUNCTION fail_ledger_delete();`);
    await h.db.pool.query('DELETE FROM crashy WHERE id = 3');
    const crashed = await push('crashy');
    expect(crashed.status).toBe('FAILED');
    expect(crashed.error).toContain('injected');
    expect(await titles('crashy')).toEqual(['row 1', 'row 2', 'row 4']);
    expect(await tombstones('crashy')).toBe(1);
    expect(await ledgerRows('crashy')).toBe(4);
    await h.db.pool.query('DROP TRIGGER fail_ledger_delete ON arcore.sync_ledger');

    const rerun = await push('crashy');
    expect(rerun).toMatchObject({ status: 'SUCCEEDED', deleted: 1, failed: 0 });
    expect(await titles('crashy')).toEqual(['row 1', 'row 2', 'row 4']);
    expect(await tombstones('crashy')).toBe(0);
    expect(await ledgerRows('crashy')).toBe(3);

    // Dropping the tombstones fails after the ledger commit: the rerun finds no ledger entry and writes nothing.
    await h.db.pool.query(`
      CREATE TRIGGER fail_tombstone_delete BEFORE DELETE ON ${tombstoneTableName('crashy')}
        FOR EACH ROW EXECUTE FUNCTION fail_ledger_delete();`);
    await h.db.pool.query('DELETE FROM crashy WHERE id = 4');
    expect((await push('crashy')).status).toBe('FAILED');
    expect(await ledgerRows('crashy')).toBe(2);
    expect(await tombstones('crashy')).toBe(1);
    await h.db.pool.query(`DROP TRIGGER fail_tombstone_delete ON ${tombstoneTableName('crashy')}`);
    const after = await push('crashy');
    // (Its Graph requests resolve the list afresh after the failure; the two rows are the overlap window's echoes.)
    expect(after).toMatchObject({ status: 'SUCCEEDED', deleted: 0, failed: 0, created: 0, updated: 0 });
    expect(await titles('crashy')).toEqual(['row 1', 'row 2']);
    expect(await tombstones('crashy')).toBe(0);
  });

  it('a view has no trigger: its deletes are found by the sweep, and validate says which detection each has', async () => {
    await setUp('base', false);
    await h.db.pool.query('CREATE VIEW base_view AS SELECT * FROM base');
    const input = projectsDefinition(
      {
        name: 'viewed',
        source: { table: 'base_view', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      },
      'viewed',
    );
    await h.define(input);
    expect(await push('viewed')).toMatchObject({ status: 'SUCCEEDED', created: 4 });
    await h.db.pool.query('DELETE FROM base WHERE id = 2');
    // Delete and insert together leave the count unchanged: the sweep compares keys, not counts.
    await h.db.pool.query("DELETE FROM base WHERE id = 3; INSERT INTO base (id, name) VALUES (5, 'row 5')");
    const swept = await push('viewed');
    expect(swept).toMatchObject({ status: 'SUCCEEDED', deleted: 2, created: 1 });
    expect(await titles('viewed')).toEqual(['row 1', 'row 4', 'row 5']);

    const view = await describeDeleteDetection(parseDefinition(input), h.db.pool);
    expect(view?.mode).toBe('sweep');
    expect(view?.message).toContain(
      '"public.base_view" is a view: it cannot carry the delete-capture trigger',
    );
    const table = await describeDeleteDetection(
      parseDefinition(
        projectsDefinition({
          name: 'base',
          source: { table: 'base', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
        }),
      ),
      h.db.pool,
    );
    expect(table?.mode).toBe('sweep');
    expect(table?.message).toContain('Install the delete-capture trigger: "arcore-sync install-cursor base"');
    const captured = await describeDeleteDetection(
      parseDefinition(
        projectsDefinition({
          name: 'capt',
          source: { table: 'capt', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
        }),
      ),
      h.db.pool,
    );
    expect(captured).toEqual({
      mode: 'tombstones',
      message: 'captured by trigger (arcore_capture_deletes): push reads only the recorded deletes',
    });
  });

  it('I14 a column added and mapped, then dropped, is seen by the next run of the same process (cached catalog)', async () => {
    await setUp('grow', true);
    expect(await push('grow')).toMatchObject({ status: 'SUCCEEDED', created: 4 });
    await h.db.pool.query(
      "ALTER TABLE grow ADD COLUMN owner text; UPDATE grow SET owner = 'ann' WHERE id = 1",
    );
    const input = projectsDefinition(
      {
        name: 'grow',
        source: { table: 'grow', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
        fields: [
          { source: 'name', target: 'Title' },
          { source: 'owner', target: 'Owner' },
        ],
      },
      'grow',
    );
    await h.define(input);
    // The new field is aligned by the pull (I14), then pushed; every run reads the table's columns afresh.
    expect(await push('grow')).toMatchObject({ status: 'SUCCEEDED', failed: 0 });
    expect(await runPull(h.ctx, 'grow', { trigger: 'cli' })).toMatchObject({ status: 'SUCCEEDED' });
    await push('grow');
    expect((await h.items('grow')).find((i) => i.fields.Title === 'row 1')?.fields.Owner).toBe('ann');
    await h.db.pool.query('ALTER TABLE grow DROP COLUMN owner');
    const dropped = await push('grow');
    expect(dropped.status).toBe('FAILED');
    expect(dropped.error).toContain('owner');
  });

  it('a role allowed only to delete rows can delete them, and its deletes are captured', async () => {
    await setUp('guarded', true);
    expect(await push('guarded')).toMatchObject({ status: 'SUCCEEDED', created: 4 });
    const role = `deleter_${new URL(h.db.url).pathname.slice(1)}`;
    await h.db.pool.query(`CREATE ROLE ${role}; GRANT SELECT, DELETE ON guarded TO ${role}`);
    try {
      const client = await h.db.pool.connect();
      try {
        await client.query(`SET ROLE ${role}`);
        await client.query('DELETE FROM guarded WHERE id = 4');
        await client.query('RESET ROLE');
      } finally {
        client.release();
      }
      expect(await tombstones('guarded')).toBe(1);
      expect(await push('guarded')).toMatchObject({ status: 'SUCCEEDED', deleted: 1 });
      expect(await titles('guarded')).toEqual(['row 1', 'row 2', 'row 3']);
    } finally {
      await h.db.pool.query(`REVOKE ALL ON guarded FROM ${role}; DROP ROLE ${role}`);
    }
  });
});

import { tryLockDefinition } from '../../src/core/store/locks';
import type { Harness } from '../support/engineHarness';
import { ops, startOpsHarness } from './support/opsHarness';

/** The ops API routes of verify, dry run, install-cursor and remove, against Postgres and the emulator. */
describe('ops API: verify, dry-run, install-cursor, remove', () => {
  let h: Harness;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ h, close } = await startOpsHarness(3));
  });
  afterAll(() => close());

  it('POST definitions/{name}/verify answers the comparison, agreeing or not', async () => {
    expect(await ops('POST', 'definitions/projects/verify')).toMatchObject({
      status: 200,
      json: { agree: true, rows: 3, items: 3, paired: 3, differences: 0, unpaired: 0 },
    });
    await h.db.pool.query("UPDATE projects SET name = 'changed' WHERE id = 1");
    const differ = await ops('POST', 'definitions/projects/verify', {});
    expect(differ).toMatchObject({ status: 200, json: { agree: false, differences: 1 } });
    expect((await ops('POST', 'definitions/nope/verify')).status).toBe(404);
  });

  it('POST definitions/{name}/dry-run previews a push, a pull or a sync without writing', async () => {
    const runsBefore = (await h.db.pool.query('SELECT count(*)::int AS n FROM arcore.sync_runs')).rows[0].n;
    const push = await ops('POST', 'definitions/projects/dry-run', { run: 'push' });
    expect(push).toMatchObject({
      status: 200,
      json: { dryRun: true, runId: null, runType: 'PUSH', updated: 1, planned: 1 },
    });
    const sync = await ops('POST', 'definitions/projects/dry-run', { run: 'sync' });
    expect(sync).toMatchObject({
      status: 200,
      json: { dryRun: true, pull: { runType: 'PULL', dryRun: true }, push: { updated: 1 } },
    });
    expect((await h.db.pool.query('SELECT count(*)::int AS n FROM arcore.sync_runs')).rows[0].n).toBe(
      runsBefore,
    );
    expect(await ops('POST', 'definitions/projects/dry-run', { run: 'both' })).toMatchObject({ status: 400 });
    expect(await ops('POST', 'definitions/projects/dry-run')).toMatchObject({ status: 400 });
  });

  it('POST definitions/{name}/install-cursor answers what is there or the SQL still needed', async () => {
    const result = await ops('POST', 'definitions/projects/install-cursor', { printSql: true });
    expect(result).toMatchObject({ status: 200, json: { applied: false, column: 'updated_at' } });
    // The harness table has the column, the trigger and an index on (updated_at, id) already: only the
    // delete capture (tombstone table and its triggers) is still needed.
    const sql = result.json.sql as string[];
    expect(sql.length).toBeGreaterThan(0);
    for (const statement of sql) expect(statement).toMatch(/arcore_projects_deleted|arcore_capture_/);
    expect(sql.join('\n')).not.toMatch(/updated_at/);
  });

  it('DELETE definitions/{name} removes the definition (409 while a run holds the lock)', async () => {
    const { rows } = await h.db.pool.query<{ id: string }>(
      'SELECT id::text AS id FROM arcore.sync_definitions',
    );
    const lock = await tryLockDefinition(h.db.pool, rows[0].id);
    try {
      expect((await ops('DELETE', 'definitions/projects')).status).toBe(409);
    } finally {
      await lock?.release();
    }
    expect(await ops('DELETE', 'definitions/projects')).toMatchObject({
      status: 200,
      json: { definition: 'projects', removed: { ledger: 3 }, subscriptionsLeft: [] },
    });
    expect((await ops('GET', 'definitions/projects')).status).toBe(404);
    expect((await ops('DELETE', 'definitions/projects')).status).toBe(404);
    expect((await h.db.pool.query('SELECT count(*)::int AS n FROM projects')).rows[0].n).toBe(3);
  });
});

import { migrate } from '../../../src/core/store/migrate';
import { migrations } from '../../../src/core/store/migrations';
import { freshDatabase, type TestDatabase } from '../../support/db';

describe('metadata store migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => db.drop());

  it('two concurrent runs do not collide, and a later run is a no-op', async () => {
    const [a, b] = await Promise.all([migrate(db.pool), migrate(db.pool)]);
    const all = migrations.map((m) => m.version);
    expect([...a.applied, ...b.applied].sort((x, y) => x - y)).toEqual(all);
    expect(a.applied.length === 0 || b.applied.length === 0).toBe(true);
    const again = await migrate(db.pool);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toEqual(all);
  });

  it('creates every table of schema arcore', async () => {
    const { rows } = await db.pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'arcore' ORDER BY 1",
    );
    expect(rows.map((r) => r.table_name)).toEqual([
      'capture_truncates',
      'field_mappings',
      'graph_budget',
      'graph_subscriptions',
      'graph_throttle',
      'installation',
      'pending_pulls',
      'pull_insert_intents',
      'schema_migrations',
      'sync_backfills',
      'sync_conflicts',
      'sync_cursors',
      'sync_definition_lists',
      'sync_definitions',
      'sync_failures',
      'sync_ledger',
      'sync_list_cursors',
      'sync_moves',
      'sync_runs',
    ]);
  });

  it('rolls back a failing migration whole and names it', async () => {
    const bad = [{ version: 999, name: 'broken', sql: 'CREATE TABLE arcore.half (x int); SELECT nope;' }];
    await expect(migrate(db.pool, bad)).rejects.toThrow(/Migration 999 \(broken\) failed/);
    const { rowCount } = await db.pool.query(
      "SELECT 1 FROM information_schema.tables WHERE table_schema='arcore' AND table_name='half'",
    );
    expect(rowCount).toBe(0);
  });
});

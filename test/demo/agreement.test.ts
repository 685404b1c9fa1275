import { compareSides, describeDisagreement } from '../../src/demo/agreement';
import type { GraphListItem } from '../../src/demo/graphAsUser';
import { createSampleTable, demoDefinition } from '../../src/demo/sampleData';
import { parseDefinition } from '../../src/core/definition/parse';
import { validateAgainstDatabase } from '../../src/core/definition/validateLive';
import { upsertDefinitions } from '../../src/core/store/definitions';
import { migrate } from '../../src/core/store/migrate';
import { freshDatabase, type TestDatabase } from '../support/db';

/** The demo's own final check must find real differences, not only report agreement. */
describe('demo sample table and field-by-field agreement check', () => {
  let db: TestDatabase;
  let items: GraphListItem[];

  beforeAll(async () => {
    db = await freshDatabase();
    await migrate(db.pool);
    await createSampleTable(db.pool, 3);
    await upsertDefinitions(db.pool, [parseDefinition(demoDefinition())]);
    const { rows } = await db.pool.query(
      'SELECT id, name, budget::float8 AS budget, due::text AS due, status, tags, owner FROM projects ORDER BY id',
    );
    items = rows.map((r) => ({
      id: String(100 + r.id),
      fields: {
        Title: r.name,
        Budget: r.budget,
        DueDate: `${r.due}T12:00:00Z`,
        Status: r.status,
        Tags: [...r.tags].reverse(),
        Owner: r.owner,
      },
    }));
    for (const item of items) {
      await db.pool.query(
        `INSERT INTO arcore.sync_ledger (definition_id, source_identity_hash, source_identity, source_key_strategy,
           source_connection, sp_list_id, sp_item_id)
         SELECT id, $1, $2, 'PRIMARY_KEY', 'default', 'list', $3 FROM arcore.sync_definitions WHERE name = 'projects'`,
        [`h${item.id}`, { id: Number(item.id) - 100 }, item.id],
      );
    }
  });
  afterAll(async () => db.drop());

  it('creates a table the demo definition passes the live check against', async () => {
    const report = await validateAgainstDatabase(parseDefinition(demoDefinition()), db.pool);
    expect(report.errors).toEqual([]);
    const { rows } = await db.pool.query(
      'SELECT count(*)::int AS n, bool_and(updated_at IS NOT NULL) AS stamped FROM projects',
    );
    expect(rows[0]).toEqual({ n: 3, stamped: true });
  });

  it('agrees when every field matches (numbers as numbers, dates as days, tags as sets)', async () => {
    const report = await compareSides(db.pool, 'projects', items);
    expect(report).toMatchObject({ rows: 3, items: 3, paired: 3, fieldsCompared: 18, agree: true });
  });

  it('names each differing field, unpaired rows and unpaired items', async () => {
    const changed = structuredClone(items);
    changed[0].fields.Status = 'Somewhere else';
    changed[1].fields.Budget = 1;
    changed.pop();
    changed.push({ id: '999', fields: {} });
    const report = await compareSides(db.pool, 'projects', changed);
    expect(report.agree).toBe(false);
    expect(report.mismatches.map((m) => `${m.rowId}.${m.field}`)).toEqual(['1.status', '2.budget']);
    expect(report.rowsWithoutItem).toEqual(['3']);
    expect(report.itemsWithoutRow).toEqual(['999']);
    expect(describeDisagreement(report).join('\n')).toContain('row 1 / item 101 status');
  });
});

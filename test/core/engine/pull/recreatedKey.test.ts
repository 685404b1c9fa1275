import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { resolveConflict } from '../../../../src/core/engine/resolve';
import type { ConflictPolicy } from '../../../../src/core/conflict/policy';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * A row re-created from its item through a view whose INSTEAD OF INSERT trigger makes the key (the pattern the pull
 * supports for new items, test/core/engine/pull.test.ts 'a view written through INSTEAD OF triggers') gets a key
 * other than its pair's: the pair follows the row to the key Postgres gave it (docs/design.md I1, I13). Left under
 * the old key, the next push met the row unpaired and created a second item for it.
 */
describe('a row re-created through a view whose trigger makes the key', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  /** View `name` over `name_rows` (id serial), its INSERT trigger making the id; one row synced to one item. */
  async function syncedView(name: string, conflictPolicy: ConflictPolicy) {
    await h.db.pool.query(`CREATE TABLE ${name}_rows (id serial PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${name}_rows (name) VALUES ('one');
      CREATE VIEW ${name} AS SELECT id, name, updated_at FROM ${name}_rows;
      CREATE FUNCTION ${name}_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO ${name}_rows (name) VALUES (NEW.name) RETURNING id, updated_at INTO NEW.id, NEW.updated_at;
        RETURN NEW;
      END $$;
      CREATE TRIGGER ${name}_insert INSTEAD OF INSERT ON ${name} FOR EACH ROW EXECUTE FUNCTION ${name}_insert();`);
    await h.define({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [{ source: 'name', target: 'Title' }],
      conflictPolicy,
      // Rows deleted in Postgres keep their items: a pair left under the old key leaves the user's item behind.
      deletes: { push: 'IGNORE' },
    });
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(1);
    await runPull(h.ctx, name, { trigger: 'test' });
    const [item] = await h.items(name);
    // Deleted in Postgres, edited in SharePoint.
    await h.db.pool.query(`DELETE FROM ${name}_rows`);
    const edited = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Title: 'one edited',
    });
    expect(edited.status).toBe(200);
    return item;
  }

  /** After a push: the one item is still the user's, and the ledger pairs it under the row's key. */
  async function pairedUnderNewKey(name: string, itemId: string) {
    const rows = (await h.db.pool.query<{ id: number; name: string }>(`SELECT id, name FROM ${name}_rows`))
      .rows;
    expect(rows.map((r) => r.name)).toEqual(['one edited']);
    expect(rows[0].id).not.toBe(1);
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(0);
    const titles = (await h.items(name)).map((i) => ({ id: i.id, title: i.fields.Title }));
    expect(titles).toEqual([{ id: itemId, title: 'one edited' }]);
    const { rows: ledger } = await h.db.pool.query<{ identity: { id: number }; item: string }>(
      `SELECT l.source_identity AS identity, l.sp_item_id AS item FROM arcore.sync_ledger l
         JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = $1`,
      [name],
    );
    expect(ledger.map((l) => ({ id: Number(l.identity.id), item: l.item }))).toEqual([
      { id: rows[0].id, item: itemId },
    ]);
  }

  it('by the pull (SharePoint wins): is paired under the key Postgres gave it, no second item', async () => {
    const item = await syncedView('tv', 'DESTINATION_WINS');
    await runPull(h.ctx, 'tv', { trigger: 'test' });
    await pairedUnderNewKey('tv', item.id);
  });

  it('by resolve --take sharepoint: is paired under the key Postgres gave it, no second item', async () => {
    const item = await syncedView('tvm', 'MANUAL');
    expect((await runPull(h.ctx, 'tvm', { trigger: 'test' })).conflicts).toBe(1);
    const { rows } = await h.db.pool.query<{ id: string }>(
      `SELECT c.id FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = 'tvm' AND c.status = 'OPEN'`,
    );
    expect(rows).toHaveLength(1);
    await resolveConflict(h.ctx, rows[0].id, { take: 'sharepoint' }, 'test');
    await pairedUnderNewKey('tvm', item.id);
  });
});

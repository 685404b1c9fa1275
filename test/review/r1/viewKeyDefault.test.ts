import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * Review r1: a new SharePoint item whose key is not mapped from SharePoint needs Postgres to make the key
 * (insert.ts newRowValues: "no database default"). The check reads only the relation's own column defaults
 * (catalog.ts `atthasdef`). A view has none of its own: an INSERT into a simple (auto-updatable) view takes the key
 * from its table's default (serial, identity), and a view written through INSTEAD OF triggers has its trigger make
 * it. Both insert fine in Postgres, yet every new item of such a definition is refused and parked, retried by every
 * pull for ever, and never reaches Postgres.
 */
describe('I12 new items pulled into a view whose key Postgres makes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  const pullNewItem = async (name: string): Promise<unknown> => {
    await h.define({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [{ source: 'name', target: 'Title' }],
    });
    await runPush(h.ctx, name, { trigger: 'test' });
    await runPull(h.ctx, name, { trigger: 'test' });
    expect(
      (await h.asUser('POST', `/sites/${h.siteId}/lists/${name}/items`, { fields: { Title: 'new' } })).status,
    ).toBe(201);
    const pulled = await runPull(h.ctx, name, { trigger: 'test' });
    return { created: pulled.created, failed: pulled.failed };
  };

  it('a simple view over a table with a serial key', async () => {
    await h.db.pool.query(`CREATE TABLE sv_rows (id serial PRIMARY KEY, name text,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO sv_rows (name) VALUES ('old');
      CREATE VIEW sv AS SELECT id, name, updated_at FROM sv_rows`);
    // Postgres itself inserts through the view, the key from the table's sequence.
    expect(await pullNewItem('sv')).toEqual({ created: 1, failed: 0 });
    expect((await h.db.pool.query('SELECT name FROM sv_rows ORDER BY id')).rows).toEqual([
      { name: 'old' },
      { name: 'new' },
    ]);
  });

  it('a view written through INSTEAD OF triggers that make the key', async () => {
    await h.db.pool
      .query(`CREATE TABLE tv_rows (id serial PRIMARY KEY, name text, hidden boolean NOT NULL DEFAULT false,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO tv_rows (name) VALUES ('old');
      CREATE VIEW tv AS SELECT id, name, updated_at FROM tv_rows WHERE NOT hidden;
      CREATE FUNCTION tv_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO tv_rows (name) VALUES (NEW.name) RETURNING id, updated_at INTO NEW.id, NEW.updated_at;
        RETURN NEW;
      END $$;
      CREATE TRIGGER tv_insert INSTEAD OF INSERT ON tv FOR EACH ROW EXECUTE FUNCTION tv_insert()`);
    expect(await pullNewItem('tv')).toEqual({ created: 1, failed: 0 });
    expect((await h.db.pool.query('SELECT name FROM tv_rows ORDER BY id')).rows).toEqual([
      { name: 'old' },
      { name: 'new' },
    ]);
  });
});

import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * Review r9 (view/trigger inserts refused "with a named key", pull/insert.ts insertItem): when the key is made by
 * a BEFORE INSERT trigger (or a view's INSTEAD OF trigger), `unmade` still lists it (the column has no catalog
 * default), so ANY refusal of the INSERT is reported as "key column(s) id are not mapped from SharePoint … and
 * Postgres did not make them … Next step: map the key …, or let Postgres make it: a default …". Here Postgres made
 * the key and refused the item's Title (a CHECK constraint): the parked failure sends the operator to fix a key
 * that is fine, instead of the value Postgres refused.
 */
describe('a new item Postgres refuses for another column, its key made by a trigger', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  it('is parked naming the refused value, not the key', async () => {
    await h.db.pool.query(`CREATE SEQUENCE trgkey_seq;
      CREATE TABLE trgkey (id integer PRIMARY KEY, name text CHECK (name <> 'bad'),
        updated_at timestamptz NOT NULL DEFAULT now());
      CREATE FUNCTION trgkey_id() RETURNS trigger LANGUAGE plpgsql AS
        $$BEGIN NEW.id := nextval('trgkey_seq'); RETURN NEW; END$$;
      CREATE TRIGGER trgkey_id BEFORE INSERT ON trgkey FOR EACH ROW EXECUTE FUNCTION trgkey_id();`);
    await h.define({
      name: 'trgkey',
      source: { table: 'trgkey', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'trgkey' },
      fields: [{ source: 'name', target: 'Title' }],
    });
    await runPush(h.ctx, 'trgkey', { trigger: 'test' });
    await runPull(h.ctx, 'trgkey', { trigger: 'test' });
    const base = `/sites/${h.siteId}/lists/trgkey/items`;
    expect((await h.asUser('POST', base, { fields: { Title: 'good' } })).status).toBe(201);
    expect((await h.asUser('POST', base, { fields: { Title: 'bad' } })).status).toBe(201);
    const pulled = await runPull(h.ctx, 'trgkey', { trigger: 'test' });
    // The trigger makes the key: the good item is inserted.
    expect({ created: pulled.created, failed: pulled.failed }).toEqual({ created: 1, failed: 1 });
    const { rows } = await h.db.pool.query<{ last_error: string }>(
      "SELECT last_error FROM arcore.sync_failures WHERE status = 'PARKED'",
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].last_error).toMatch(/check constraint/);
    expect(rows[0].last_error).not.toMatch(/are not mapped from SharePoint/);
  });
});

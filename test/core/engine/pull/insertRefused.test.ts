import { Client, Pool } from 'pg';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';
import { watchedClient } from '../../../support/watchedClient';

/**
 * What Postgres refuses in a pull page's writes (docs/design.md, I12): a row a trigger keeps out is parked with a
 * message that says so, and a chunk refused by lock_timeout is not split in halves (each half holding the locked
 * row would wait the timeout out again): its items go one by one.
 */
describe('pull writes Postgres refuses', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  const parkedErrors = async () =>
    (
      await h.db.pool.query<{ last_error: string }>(
        "SELECT last_error FROM arcore.sync_failures WHERE status = 'PARKED' AND direction = 'PULL'",
      )
    ).rows.map((r) => r.last_error);

  it('a new item a BEFORE INSERT trigger keeps out (RETURN NULL) is parked, naming the trigger; the others land', async () => {
    await h.db.pool.query(`CREATE TABLE skips (id serial PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      CREATE FUNCTION skip_some() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.name = 'skip me' THEN RETURN NULL; END IF; RETURN NEW; END $$;
      CREATE TRIGGER skip_some BEFORE INSERT ON skips FOR EACH ROW EXECUTE FUNCTION skip_some();`);
    await h.define({
      name: 'skips',
      source: { table: 'skips', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'skips' },
      fields: [{ source: 'name', target: 'Title' }],
    });
    const base = `/sites/${h.siteId}/lists/skips/items`;
    for (const title of ['keep 1', 'skip me', 'keep 2'])
      expect((await h.asUser('POST', base, { fields: { Title: title } })).status).toBe(201);
    expect(await runPull(h.ctx, 'skips', { trigger: 'test' })).toMatchObject({ created: 2, failed: 1 });
    const names = (await h.db.pool.query<{ name: string }>('SELECT name FROM skips ORDER BY name')).rows;
    expect(names.map((r) => r.name)).toEqual(['keep 1', 'keep 2']);
    const errors = await parkedErrors();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('returned 0 rows instead of one: a BEFORE INSERT trigger that returns NULL');
  });

  it('a chunk refused by lock_timeout goes item by item at once: one batched UPDATE, the locked row parked', async () => {
    await h.db.pool.query(`CREATE TABLE locked (id int PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO locked (id, name) SELECT n, 'row ' || n FROM generate_series(1, 8) n`);
    await h.define({
      name: 'locked',
      source: { table: 'locked', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'locked' },
      fields: [{ source: 'name', target: 'Title' }],
    });
    expect(await runPush(h.ctx, 'locked', { trigger: 'test' })).toMatchObject({ created: 8 });
    await runPull(h.ctx, 'locked', { trigger: 'test' });
    for (const item of await h.items('locked'))
      expect(
        (
          await h.asUser('PATCH', `/sites/${h.siteId}/lists/locked/items/${item.id}/fields`, {
            Title: `${String(item.fields.Title)} edited`,
          })
        ).status,
      ).toBe(200);

    // The engine's connections give up on a lock after 100 ms; the batched UPDATEs they send are counted.
    const batched: string[] = [];
    const WatchedClient = watchedClient((text) => {
      if (text.startsWith('UPDATE "public"."locked" AS t SET')) batched.push(text);
    });
    const pool = new Pool({
      connectionString: h.db.url,
      Client: WatchedClient,
      max: 4,
      options: '-c lock_timeout=100',
    });
    const holder = new Client({ connectionString: h.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT * FROM locked WHERE id = 5 FOR UPDATE');
      const summary = await runPull({ ...h.ctx, meta: pool, sourcePool: () => pool }, 'locked', {
        trigger: 'test',
      });
      expect(summary).toMatchObject({ updated: 7, failed: 1 });
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
      await pool.end();
    }
    expect(batched).toHaveLength(1);
    const errors = await parkedErrors();
    expect(errors.filter((e) => e.includes('lock timeout'))).toHaveLength(1);
    const { rows } = await h.db.pool.query<{ id: number; name: string }>(
      "SELECT id FROM locked WHERE name LIKE '% edited' ORDER BY id",
    );
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 6, 7, 8]);
  });
});

/**
 * Review of the batched pull writes (engine/pull/pageWrites.ts, source/postgres/batchWrites.ts insertMany) and of
 * how they meet a view's one-by-one inserts (engine/pull/applyPage.ts): no item linked to another item's row, no
 * valid change parked for the write order the page chose.
 *
 * As in test/core/engine/pullBatchPairing.test.ts, the engine runs on a pool whose client is a real subclass of
 * pg's Client that can reverse the batched INSERT's ORDER BY: Postgres then returns the rows in the opposite of
 * input order, the hazard the INSERT's content check exists for.
 */
import { Pool } from 'pg';
import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';
import type { EngineContext } from '../../src/core/engine/types';
import { installCursorTrigger } from '../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../support/engineHarness';
import { watchedClient } from '../support/watchedClient';

describe('batched pull writes (review)', () => {
  let h: Harness;
  let pool: Pool;
  let watched: EngineContext;
  let reverseInsertOrder = false;
  let reversed = 0;

  const WatchedClient = watchedClient((text) => {
    if (!reverseInsertOrder || !text.includes(' ORDER BY "__arcore_o" RETURNING ')) return;
    reversed++;
    return text.replace(' ORDER BY "__arcore_o" RETURNING ', ' ORDER BY "__arcore_o" DESC RETURNING ');
  });

  beforeAll(async () => {
    h = await startHarness();
    pool = new Pool({ connectionString: h.db.url, Client: WatchedClient, max: 4 });
    watched = { ...h.ctx, meta: pool, sourcePool: () => pool };
  });
  afterAll(async () => {
    await pool?.end();
    await h?.close();
  });

  const parked = async (name: string): Promise<string[]> =>
    (
      await h.db.pool.query<{ last_error: string }>(
        `SELECT f.last_error FROM arcore.sync_failures f JOIN arcore.sync_definitions d ON d.id = f.definition_id
          WHERE d.name = $1 AND f.direction = 'PULL' AND f.status = 'PARKED'`,
        [name],
      )
    ).rows.map((r) => r.last_error);

  it('rows that come back in another order are not paired with an item whose value a case-insensitive collation calls equal', async () => {
    await h.db.pool
      .query(`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
      CREATE TABLE rv_ci (id serial PRIMARY KEY, name text COLLATE ci NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', 'rv_ci', 'updated_at');
    await h.define({
      name: 'rv_ci',
      source: { table: 'rv_ci', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'rv_ci' },
      fields: [{ source: 'name', target: 'Title' }],
    });
    await runPush(h.ctx, 'rv_ci', { trigger: 'test' });
    await runPull(h.ctx, 'rv_ci', { trigger: 'test' });
    const base = `/sites/${h.siteId}/lists/rv_ci/items`;
    // Two new items whose titles differ only in case: the collation calls them equal, their bytes differ.
    for (const title of ['Twin', 'tWIN'])
      expect((await h.asUser('POST', base, { fields: { Title: title } })).status).toBe(201);

    reverseInsertOrder = true;
    reversed = 0;
    let run;
    try {
      run = await runPull(watched, 'rv_ci', { trigger: 'test' });
    } finally {
      reverseInsertOrder = false;
    }

    expect(reversed).toBe(1);
    expect(run).toMatchObject({ status: 'SUCCEEDED', created: 2, failed: 0 });
    const { rows: links } = await h.db.pool.query<{ item: string; name: string }>(
      `SELECT l.sp_item_id AS item, t.name FROM arcore.sync_ledger l
         JOIN arcore.sync_definitions d ON d.id = l.definition_id
         JOIN rv_ci t ON t.id = (l.source_identity->>'id')::int WHERE d.name = 'rv_ci'`,
    );
    const items = await h.items('rv_ci');
    expect(links).toHaveLength(2);
    for (const l of links) expect(l.name).toBe(items.find((i) => i.id === l.item)?.fields.Title);
  });

  it("a view's new item taking the key of an item deleted on the same page is inserted, not parked (I13 meets the write order)", async () => {
    await h.db.pool.query(`CREATE TABLE vk_rows (id serial PRIMARY KEY, code text, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      CREATE VIEW vk AS SELECT code, name, updated_at FROM vk_rows`);
    await installCursorTrigger(h.db.pool, 'public', 'vk_rows', 'updated_at');
    await h.define({
      name: 'vk',
      source: { table: 'vk', key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'vk' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code' },
      ],
    });
    await h.db.pool.query("INSERT INTO vk_rows (code, name) VALUES ('A', 'old a'), ('B', 'b')");
    expect(await runPush(h.ctx, 'vk', { trigger: 'test' })).toMatchObject({ created: 2, failed: 0 });
    await runPull(h.ctx, 'vk', { trigger: 'test' });
    const base = `/sites/${h.siteId}/lists/vk/items`;
    const old = (await h.items('vk')).find((i) => i.fields.Title === 'old a');
    // In SharePoint: the item of key A is deleted, then a new item takes key A (one delta page, in that order).
    expect((await h.asUser('DELETE', `${base}/${old!.id}`)).status).toBe(204);
    expect((await h.asUser('POST', base, { fields: { Title: 'new a', Code: 'A' } })).status).toBe(201);

    expect(await runPull(h.ctx, 'vk', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      deleted: 1,
      created: 1,
      failed: 0,
    });
    const { rows } = await h.db.pool.query<{ row: string }>(
      "SELECT code || ':' || name AS row FROM vk_rows ORDER BY code",
    );
    expect(rows.map((r) => r.row)).toEqual(['A:new a', 'B:b']);
    expect(await parked('vk')).toEqual([]);
  });
});

import { Pool } from 'pg';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import type { EngineContext } from '../../../src/core/engine/types';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import {
  countStatementsOn,
  installStatementCounts,
  resetStatementCounts,
  statementCounts,
} from '../../support/statementCounts';
import { watchedClient } from '../../support/watchedClient';

/**
 * Batched pull writes (engine/pull/pageWrites.ts, source/postgres/batchWrites.ts): a multi-row INSERT pairs each
 * returned row with its item by content, proven in the INSERT's own statement, where Postgres generates the key as
 * where the item supplies it; and a refused statement is split in halves down to its bad row, so one bad row
 * costs O(log n) statements instead of one savepoint per item.
 *
 * Statements that landed are counted by a statement-level trigger on the table. Statements sent (refused ones
 * included) are counted by a pool whose client is a real subclass of pg's Client that sees every query's text
 * before passing it on; it can also reverse the batched INSERT's ORDER BY, which makes Postgres return the rows
 * in the opposite of input order: the hazard the content check exists for.
 */
describe('batched pull inserts are paired by content; a refused statement is split (issue 23 known gaps)', () => {
  let h: Harness;
  let pool: Pool;
  /** The engine on `pool`, the watched pool. */
  let watched: EngineContext;
  const sent: string[] = [];
  let reverseInsertOrder = false;
  let reversed = 0;

  const WatchedClient = watchedClient((text) => {
    sent.push(text);
    if (!reverseInsertOrder || !text.includes(' ORDER BY "__arcore_o" RETURNING ')) return;
    reversed++;
    const desc = text.replace(' ORDER BY "__arcore_o" RETURNING ', ' ORDER BY "__arcore_o" DESC RETURNING ');
    sent[sent.length - 1] = desc;
    return desc;
  });

  beforeAll(async () => {
    h = await startHarness();
    pool = new Pool({ connectionString: h.db.url, Client: WatchedClient, max: 4 });
    watched = { ...h.ctx, meta: pool, sourcePool: () => pool };
    await installStatementCounts(h.db.pool);
  });
  afterAll(async () => {
    await pool?.end();
    await h?.close();
  });

  /**
   * Table `name` (`columns`, plus updated_at) with a key Postgres generates, synced to list `name` with
   * name → Title, cost → Cost, meta → Meta, tags → Tags.
   */
  const synced = async (name: string, columns: string, rows = 0) => {
    await h.db.pool.query(`CREATE TABLE ${name} (${columns}, updated_at timestamptz NOT NULL DEFAULT now());
      ${countStatementsOn(name)}`);
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    await h.define({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'cost', target: 'Cost' },
        { source: 'meta', target: 'Meta' },
        { source: 'tags', target: 'Tags' },
      ],
    });
    if (rows > 0)
      await h.db.pool.query(
        `INSERT INTO ${name} (name, cost) SELECT 'p' || i, i FROM generate_series(1, $1) i`,
        [rows],
      );
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: rows, failed: 0 });
    await runPull(h.ctx, name, { trigger: 'test' }); // the list's first delta (and the push's echoes)
    await resetStatementCounts(h.db.pool, name);
    const base = `/sites/${h.siteId}/lists/${name}/items`;
    return {
      create: async (fields: Record<string, unknown>) =>
        expect((await h.asUser('POST', base, { fields })).status).toBe(201),
      edit: async (itemId: string, fields: Record<string, unknown>) =>
        expect((await h.asUser('PATCH', `${base}/${itemId}/fields`, fields)).status).toBe(200),
      /** Statements of each kind that landed on the table since setup. */
      landed: () => statementCounts(h.db.pool, name),
      /**
       * Per ledger entry: the item's fields and the row its entry names (by the row's key), with the row's
       * values as text.
       */
      links: async () => {
        const { rows: entries } = await h.db.pool.query<{ key: string; item: string }>(
          `SELECT l.source_identity->>'id' AS key, l.sp_item_id AS item FROM arcore.sync_ledger l
             JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = $1`,
          [name],
        );
        const { rows: table } = await h.db.pool.query<Record<string, string | null>>(
          `SELECT id::text, name, cost::text, meta::text, tags::text FROM ${name}`,
        );
        const items = await h.items(name);
        return entries.map((e) => ({
          key: e.key,
          item: items.find((i) => i.id === e.item)?.fields,
          row: table.find((r) => r.id === e.key),
        }));
      },
    };
  };

  /** New items with distinct values of every mapped type, and two items equal in every supplied value. */
  const newItems: Record<string, unknown>[] = [
    { Title: 'delta', Cost: 12.5, Meta: '{"b": 1,  "a": [2]}', Tags: ['x', 'y'] },
    { Title: 'alpha', Cost: 0.25 },
    { Title: 'twin', Cost: 7 },
    { Title: 'charlie', Meta: '{"k": true}' },
    { Title: 'twin', Cost: 7 },
    { Title: 'bravo', Cost: 1000, Tags: ['z'] },
  ].map((f) => ('Tags' in f ? { ...f, 'Tags@odata.type': 'Collection(Edm.String)' } : f));

  /** Every ledger entry links its item to a row that holds exactly that item's values, each to its own row. */
  const expectEachItemOnItsOwnRow = (
    links: Awaited<ReturnType<Awaited<ReturnType<typeof synced>>['links']>>,
    name: (title: string) => string = (t) => t,
  ) => {
    expect(links).toHaveLength(newItems.length);
    for (const { item, row } of links) {
      expect(item).toBeDefined();
      expect(row).toBeDefined();
      expect(row!.name).toBe(name(item!.Title as string));
      expect(row!.cost === null ? null : Number(row!.cost)).toBe(item!.Cost ?? null);
      expect(row!.meta === null ? null : JSON.parse(row!.meta)).toEqual(
        item!.Meta ? JSON.parse(item!.Meta as string) : null,
      );
      expect(row!.tags).toBe(item!.Tags ? `{${(item!.Tags as string[]).join(',')}}` : null);
    }
    expect(new Set(links.map((l) => l.key)).size).toBe(newItems.length);
  };

  it('new items pulled into a table with a serial key are inserted in one statement, each linked to its own row', async () => {
    const t = await synced(
      'pp_serial',
      'id serial PRIMARY KEY, name varchar(40) NOT NULL, cost numeric(12,2), meta json, tags text[]',
    );
    for (const fields of newItems) await t.create(fields);

    expect(await runPull(watched, 'pp_serial', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: newItems.length,
      failed: 0,
    });

    // One INSERT: the content check held for varchar(40), numeric(12,2) (12.5 is stored as 12.50), json
    // (no equality operator; its text is kept as sent) and text[].
    expect(await t.landed()).toEqual({ INSERT: 1 });
    expectEachItemOnItsOwnRow(await t.links());
  });

  it('new items pulled into a table with a uuid default key are inserted in one statement, each linked to its own row', async () => {
    const t = await synced(
      'pp_uuid',
      'id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL, cost numeric(12,2), meta json, tags text[]',
    );
    for (const fields of newItems) await t.create(fields);

    expect(await runPull(watched, 'pp_uuid', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: newItems.length,
      failed: 0,
    });

    expect(await t.landed()).toEqual({ INSERT: 1 });
    expectEachItemOnItsOwnRow(await t.links());
  });

  it('rows that come back in another order than the input are never linked to the wrong item', async () => {
    const t = await synced(
      'pp_reversed',
      'id serial PRIMARY KEY, name text NOT NULL, cost numeric(12,2), meta json, tags text[]',
    );
    for (const fields of newItems) await t.create(fields);

    reverseInsertOrder = true;
    reversed = 0;
    let run;
    try {
      run = await runPull(watched, 'pp_reversed', { trigger: 'test' });
    } finally {
      reverseInsertOrder = false;
    }

    expect(reversed).toBe(1); // the batched INSERT ran, with its rows in reverse
    expect(run).toMatchObject({ status: 'SUCCEEDED', created: newItems.length, failed: 0 });
    expectEachItemOnItsOwnRow(await t.links());
    // The reversed statement was rolled back: each item was then inserted alone.
    expect(await t.landed()).toEqual({ INSERT: newItems.length });
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

  it('a BEFORE INSERT trigger that rewrites a supplied value sends the chunk item by item, each item on its own row', async () => {
    const t = await synced(
      'pp_rewritten',
      'id serial PRIMARY KEY, name text NOT NULL, cost numeric(12,2), meta json, tags text[]',
    );
    await h.db.pool.query(`CREATE FUNCTION mark_name() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN NEW.name := NEW.name || ' (checked)'; RETURN NEW; END $$;
      CREATE TRIGGER mark_name BEFORE INSERT ON pp_rewritten FOR EACH ROW EXECUTE FUNCTION mark_name();`);
    for (const fields of newItems) await t.create(fields);

    sent.length = 0;
    expect(await runPull(watched, 'pp_rewritten', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: newItems.length,
      failed: 0,
    });

    // The batched INSERT came back with other names than supplied: rolled back, each item inserted alone.
    expect(await t.landed()).toEqual({ INSERT: newItems.length });
    expectEachItemOnItsOwnRow(await t.links(), (title) => `${title} (checked)`);
    // Halves would meet the trigger again: one batched attempt only.
    expect(sent.filter((q) => q.startsWith('WITH "__arcore_v"')).length).toBe(1);
  });

  it('a table with a DO ALSO rule (no INSERT inside WITH there) takes its new items one by one, not by halves', async () => {
    const t = await synced(
      'pp_ruled',
      'id serial PRIMARY KEY, name text NOT NULL, cost numeric(12,2), meta json, tags text[]',
    );
    await h.db.pool.query(`CREATE TABLE pp_ruled_log (name text);
      CREATE RULE log_insert AS ON INSERT TO pp_ruled DO ALSO INSERT INTO pp_ruled_log VALUES (NEW.name);`);
    for (const fields of newItems) await t.create(fields);

    sent.length = 0;
    expect(await runPull(watched, 'pp_ruled', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: newItems.length,
      failed: 0,
    });

    expectEachItemOnItsOwnRow(await t.links());
    // Postgres refuses the statement's form, not a row: one batched attempt, then each item alone.
    expect(sent.filter((q) => q.startsWith('WITH "__arcore_v"')).length).toBe(1);
    expect(sent.filter((q) => q.startsWith('INSERT INTO "public"."pp_ruled"')).length).toBe(newItems.length);
  });

  it('every new item refused alike (a NOT NULL column the definition does not fill) costs about one savepoint per item, not twice that', async () => {
    const t = await synced(
      'pp_refused',
      'id serial PRIMARY KEY, name text, cost numeric(12,2), meta json, tags text[], code text NOT NULL',
    );
    for (let i = 0; i < 16; i++) await t.create({ Title: `n${i}` });

    sent.length = 0;
    expect(await runPull(watched, 'pp_refused', { trigger: 'test' })).toMatchObject({
      status: 'PARTIAL',
      created: 0,
      failed: 16,
    });

    const { rows: parked } = await h.db.pool.query<{ last_error: string }>(
      `SELECT f.last_error FROM arcore.sync_failures f JOIN arcore.sync_definitions d ON d.id = f.definition_id
        WHERE d.name = 'pp_refused' AND f.status = 'PARKED' AND f.direction = 'PULL'`,
    );
    expect(parked).toHaveLength(16);
    for (const p of parked) expect(p.last_error).toMatch(/null value in column "code"/);
    // Halves until 2·log2(16) statements failed beyond the first (all halves would send 15), then each item alone.
    expect(sent.filter((q) => q.startsWith('WITH "__arcore_v"')).length).toBe(2 * Math.log2(16) + 1);
    expect(sent.filter((q) => q.startsWith('INSERT INTO "public"."pp_refused"')).length).toBe(16);
  });

  it('one refused row among 64 updates costs O(log n) statements; a refused insert among new items too; the rest lands', async () => {
    const t = await synced(
      'pp_bisect',
      "id serial PRIMARY KEY, name text NOT NULL CHECK (name <> 'bad'), cost numeric(12,2), meta json, tags text[]",
      64,
    );
    const items = (await h.items('pp_bisect')).sort((a, b) =>
      a.id.localeCompare(b.id, 'en', { numeric: true }),
    );
    expect(items).toHaveLength(64);
    const bad = items[37];
    for (const item of items)
      await t.edit(item.id, { Title: item === bad ? 'bad' : `${item.fields.Title as string} edited` });
    // New items with a generated key, one of them refused by the CHECK: their chunk is split too.
    for (const fields of [
      { Title: 'new a', Cost: 1 },
      { Title: 'bad', Cost: 2 },
      { Title: 'new c' },
      { Title: 'new d' },
    ])
      await t.create(fields);

    sent.length = 0;
    const run = await runPull(watched, 'pp_bisect', { trigger: 'test' });

    expect(run).toMatchObject({ status: 'PARTIAL', updated: 63, created: 3, failed: 2 });
    const { rows } = await h.db.pool.query<{ name: string }>('SELECT name FROM pp_bisect ORDER BY id');
    expect(rows.filter((r) => r.name.endsWith(' edited'))).toHaveLength(63);
    expect(
      rows
        .filter((r) => !r.name.endsWith(' edited'))
        .map((r) => r.name)
        .sort(),
    ).toEqual(['new a', 'new c', 'new d', bad.fields.Title]);
    const fresh = (await t.links()).filter((l) => l.row?.name?.startsWith('new '));
    expect(fresh.map((l) => [l.item!.Title, l.row?.name]).sort()).toEqual([
      ['new a', 'new a'],
      ['new c', 'new c'],
      ['new d', 'new d'],
    ]);
    const { rows: parked } = await h.db.pool.query<{ item: string; last_error: string }>(
      `SELECT f.sp_item_id AS item, f.last_error FROM arcore.sync_failures f
         JOIN arcore.sync_definitions d ON d.id = f.definition_id
        WHERE d.name = 'pp_bisect' AND f.status = 'PARKED' AND f.direction = 'PULL'`,
    );
    expect(parked).toHaveLength(2);
    for (const p of parked) expect(p.last_error).toMatch(/violates check constraint "pp_bisect_name_check"/);
    expect(parked.map((p) => p.item)).toContain(bad.id);
    // The updates: halves of 64, 32, …, 2 (one refused, one landing at each level), then the last two items alone:
    // 13 UPDATE statements sent, 6 landed; one savepoint per item sent 65.
    expect(sent.filter((q) => q.startsWith('UPDATE "public"."pp_bisect"')).length).toBe(
      2 * Math.log2(64) + 1,
    );
    expect((await t.landed()).UPDATE).toBe(Math.log2(64));
    // The whole pull, metadata included, sends under half the queries that the writes alone took with one
    // savepoint per item (savepoint, write, release for each of the 68 items).
    expect(sent.length).toBeLessThan((3 * 68) / 2);
  });
});

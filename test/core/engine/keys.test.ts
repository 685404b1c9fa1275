import { describeFailure, RunFailedError } from '../../../src/cli/failures';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { splitDuplicateIdentities } from '../../../src/core/engine/identity';
import { provisionList } from '../../../src/core/engine/provision';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { upsertDefinitions } from '../../../src/core/store/definitions';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

function definition(name: string, table: string, key: string[], list: string): SyncDefinitionInput {
  return {
    name,
    source: { table, key, cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: SITE, list },
    fields: [{ source: 'name', target: 'Title' }],
  };
}

describe('I13 identity is unique', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => h.close());

  const parked = async (direction: string) =>
    (
      await h.db.pool.query(
        `SELECT item_key, last_error FROM arcore.sync_failures WHERE status = 'PARKED' AND direction = $1
          ORDER BY item_key`,
        [direction],
      )
    ).rows as { item_key: string; last_error: string }[];
  const spEdit = async (list: string, itemId: string, fields: Record<string, unknown>) => {
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${list}/items/${itemId}/fields`, fields);
    expect(res.status).toBe(200);
  };

  describe('a key no unique index covers', () => {
    beforeEach(async () => {
      await h.db.pool.query(`CREATE TABLE sales (id int PRIMARY KEY, region text NOT NULL, name text,
        updated_at timestamptz NOT NULL DEFAULT now())`);
      await h.db.pool.query(
        `INSERT INTO sales (id, region, name) SELECT g, (ARRAY['north','south','west'])[g % 3 + 1], 'n' || g
           FROM generate_series(1, 250) g`,
      );
    });

    it('every run refuses it with exit 2, naming the key and the DDL; nothing is written', async () => {
      await h.define(definition('sales', 'sales', ['id'], 'Sales'));
      await upsertDefinitions(h.db.pool, [
        parseDefinition(definition('sales', 'sales', ['region'], 'Sales')),
      ]);
      for (const run of [runPush, runPull]) {
        const summary = await run(h.ctx, 'sales', { trigger: 'test' });
        expect(summary.status).toBe('FAILED');
        expect(summary.error).toBe(
          'Definition "sales": source.key [region] does not identify one row of "public"."sales": no primary key ' +
            'or unique index (without WHERE) covers it. Add one: CREATE UNIQUE INDEX ON "public"."sales" ("region"); ' +
            '(if that fails on duplicates, the key is wrong: choose columns that identify one row)',
        );
        expect(summary.errorKind).toBe('invalid_definition');
        const failure = new RunFailedError('sales', summary.runType, summary.error!, summary);
        expect(describeFailure(failure).exitCode).toBe(2);
      }
      expect(await h.items('Sales')).toEqual([]);
    });

    it('provision refuses it too (exit 2) and creates no list', async () => {
      await upsertDefinitions(h.db.pool, [
        parseDefinition(definition('sales', 'sales', ['region'], 'Sales')),
      ]);
      const error = await provisionList(h.ctx, 'sales').catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'KeyNotUniqueError' });
      expect(describeFailure(error).exitCode).toBe(2);
      const res = await h.asUser('GET', `/sites/${h.siteId}/lists/Sales`);
      expect(res.status).toBe(404);
    });

    it('runs once a unique index covers the key', async () => {
      await h.db.pool.query(
        'CREATE TABLE regions (region text PRIMARY KEY, name text, updated_at timestamptz NOT NULL DEFAULT now())',
      );
      await h.db.pool.query("INSERT INTO regions VALUES ('north', 'N'), ('south', 'S')");
      await h.define(definition('regions', 'regions', ['region'], 'Regions'));
      expect(await runPush(h.ctx, 'regions', { trigger: 'test' })).toMatchObject({
        status: 'SUCCEEDED',
        created: 2,
      });
    });
  });

  describe('a view (uniqueness not enforced)', () => {
    beforeEach(async () => {
      await h.db.pool.query(`CREATE TABLE codes (id serial PRIMARY KEY, code text, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
        CREATE VIEW coded AS SELECT code, name, updated_at FROM codes;`);
      await installCursorTrigger(h.db.pool, 'public', 'codes', 'updated_at');
      await h.define(definition('coded', 'coded', ['code'], 'Coded'));
    });
    const push = () => runPush(h.ctx, 'coded', { trigger: 'test' });
    const titles = async () => (await h.items('Coded')).map((i) => i.fields.Title).sort();

    it('a push meeting two rows with one key parks both, naming the key, and writes neither', async () => {
      await h.db.pool.query("INSERT INTO codes (code, name) VALUES ('A', 'a1'), ('A', 'a2'), ('B', 'b')");
      expect(await push()).toMatchObject({ status: 'PARTIAL', created: 1, failed: 2 });
      expect(await titles()).toEqual(['b']);
      expect((await parked('PUSH')).map((p) => p.last_error)).toEqual([
        '2 different rows share the key code="A": none of them is synced until the key identifies one row ' +
          '(make it unique, or fix the duplicated rows)',
      ]);
      // Still duplicated: the retry (and the overlap window) park them again, still writing neither.
      expect(await push()).toMatchObject({ created: 0, status: 'PARTIAL' });
      expect(await titles()).toEqual(['b']);
      await h.db.pool.query("UPDATE codes SET code = 'C' WHERE name = 'a2'");
      expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 2, failed: 0 });
      expect(await titles()).toEqual(['a1', 'a2', 'b']);
      expect(await parked('PUSH')).toEqual([]);
    });

    it('a pull write that would touch two rows rolls back and parks; the rest of the page applies', async () => {
      await h.db.pool.query("INSERT INTO codes (code, name) VALUES ('B', 'b'), ('D', 'd')");
      await push();
      // A second row with key B holding the same values: SharePoint's edit would be written to both.
      await h.db.pool.query("INSERT INTO codes (code, name) VALUES ('B', 'b')");
      const items = await h.items('Coded');
      await spEdit('Coded', items.find((i) => i.fields.Title === 'b')!.id, { Title: 'b edited' });
      await spEdit('Coded', items.find((i) => i.fields.Title === 'd')!.id, { Title: 'd edited' });
      expect(await runPull(h.ctx, 'coded', { trigger: 'test' })).toMatchObject({ updated: 1, failed: 1 });
      const names = (await h.db.pool.query('SELECT name FROM codes ORDER BY id')).rows.map((r) => r.name);
      expect(names).toEqual(['b', 'd edited', 'b']);
      expect((await parked('PULL')).map((p) => p.last_error)).toEqual([
        expect.stringContaining(
          'update of "public"."coded" by key code="B" matched 2 rows instead of exactly one: the key does not ' +
            'identify one row; rolled back, nothing was written',
        ),
      ]);
    });

    it('a NULL key is parked with a clear message until no such row is left', async () => {
      await h.db.pool.query("INSERT INTO codes (code, name) VALUES (NULL, 'nameless'), ('E', 'e')");
      expect(await push()).toMatchObject({ created: 1, failed: 1 });
      const expected = [
        {
          item_key: 'null-key',
          last_error:
            'key column code is NULL on a row (other key values: none): a row without a complete key is never ' +
            'synced; give it a value, or leave such rows out with a view',
        },
      ];
      expect(await parked('PUSH')).toEqual(expected);
      await push();
      expect(await parked('PUSH')).toEqual(expected);
      await h.db.pool.query("UPDATE codes SET code = 'F' WHERE name = 'nameless'");
      expect(await push()).toMatchObject({ created: 1, failed: 0 });
      expect(await parked('PUSH')).toEqual([]);
      expect(await titles()).toEqual(['e', 'nameless']);
    });
  });

  it('an enum key column is matched with its own type on writes', async () => {
    await h.db.pool.query(`CREATE SCHEMA app; CREATE TYPE app.kind AS ENUM ('x', 'y');
      CREATE TABLE kinds (kind app.kind, n int, name text, updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, n))`);
    await h.db.pool.query("INSERT INTO kinds (kind, n, name) VALUES ('x', 1, 'one'), ('y', 1, 'two')");
    await h.define(definition('kinds', 'kinds', ['kind', 'n'], 'Kinds'));
    expect(await runPush(h.ctx, 'kinds', { trigger: 'test' })).toMatchObject({ created: 2 });
    const item = (await h.items('Kinds')).find((i) => i.fields.Title === 'two')!;
    await spEdit('Kinds', item.id, { Title: 'two edited' });
    expect(await runPull(h.ctx, 'kinds', { trigger: 'test' })).toMatchObject({ updated: 1, failed: 0 });
    expect((await h.db.pool.query("SELECT name FROM kinds WHERE kind = 'y'")).rows[0].name).toBe(
      'two edited',
    );
  });
});

describe('splitDuplicateIdentities', () => {
  const row = (name: string, cursor = '2026-01-01 00:00:00+00') => ({
    hash: 'h',
    identity: { code: 'A' },
    row: { values: { code: 'A', name }, cursor },
  });

  it('keeps one copy of the same row read twice (overlap window, retry)', () => {
    const { unique, duplicates } = splitDuplicateIdentities([row('a'), row('a')]);
    expect(unique).toHaveLength(1);
    expect(duplicates).toEqual([]);
  });

  it('sets apart two different rows with one key', () => {
    const { unique, duplicates } = splitDuplicateIdentities([
      row('a'),
      row('b'),
      { ...row('c'), hash: 'other' },
    ]);
    expect(unique.map((r) => r.row.values.name)).toEqual(['c']);
    expect(duplicates).toMatchObject([{ hash: 'h', rows: [row('a'), row('b')] }]);
  });

  it('tells rows apart by their cursor too', () => {
    expect(splitDuplicateIdentities([row('a', 't1'), row('a', 't2')]).duplicates).toHaveLength(1);
  });
});

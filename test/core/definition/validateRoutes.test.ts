import { parseDefinitionsFile } from '../../../src/core/definition/parse';
import type { SyncDefinition } from '../../../src/core/definition/schema';
import { validateAgainstDatabase } from '../../../src/core/definition/validateLive';
import { routeHash } from '../../../src/core/routing';
import { freshDatabase, type TestDatabase } from '../../support/db';

/** The SQL function docs/cli.md ("Routing") gives users to compute hash() buckets in Postgres. */
const ROUTE_HASH_SQL = `CREATE FUNCTION route_hash(value text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  bytes bytea := convert_to(value, 'UTF8');
  h bigint := 2166136261;
BEGIN
  FOR i IN 0 .. length(bytes) - 1 LOOP
    h := ((h # get_byte(bytes, i)) * 16777619) % 4294967296;
  END LOOP;
  RETURN h;
END $$;`;

function definition(routes: { when?: string; list: string }[]): SyncDefinition {
  return parseDefinitionsFile({
    definitions: [
      {
        name: 'orders',
        source: { table: 'orders', key: ['id'], cursor: { column: 'updated_at' } },
        target: { site: 'contoso.sharepoint.com:/sites/ops', routes },
        fields: [
          { source: 'title', target: 'Title' },
          { source: 'region', target: 'Region' },
          { source: 'amount', target: 'Amount' },
          { source: 'status', target: 'Status' },
          { source: 'tags', target: 'Tags' },
          { source: 'ref', target: 'Ref' },
        ],
      },
    ],
  }).definitions[0];
}

describe('validate checks routes against the real table', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
    await db.pool
      .query(`CREATE TABLE orders (id int PRIMARY KEY, title text, region text, amount numeric(12,2),
      status text, tags text[], ref uuid, updated_at timestamptz NOT NULL DEFAULT now());
      CREATE INDEX ON orders (updated_at, id);`);
  });
  afterAll(async () => db.drop());

  const problems = async (routes: { when?: string; list: string }[]) => {
    const report = await validateAgainstDatabase(definition(routes), db.pool);
    return {
      errors: report.errors.map((e) => `${e.path}: ${e.message}`),
      warnings: report.warnings
        .filter((w) => w.path.startsWith('target.routes'))
        .map((w) => `${w.path}: ${w.message}`),
    };
  };

  it('passes sound routes', async () => {
    expect(
      await problems([
        { when: "status == 'ACTIVE'", list: 'Active' },
        { when: "region in ('EU', 'UK') and amount >= 1000", list: 'Big' },
        { when: 'hash(id) % 4 == 0', list: 'Shard' },
        { when: "ref == '6F1C2B9E-0000-4000-8000-00000000ABCD'", list: 'One' },
        { list: 'Rest' },
      ]),
    ).toEqual({ errors: [], warnings: [] });
  });

  it('reports type mismatches with the JSON path and the character', async () => {
    expect(
      await problems([
        { when: "amount >= '1000'", list: 'Big' },
        { when: "tags == 'x'", list: 'Tagged' },
        { when: "ref == 'not-a-uuid'", list: 'One' },
        { list: 'Rest' },
      ]),
    ).toEqual({
      errors: [
        `target.routes[0].when: >= compares column "amount" (number), which is a number, with the string '1000', which is text at character 1 of "amount >= '1000'"`,
        `target.routes[1].when: column "tags" (multiChoice) holds several values: a condition can test it only with is null or is not null at character 1 of "tags == 'x'"`,
        expect.stringContaining(
          `target.routes[2].when: 'not-a-uuid' is not a valid uuid value for column "ref"`,
        ),
      ],
      warnings: [],
    });
  });

  it('reports routes that can never match as errors and an unused default as a warning', async () => {
    expect(
      await problems([
        { when: 'amount > 10 or amount <= 10 or amount is null', list: 'All' },
        { when: "status == 'A' and status == 'B'", list: 'Never' },
        { list: 'Rest' },
      ]),
    ).toEqual({
      errors: ['target.routes[1].when: never matches: the condition is never true (it contradicts itself)'],
      warnings: [
        'target.routes[2].when: the default route is never used: every row matches an earlier route',
      ],
    });
  });

  it('refuses a routed list that another definition already writes, whatever its case', async () => {
    const routed = definition([{ when: "status == 'A'", list: 'Archive' }, { list: 'Projects' }]);
    const other = {
      ...routed,
      name: 'other',
      target: { ...routed.target, routes: undefined, list: 'projects' },
    };
    const report = await validateAgainstDatabase(routed, db.pool, [other]);
    expect(report.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'target.routes: list "Projects" on "contoso.sharepoint.com:/sites/ops" is already the target of definition ' +
        '"other" (as "projects")',
    ]);
  });

  it('warns that a constant the column transforms would change never equals it', async () => {
    const def = definition([
      { when: "status == 'ACTIVE' or status in ('paused', ' Done')", list: 'A' },
      { list: 'B' },
    ]);
    const status = def.fields.find((f) => f.source === 'status');
    if (status) status.transform = ['trim', 'lowercase'];
    const report = await validateAgainstDatabase(def, db.pool);
    expect(report.errors).toEqual([]);
    expect(
      report.warnings.filter((w) => w.path.startsWith('target.routes')).map((w) => `${w.path}: ${w.message}`),
    ).toEqual([
      `target.routes[0].when: "status" is read after its transforms (trim, lowercase), so it never equals 'ACTIVE': write 'active'`,
      `target.routes[0].when: "status" is read after its transforms (trim, lowercase), so it never equals ' Done': write 'done'`,
    ]);
  });

  it("computes the same hash() buckets in SQL with the documented function as the engine's", async () => {
    await db.pool.query(ROUTE_HASH_SQL);
    const texts = ['', 'a', 'foobar', 'Zürich', '東京', '6f1c2b9e-0000-4000-8000-00000000abcd', "it's"];
    const { rows } = await db.pool.query<{ t: string; h: string; b: number }>(
      `SELECT t, route_hash(t) AS h, (route_hash(t) % 4)::int AS b FROM unnest($1::text[]) AS t
       UNION ALL SELECT id::text, route_hash(id::text), (route_hash(id::text) % 4)::int FROM generate_series(1, 200) AS id`,
      [texts],
    );
    for (const r of rows) {
      const value = /^\d+$/.test(r.t) ? Number(r.t) : r.t;
      expect([r.t, Number(r.h), r.b]).toEqual([r.t, routeHash(value), (routeHash(value) as number) % 4]);
    }
    expect(rows).toHaveLength(texts.length + 200);
  });
});

import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinition } from '../../../src/core/definition/schema';
import { validateAgainstDatabase } from '../../../src/core/definition/validateLive';
import { freshDatabase, type TestDatabase } from '../../support/db';

function definition(
  table: string,
  key: string[],
  fields = [{ source: 'name', target: 'Title' }],
): SyncDefinition {
  return parseDefinition({
    name: table,
    source: { table, key, cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: 'contoso.sharepoint.com:/sites/ops', list: table },
    fields,
  });
}

const keyErrors = async (db: TestDatabase, def: SyncDefinition) =>
  (await validateAgainstDatabase(def, db.pool)).errors.filter((e) => e.path === 'source.key');

describe('I13 validate: the key must identify one row', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
    // The reproduction of issue 14: 250 rows, key "region" with 3 values.
    await db.pool.query(`CREATE TABLE sales (id int PRIMARY KEY, region text NOT NULL, name text,
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.pool.query(
      `INSERT INTO sales (id, region, name) SELECT g, (ARRAY['north','south','west'])[g % 3 + 1], 'n' || g
         FROM generate_series(1, 250) g`,
    );
    await db.pool.query(
      `CREATE TABLE bare (id int NOT NULL, name text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await db.pool
      .query(`CREATE TABLE lines (order_id int, line int, name text, updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (order_id, line))`);
    await db.pool.query(`CREATE TABLE coded (id int PRIMARY KEY, code text NOT NULL, site text, name text,
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.pool.query('CREATE UNIQUE INDEX ON coded (code)');
    await db.pool.query('CREATE UNIQUE INDEX ON coded (site) WHERE site IS NOT NULL');
  });
  afterAll(async () => db.drop());

  it('refuses key ["region"] on 250 rows with 3 values, naming the key, a duplicate and the DDL', async () => {
    const report = await validateAgainstDatabase(definition('sales', ['region']), db.pool);
    expect(report.errors).toHaveLength(1);
    const [error] = report.errors;
    expect(error.path).toBe('source.key');
    expect(error.message).toContain('key [region] is not covered by a primary key or unique index');
    expect(error.message).toMatch(/region="(north|south|west)" occurs on 8\d rows/);
    expect(error.message).toContain('CREATE UNIQUE INDEX ON "public"."sales" ("region");');
  });

  it('passes the primary key of the same table', async () => {
    expect(await keyErrors(db, definition('sales', ['id']))).toEqual([]);
  });

  it('offers ADD PRIMARY KEY for a table without one', async () => {
    const [error] = await keyErrors(db, definition('bare', ['id']));
    expect(error.message).toContain('ALTER TABLE "public"."bare" ADD PRIMARY KEY ("id");');
    expect(error.message).toContain('no duplicate exists today');
  });

  it('accepts a composite primary key named in another order', async () => {
    expect(await keyErrors(db, definition('lines', ['line', 'order_id']))).toEqual([]);
  });

  it('accepts a unique index whose columns are a subset of the key', async () => {
    expect(await keyErrors(db, definition('coded', ['code', 'name']))).toEqual([]);
    expect(await keyErrors(db, definition('coded', ['code']))).toEqual([]);
  });

  it('does not count a partial unique index', async () => {
    const [error] = await keyErrors(db, definition('coded', ['site']));
    expect(error.message).toContain('CREATE UNIQUE INDEX ON "public"."coded" ("site");');
  });

  it('scans a view: refuses an example duplicate, and warns that nothing enforces uniqueness', async () => {
    await db.pool.query('CREATE VIEW sales_by_region AS SELECT region, name, updated_at FROM sales');
    const report = await validateAgainstDatabase(definition('sales_by_region', ['region']), db.pool);
    expect(report.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(
        /^key \[region\] does not identify one row of view "public"\."sales_by_region": region="\w+" occurs on 8\d rows$/,
      ),
    ]);
    expect(report.warnings.map((w) => w.message)).toContain(
      '"public"."sales_by_region" is a view: nothing enforces that key [region] stays unique; a push that meets two rows with one key parks both',
    );
  });

  it('passes a view whose key is unique today, with the warning', async () => {
    await db.pool.query('CREATE VIEW sales_v AS SELECT id, name, updated_at FROM sales');
    const report = await validateAgainstDatabase(definition('sales_v', ['id']), db.pool);
    expect(report.errors).toEqual([]);
    expect(report.warnings.some((w) => w.path === 'source.key' && w.message.includes('is a view'))).toBe(
      true,
    );
  });

  it('never suggests DDL a view cannot take: no ALTER TABLE or CREATE INDEX on the view itself', async () => {
    await db.pool.query('CREATE VIEW sales_cursor_v AS SELECT id, name, updated_at FROM sales');
    const report = await validateAgainstDatabase(definition('sales_cursor_v', ['id']), db.pool);
    const cursorWarnings = report.warnings.filter((w) => w.path === 'source.cursor.column');
    expect(cursorWarnings.length).toBeGreaterThan(0);
    for (const w of cursorWarnings) {
      expect(w.message).toContain('table underneath');
      expect(w.message).not.toMatch(/ALTER TABLE|CREATE INDEX/);
    }
  });
});

describe('validate: enums, domains and types provision cannot create', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
    await db.pool.query(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
      CREATE DOMAIN price AS numeric(12,2);
      CREATE TABLE people (id int PRIMARY KEY, name text, mood mood, moods mood[], cost price, spot point,
        updated_at timestamptz NOT NULL DEFAULT now());
      CREATE INDEX ON people (updated_at, id);`);
  });
  afterAll(async () => db.drop());

  it('passes an enum, an enum array and a domain without a word', async () => {
    const def = definition(
      'people',
      ['id'],
      [
        { source: 'name', target: 'Title' },
        { source: 'mood', target: 'Mood' },
        { source: 'moods', target: 'Moods' },
        { source: 'cost', target: 'Cost' },
      ],
    );
    expect(await validateAgainstDatabase(def, db.pool)).toMatchObject({ errors: [], warnings: [] });
  });

  it('warns that provision cannot create a column for a type it does not map', async () => {
    const def = definition('people', ['id'], [{ source: 'spot', target: 'Spot' }]);
    const report = await validateAgainstDatabase(def, db.pool);
    expect(report.errors).toEqual([]);
    expect(report.warnings.map((w) => `${w.path}: ${w.message}`)).toEqual([
      'fields[0].source: cannot map Postgres column spot (point) to a provisioned SharePoint column: this Postgres ' +
        'type is not supported; provision cannot create "Spot": the list needs an existing column of a compatible type',
    ]);
  });
});

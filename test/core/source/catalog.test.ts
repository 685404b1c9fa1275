import { fieldKindFor, pgCastFor, spColumnTypeForProvisioning, toPgParam } from '../../../src/core/canonical';
import { readSourceTable } from '../../../src/core/source/postgres/catalog';
import { freshDatabase, type TestDatabase } from '../../support/db';

describe('source catalog: domains and enums', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
    await db.pool.query(`CREATE SCHEMA app;
      CREATE TYPE app."Mood" AS ENUM ('sad', 'ok', 'happy');
      CREATE DOMAIN money2 AS numeric(12,2) CHECK (VALUE >= 0);
      CREATE DOMAIN price AS money2 NOT NULL DEFAULT 0;
      CREATE DOMAIN mood_d AS app."Mood";
      CREATE TABLE people (id int PRIMARY KEY, name varchar(20), mood app."Mood", moods app."Mood"[],
        cost price, feeling mood_d, costs money2[], stamp timestamptz NOT NULL);`);
  });
  afterAll(async () => db.drop());

  const column = async (name: string) =>
    (await readSourceTable(db.pool, 'public', 'people'))!.columns.find((c) => c.name === name)!;

  it('reads plain columns as information_schema names them', async () => {
    expect(await column('name')).toEqual({
      name: 'name',
      attnum: 2,
      dataType: 'character varying',
      udtName: 'varchar',
      isNullable: true,
      numericScale: null,
      maxLength: 20,
      hasDefault: false,
      sqlType: 'character varying(20)',
    });
    expect(await column('stamp')).toMatchObject({ dataType: 'timestamp with time zone', isNullable: false });
  });

  it('agrees with information_schema on columns of built-in types', async () => {
    await db.pool
      .query(`CREATE TABLE builtin (a smallint, b integer, c bigint, d numeric, e numeric(9,3), f real,
      g double precision, h boolean, i date, j timestamp, k timestamptz, l uuid, m json, n jsonb, o text[],
      p varchar(5)[], q char(3), r bytea, s int4[], t serial, u interval, v time, w "char", x name)`);
    const info = await readSourceTable(db.pool, 'public', 'builtin');
    // The limits Postgres enforces without naming the column (varchar(n), also as an array's element; numeric(p, s)).
    const limits = info!.columns.flatMap(({ name, maxLength, numericPrecision }) =>
      maxLength !== undefined || numericPrecision !== undefined
        ? [{ name, maxLength, numericPrecision }]
        : [],
    );
    expect(limits).toEqual([
      { name: 'e', maxLength: undefined, numericPrecision: 9 },
      { name: 'p', maxLength: 5, numericPrecision: undefined },
    ]);
    const withoutLimits = info!.columns.map(
      ({ maxLength: _max, numericPrecision: _precision, ...rest }) => rest,
    );
    const { rows } = await db.pool.query(
      `SELECT column_name AS name, ordinal_position::int AS attnum, data_type AS "dataType", udt_name AS "udtName",
              is_nullable = 'YES' AS "isNullable", numeric_scale AS "numericScale",
              column_default IS NOT NULL AS "hasDefault",
              format_type(a.atttypid, a.atttypmod) AS "sqlType"
         FROM information_schema.columns c
         JOIN pg_attribute a ON a.attrelid = 'builtin'::regclass AND a.attname = c.column_name
        WHERE table_name = 'builtin' ORDER BY ordinal_position`,
    );
    expect(withoutLimits).toEqual(rows);
  });

  it('resolves a domain over a domain to its base type, with NOT NULL and default of any level', async () => {
    expect(await column('cost')).toEqual({
      name: 'cost',
      attnum: 5,
      dataType: 'numeric',
      udtName: 'numeric',
      isNullable: false,
      numericScale: 2,
      numericPrecision: 12,
      hasDefault: true,
      sqlType: 'price',
    });
    expect(await column('costs')).toMatchObject({ dataType: 'ARRAY', udtName: '_numeric' });
  });

  it('reads an enum, an enum array and a domain over an enum with their labels in order', async () => {
    const labels = ['sad', 'ok', 'happy'];
    expect(await column('mood')).toMatchObject({
      dataType: 'USER-DEFINED',
      enum: { schema: 'app', name: 'Mood', labels },
    });
    expect(await column('moods')).toMatchObject({ dataType: 'ARRAY', enum: { schema: 'app', name: 'Mood' } });
    expect((await column('feeling')).enum).toEqual({ schema: 'app', name: 'Mood', labels });
  });

  it('maps an enum to a choice column of its labels, an enum array to multi-choice', async () => {
    const mood = await column('mood');
    const moods = await column('moods');
    expect(fieldKindFor(mood, undefined)).toBe('choice');
    expect(fieldKindFor(moods, undefined)).toBe('multiChoice');
    expect(spColumnTypeForProvisioning(mood)).toEqual({
      choice: { allowTextEntry: false, choices: ['sad', 'ok', 'happy'], displayAs: 'dropDownMenu' },
    });
    expect(spColumnTypeForProvisioning(moods)).toMatchObject({ choice: { displayAs: 'checkBoxes' } });
    expect(pgCastFor(mood)).toBe('::"app"."Mood"');
    expect(pgCastFor(moods)).toBe('::"app"."Mood"[]');
    expect(fieldKindFor(await column('cost'), undefined)).toBe('number');
  });

  it('refuses a value outside the enum, naming the allowed labels', async () => {
    const mood = await column('mood');
    expect(toPgParam('choice', 'ok', mood)).toBe('ok');
    expect(() => toPgParam('choice', 'furious', mood)).toThrow(
      '"furious" is not a label of enum app.Mood (column mood); allowed: sad, ok, happy',
    );
    const moods = await column('moods');
    expect(() => toPgParam('multiChoice', ['sad', 'meh'], moods)).toThrow('allowed: sad, ok, happy');
  });

  it('lists unique indexes that can cover a key', async () => {
    const info = await readSourceTable(db.pool, 'public', 'people');
    expect(info!.relkind).toBe('r');
    expect(info!.uniqueIndexes).toEqual([{ columns: ['id'], primary: true }]);
  });
});

describe('source catalog: columns cached between runs of a process', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
    await db.pool.query(`CREATE TYPE tone AS ENUM ('low', 'high');
      CREATE TABLE cached (id int PRIMARY KEY, name text, pitch tone, updated_at timestamptz NOT NULL);`);
  });
  afterAll(async () => db.drop());

  const names = async () => (await readSourceTable(db.pool, 'public', 'cached'))!.columns.map((c) => c.name);
  const column = async (name: string) =>
    (await readSourceTable(db.pool, 'public', 'cached'))!.columns.find((c) => c.name === name);

  it('notices an added, dropped, retyped or renamed column, a NOT NULL and a new enum label', async () => {
    const first = await readSourceTable(db.pool, 'public', 'cached');
    const second = await readSourceTable(db.pool, 'public', 'cached');
    expect(second!.columns.map((c) => c.name)).toEqual(['id', 'name', 'pitch', 'updated_at']);
    // Nothing changed: the second read took the columns from the cache.
    expect(second!.columns[1]).toBe(first!.columns[1]);
    await db.pool.query('ALTER TABLE cached ADD COLUMN owner text');
    expect(await names()).toEqual(['id', 'name', 'pitch', 'updated_at', 'owner']);
    await db.pool.query('ALTER TABLE cached DROP COLUMN name');
    expect(await names()).toEqual(['id', 'pitch', 'updated_at', 'owner']);
    await db.pool.query('ALTER TABLE cached ALTER COLUMN owner TYPE varchar(40)');
    expect((await column('owner'))?.dataType).toBe('character varying');
    await db.pool.query('ALTER TABLE cached ALTER COLUMN owner SET NOT NULL');
    expect((await column('owner'))?.isNullable).toBe(false);
    await db.pool.query('ALTER TABLE cached RENAME COLUMN owner TO holder');
    expect(await names()).toEqual(['id', 'pitch', 'updated_at', 'holder']);
    await db.pool.query("ALTER TYPE tone ADD VALUE 'mid' BEFORE 'high'");
    expect((await column('pitch'))?.enum?.labels).toEqual(['low', 'mid', 'high']);
  });

  it('a table dropped and created again under the same name is read afresh', async () => {
    await db.pool.query('DROP TABLE cached; CREATE TABLE cached (id int PRIMARY KEY, other date)');
    expect(await names()).toEqual(['id', 'other']);
  });
});

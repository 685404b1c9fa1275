import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { validateAgainstDatabase } from '../../../src/core/definition/validateLive';
import { CursorSetupError, installCursor, installCursorFor } from '../../../src/core/ops';
import { upsertDefinitions } from '../../../src/core/store/definitions';
import { migrate } from '../../../src/core/store/migrate';
import { freshDatabase, type TestDatabase } from '../../support/db';

function definition(table: string, cursor = 'changed_at'): SyncDefinitionInput {
  return {
    name: table,
    source: { table, key: ['region', 'code'], cursor: { type: 'TIMESTAMP', column: cursor } },
    target: { site: 'contoso.sharepoint.com:/sites/demo', list: table },
    fields: [{ source: 'name', target: 'Title' }],
  };
}

describe('install-cursor', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
    await migrate(db.pool);
  });
  afterAll(async () => db.drop());

  const columnOf = async (table: string, column: string) =>
    (
      await db.pool.query(
        `SELECT data_type, is_nullable, column_default FROM information_schema.columns
          WHERE table_name = $1 AND column_name = $2`,
        [table, column],
      )
    ).rows[0];
  const install = (table: string, printSql = false) =>
    installCursor(db.pool, () => db.pool, table, { printSql });

  it('prints the SQL it would run and changes nothing with printSql', async () => {
    await db.pool.query('CREATE TABLE plain (region text, code int, name text, PRIMARY KEY (region, code))');
    await upsertDefinitions(db.pool, [parseDefinition(definition('plain'))]);
    const result = await install('plain', true);
    expect(result).toMatchObject({
      applied: false,
      parts: [
        { part: 'column', status: 'missing' },
        { part: 'trigger', status: 'missing' },
        { part: 'index', status: 'missing' },
        { part: 'deletes', status: 'missing' },
      ],
    });
    expect(result.sql[0]).toBe(
      'ALTER TABLE "public"."plain" ADD COLUMN IF NOT EXISTS "changed_at" timestamptz NOT NULL DEFAULT clock_timestamp()',
    );
    expect(result.sql).toContain(
      'CREATE INDEX IF NOT EXISTS "arcore_plain_changed_at_cursor" ON "public"."plain" ("changed_at", "region", "code")',
    );
    expect(result.sql[result.sql.length - 1]).toBe(
      'INSERT INTO "public"."arcore_plain_deleted" (key) VALUES (NULL)',
    );
    expect(await columnOf('plain', 'changed_at')).toBeUndefined();
  });

  it('adds the column, the trigger and the index; the table then passes the live check; a rerun does nothing', async () => {
    await db.pool.query("INSERT INTO plain VALUES ('eu', 1, 'a'), ('us', 2, 'b')");
    const result = await install('plain');
    expect(result.applied).toBe(true);
    expect(result.parts.map((p) => `${p.part}:${p.status}`)).toEqual([
      'column:added',
      'trigger:added',
      'index:added',
      'deletes:added',
    ]);
    expect(await columnOf('plain', 'changed_at')).toEqual({
      data_type: 'timestamp with time zone',
      is_nullable: 'NO',
      column_default: 'clock_timestamp()',
    });
    // The trigger keeps the column current on update.
    const before = (await db.pool.query("SELECT changed_at FROM plain WHERE region = 'eu'")).rows[0]
      .changed_at;
    await db.pool.query("UPDATE plain SET name = 'a2' WHERE region = 'eu'");
    const after = (await db.pool.query("SELECT changed_at FROM plain WHERE region = 'eu'")).rows[0]
      .changed_at;
    expect(after.getTime()).toBeGreaterThan(before.getTime());
    const live = await validateAgainstDatabase(parseDefinition(definition('plain')), db.pool);
    expect(live.errors).toEqual([]);
    expect(live.warnings.filter((w) => w.path === 'source.cursor.column')).toEqual([]);

    const again = await install('plain');
    expect(again.parts.map((p) => p.status)).toEqual(['present', 'present', 'present', 'present']);
    expect(again.sql).toEqual([]);
  });

  it('adds only what is missing to a table that has the column already', async () => {
    await db.pool.query(
      'CREATE TABLE stamped (region text, code int, name text, changed_at timestamptz, PRIMARY KEY (region, code))',
    );
    const result = await installCursorFor(parseDefinition(definition('stamped')), db.pool);
    expect(result.parts.map((p) => `${p.part}:${p.status}`)).toEqual([
      'column:present',
      'trigger:added',
      'index:added',
      'deletes:added',
    ]);
    expect(result.notes[0]).toContain('allows NULL');
  });

  it('refuses a view, naming what to do instead, and a cursor column that is not a timestamp', async () => {
    await db.pool.query('CREATE VIEW plain_view AS SELECT * FROM plain');
    const view = installCursorFor(parseDefinition(definition('plain_view')), db.pool);
    await expect(view).rejects.toBeInstanceOf(CursorSetupError);
    await expect(view).rejects.toThrow(/is a view, which cannot carry a trigger.*table underneath/);
    await db.pool.query('CREATE TABLE texty (region text, code int, name text, changed_at text)');
    await expect(installCursorFor(parseDefinition(definition('texty')), db.pool)).rejects.toThrow(
      'cursor column "changed_at" exists as text, not a timestamp',
    );
  });
});

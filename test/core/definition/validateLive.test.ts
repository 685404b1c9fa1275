import { parseDefinitionsFile } from '../../../src/core/definition/parse';
import type { SyncDefinition } from '../../../src/core/definition/schema';
import { validateAgainstDatabase } from '../../../src/core/definition/validateLive';
import { freshDatabase, type TestDatabase } from '../../support/db';
import { exampleFile } from './schema.test';

function definition(patch: (d: Record<string, unknown>) => void = () => {}): SyncDefinition {
  const copy = structuredClone(exampleFile) as { definitions: Record<string, unknown>[] };
  patch(copy.definitions[0]);
  return parseDefinitionsFile(copy).definitions[0];
}

describe('definition check against the live database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
    await db.pool.query(`CREATE TABLE projects (id int PRIMARY KEY, name text, budget numeric(12,2),
      sp_modified timestamptz, updated_at timestamptz NOT NULL DEFAULT now(), version int)`);
  });
  afterAll(async () => db.drop());

  it('passes a correct definition, warning about the unindexed cursor with the DDL and the system field', async () => {
    const report = await validateAgainstDatabase(definition(), db.pool);
    expect(report.errors).toEqual([]);
    const warnings = report.warnings.map((w) => w.message).join('\n');
    expect(warnings).toContain('CREATE INDEX ON "public"."projects" ("updated_at", "id");');
    expect(report.warnings.some((w) => w.path === 'fields[2].target')).toBe(false);
  });

  it('warns that a system field mapped for push is treated as PULL_ONLY', async () => {
    const def = definition((d) => ((d.fields as Record<string, unknown>[])[2].direction = 'BIDIRECTIONAL'));
    const report = await validateAgainstDatabase(def, db.pool);
    expect(report.warnings.map((w) => `${w.path}: ${w.message}`)).toContain(
      'fields[2].target: "Modified" is a SharePoint system field: it will be treated as PULL_ONLY and never written',
    );
  });

  it('accepts an LSN cursor on a table without a timestamp and refuses it on a view, naming source.cursor.type', async () => {
    await db.pool.query('CREATE TABLE plain (id int PRIMARY KEY, name text)');
    await db.pool.query('CREATE VIEW plain_v AS SELECT id, name FROM plain');
    const on = (table: string) =>
      definition((d) => {
        d.source = { table, key: ['id'], cursor: { type: 'LSN' } };
        d.fields = [{ source: 'name', target: 'Title' }];
      });
    expect((await validateAgainstDatabase(on('plain'), db.pool)).errors).toEqual([]);
    const view = await validateAgainstDatabase(on('plain_v'), db.pool);
    expect(view.errors.map((e) => `${e.path}: ${e.message}`)).toContain(
      'source.cursor.type: "public.plain_v" is not a table: source.cursor.type "LSN" captures changes of tables ' +
        'only. Use source.cursor.type "TIMESTAMP" with a cursor column for a view, or point the definition at the table',
    );
  });

  it('warns that a nullable cursor column leaves rows unpushed, with the DDL to fix it', async () => {
    await db.pool.query('CREATE TABLE loose (id int PRIMARY KEY, name text, changed timestamptz)');
    const def = definition((d) => {
      d.source = { table: 'loose', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'changed' } };
      d.fields = [{ source: 'name', target: 'Title' }];
    });
    const report = await validateAgainstDatabase(def, db.pool);
    expect(report.errors).toEqual([]);
    expect(report.warnings.map((w) => w.message).join('\n')).toContain(
      'rows with a NULL cursor are never pushed. Make it NOT NULL with a default: ALTER TABLE "public"."loose" ALTER COLUMN "changed" SET DEFAULT now(), ALTER COLUMN "changed" SET NOT NULL;',
    );
  });

  it('reports a missing table', async () => {
    const report = await validateAgainstDatabase(
      definition((d) => ((d.source as Record<string, unknown>).table = 'nope')),
      db.pool,
    );
    expect(report.errors.map((e) => e.message)).toEqual([
      'table or view "public.nope" does not exist in the source database',
    ]);
  });

  it('reports missing key and mapped columns, and a cursor that is not a timestamp', async () => {
    const def = definition((d) => {
      const source = d.source as Record<string, unknown>;
      source.key = ['code'];
      source.cursor = { type: 'TIMESTAMP', column: 'version' };
      (d.fields as Record<string, unknown>[])[0].source = 'title';
    });
    const messages = (await validateAgainstDatabase(def, db.pool)).errors.map(
      (e) => `${e.path}: ${e.message}`,
    );
    expect(messages).toEqual([
      'source.key[0]: key column "code" does not exist in "public.projects"',
      'fields[0].source: mapped column "title" does not exist in "public.projects"',
      'source.cursor.column: cursor column "version" is integer, not a timestamp type (timestamptz or timestamp)',
    ]);
  });

  it('no index warning once the cursor column is indexed', async () => {
    await db.pool.query('CREATE INDEX ON projects (updated_at, id)');
    const report = await validateAgainstDatabase(definition(), db.pool);
    expect(report.warnings.filter((w) => w.path === 'source.cursor.column')).toEqual([]);
  });

  it('reports two definitions targeting the same list', async () => {
    const other = definition((d) => (d.name = 'projects-copy'));
    const report = await validateAgainstDatabase(definition(), db.pool, [other]);
    expect(report.errors.map((e) => e.message)).toContain(
      'list "Projects" on "contoso.sharepoint.com:/sites/ops" is already the target of definition "projects-copy"',
    );
  });

  it('reports two definitions whose list names differ only in case (lists resolve case-insensitively)', async () => {
    const other = definition((d) => {
      d.name = 'projects-lower';
      d.target = { ...(d.target as object), list: 'projects', site: 'Contoso.SharePoint.com:/sites/OPS' };
    });
    const report = await validateAgainstDatabase(definition(), db.pool, [other]);
    expect(report.errors).toContainEqual({
      definition: 'projects',
      path: 'target.list',
      message:
        'list "Projects" on "contoso.sharepoint.com:/sites/ops" is already the target of definition ' +
        '"projects-lower" (as "projects")',
    });
  });

  it.each([
    [
      'https://contoso.sharepoint.com/sites/ops/Lists/Projects/AllItems.aspx',
      '"https://contoso.sharepoint.com/sites/ops/Lists/Projects/AllItems.aspx" is a web address, not a site ' +
        'reference: write the site as host:/server-relative-path, here "contoso.sharepoint.com:/sites/ops"',
    ],
    [
      'https://contoso.sharepoint.com/',
      '"https://contoso.sharepoint.com/" is a web address, not a site reference: write the site as ' +
        'host:/server-relative-path, here "contoso.sharepoint.com"',
    ],
    [
      'contoso.sharepoint.com/sites/ops',
      '"contoso.sharepoint.com/sites/ops" has no ":" between the host and the path: write the site as ' +
        'host:/server-relative-path, here "contoso.sharepoint.com:/sites/ops"',
    ],
  ])('refuses target.site %s, naming the value to write', async (site, message) => {
    const def = definition((d) => (d.target = { ...(d.target as object), site }));
    const report = await validateAgainstDatabase(def, db.pool);
    expect(report.errors).toContainEqual({ definition: 'projects', path: 'target.site', message });
  });

  it('accepts a site as host:/path, as a composite id and as a host alone', async () => {
    for (const site of [
      'contoso.sharepoint.com:/sites/ops',
      'contoso.sharepoint.com,2c3c1a77-5d4e-4a6b-9d7e-0c4f1e2b3a4d,8b9c0d1e-2f3a-4b5c-6d7e-8f9a0b1c2d3e',
      'contoso.sharepoint.com',
    ]) {
      const def = definition((d) => (d.target = { ...(d.target as object), site }));
      expect((await validateAgainstDatabase(def, db.pool)).errors).toEqual([]);
    }
  });
});

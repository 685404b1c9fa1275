import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JSON_SCHEMA_FILE, renderJsonSchema } from '../../../src/core/definition/jsonSchemaFile';
import {
  DefinitionValidationError,
  parseDefinitionsFile,
  parseDefinitionsText,
} from '../../../src/core/definition/parse';

export const exampleFile = {
  definitions: [
    {
      name: 'projects',
      source: {
        connection: 'default',
        schema: 'public',
        table: 'projects',
        key: ['id'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
      },
      target: { site: 'contoso.sharepoint.com:/sites/ops', list: 'Projects' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'budget', target: 'Budget', direction: 'PUSH_ONLY' },
        { source: 'sp_modified', target: 'Modified', direction: 'PULL_ONLY' },
      ],
      conflictPolicy: 'SOURCE_WINS',
      deletes: { push: 'PROPAGATE', pull: 'PROPAGATE' },
      schedule: '0 */5 * * * *',
      enabled: true,
    },
  ],
};

function problemsOf(input: unknown): string[] {
  try {
    parseDefinitionsFile(input);
  } catch (err) {
    if (err instanceof DefinitionValidationError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

function withDefinition(patch: (d: Record<string, unknown>) => void): unknown {
  const copy = structuredClone(exampleFile) as { definitions: Record<string, unknown>[] };
  patch(copy.definitions[0]);
  return copy;
}

describe('sync-definition schema', () => {
  it('accepts the documented example and fills defaults', () => {
    const file = parseDefinitionsFile(exampleFile);
    const def = file.definitions[0];
    expect(def.fields[0].direction).toBe('BIDIRECTIONAL');
    expect(def.source.pageSize).toBe(1000);
    expect(def.source.overlapSeconds).toBe(300);
    expect(def.target.keyColumn).toBe('ArcoreKey');
    expect(def.mergeTieBreaker).toBe('SOURCE_WINS');
  });

  it('takes the site time zone as an IANA name and refuses one it does not know, naming where to find it', () => {
    const set = (zone: string) =>
      withDefinition((d) => ((d.target as Record<string, unknown>).siteTimeZone = zone));
    expect(parseDefinitionsFile(set('Pacific/Auckland')).definitions[0].target.siteTimeZone).toBe(
      'Pacific/Auckland',
    );
    expect(problemsOf(set('UTC'))).toEqual([]);
    expect(problemsOf(set('NZST'))).toEqual([
      "definitions[0].target.siteTimeZone: is not a time zone name: give the IANA name of the site's regional " +
        'time zone (SharePoint: Site settings → Regional settings), e.g. "Pacific/Auckland" or "Europe/Paris", or "UTC"',
    ]);
  });

  it.each([
    [
      'missing key',
      (d: Record<string, unknown>) => ((d.source as Record<string, unknown>).key = []),
      'definitions[0].source.key: must name at least one key column',
    ],
    [
      'bad direction',
      (d: Record<string, unknown>) => ((d.fields as Record<string, unknown>[])[0].direction = 'SIDEWAYS'),
      'definitions[0].fields[0].direction',
    ],
    [
      'bad policy',
      (d: Record<string, unknown>) => (d.conflictPolicy = 'YOLO'),
      'definitions[0].conflictPolicy',
    ],
    [
      '5-field cron',
      (d: Record<string, unknown>) => (d.schedule = '*/5 * * * *'),
      'definitions[0].schedule: must be an NCRONTAB expression with 6 fields',
    ],
    [
      'duplicate target',
      (d: Record<string, unknown>) =>
        (d.fields as Record<string, unknown>[]).push({ source: 'x', target: 'Title' }),
      'definitions[0].fields[3].target: maps to "Title" which fields[0] already maps to',
    ],
    [
      'SOFT without column',
      (d: Record<string, unknown>) => (d.deletes = { push: 'SOFT', pull: 'PROPAGATE' }),
      'definitions[0].deletes.pushSoftColumn: is required when push is SOFT',
    ],
    [
      'unknown option',
      (d: Record<string, unknown>) => (d.colour = 'blue'),
      'definitions[0]: Unrecognized key: "colour"',
    ],
    [
      'cursor is a key',
      (d: Record<string, unknown>) => ((d.source as Record<string, unknown>).key = ['updated_at']),
      'definitions[0].source.cursor.column: must not be a key column',
    ],
    [
      'bad name',
      (d: Record<string, unknown>) => (d.name = 'has space'),
      'definitions[0].name: must be 1–63 letters',
    ],
  ])('names the path and problem: %s', (_label, patch, expected) => {
    const problems = problemsOf(withDefinition(patch));
    expect(problems.join('\n')).toContain(expected);
  });

  it('accepts an LSN cursor without a column and defaults deletes.truncate to PARK', () => {
    const file = parseDefinitionsFile(
      withDefinition((d) => ((d.source as Record<string, unknown>).cursor = { type: 'LSN' })),
    );
    const def = file.definitions[0];
    expect(def.source.cursor).toEqual({ type: 'LSN' });
    expect(def.deletes.truncate).toBe('PARK');
  });

  it('keeps a bare cursor column a TIMESTAMP cursor and requires the column for TIMESTAMP', () => {
    const bare = parseDefinitionsFile(
      withDefinition((d) => ((d.source as Record<string, unknown>).cursor = { column: 'updated_at' })),
    );
    expect(bare.definitions[0].source.cursor).toEqual({ type: 'TIMESTAMP', column: 'updated_at' });
    expect(
      problemsOf(
        withDefinition((d) => ((d.source as Record<string, unknown>).cursor = { type: 'TIMESTAMP' })),
      ),
    ).toEqual([
      'definitions[0].source.cursor.column: is required when source.cursor.type is TIMESTAMP (or set source.cursor.type to "LSN")',
    ]);
    expect(
      problemsOf(withDefinition((d) => ((d.deletes as Record<string, unknown>).truncate = 'DROP'))).join(),
    ).toMatch(/deletes\.truncate/);
  });

  it('rejects duplicate definition names and non-JSON text', () => {
    const two = { definitions: [exampleFile.definitions[0], exampleFile.definitions[0]] };
    expect(problemsOf(two).join('\n')).toContain(
      'definitions[1].name: "projects" is already the name of definitions[0]',
    );
    expect(() => parseDefinitionsText('{ nope', 'defs.json')).toThrow(
      /defs\.json: invalid sync definitions[\s\S]*is not valid JSON/,
    );
  });

  it('accepts a definitions file that starts with a UTF-8 byte order mark', () => {
    const text = `\uFEFF${JSON.stringify(exampleFile)}`;
    expect(parseDefinitionsText(text, 'defs.json').definitions.map((d) => d.name)).toEqual(
      exampleFile.definitions.map((d) => d.name),
    );
  });

  it('the committed JSON Schema equals the generated one (run `npm run schema` after changing the schema)', () => {
    const committed = readFileSync(join(__dirname, '..', '..', '..', JSON_SCHEMA_FILE), 'utf8');
    expect(committed).toBe(renderJsonSchema());
  });
});

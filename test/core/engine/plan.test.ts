import type { SpColumnInfo } from '../../../src/core/canonical';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import type { SourceColumn } from '../../../src/core/definition/validateLive';
import { buildFieldPlan } from '../../../src/core/engine/plan';

const text = (name: string, extra: Partial<SourceColumn> = {}): SourceColumn => ({
  name,
  dataType: 'text',
  udtName: 'text',
  isNullable: true,
  numericScale: null,
  ...extra,
});
const spText = (name: string, extra: Partial<SpColumnInfo> = {}): SpColumnInfo => ({
  name,
  displayName: name,
  type: 'text',
  readOnly: false,
  hidden: false,
  indexed: false,
  isSystem: false,
  maxLength: 255,
  ...extra,
});

function plan(fields: SyncDefinitionInput['fields'], spColumns: SpColumnInfo[] = []) {
  const def = parseDefinition({
    name: 'coded',
    source: { table: 'coded', key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: 'contoso.sharepoint.com:/sites/demo', list: 'Coded' },
    fields,
  });
  return buildFieldPlan(
    def,
    [
      text('code'),
      text('name'),
      text('updated_at', { dataType: 'timestamp with time zone', udtName: 'timestamptz' }),
    ],
    [spText('Code'), spText('Title'), spText('Ro', { readOnly: true, isSystem: true }), ...spColumns],
  );
}

describe('I13 buildFieldPlan: key fields are push-only', () => {
  it.each([['BIDIRECTIONAL' as const], ['PULL_ONLY' as const]])(
    'a key field declared %s is push-only, with a warning naming it; a new item still supplies it',
    (direction) => {
      const p = plan([
        { source: 'code', target: 'Code', direction },
        { source: 'name', target: 'Title' },
      ]);
      const code = p.byTarget.get('Code')!;
      expect(code).toMatchObject({
        direction: 'PUSH_ONLY',
        pushable: true,
        pullable: false,
        key: true,
        pulledOnInsert: true,
      });
      expect(p.keyFields).toEqual(['Code']);
      expect(p.toPostgres).toEqual(['Title']);
      expect(p.shared).toEqual(['Title']);
      expect(p.toSharePoint).toEqual(['Code', 'Title']);
      expect(p.warnings).toEqual([
        expect.stringContaining(
          `"Code" maps key column "code" and is treated as PUSH_ONLY (declared ${direction})`,
        ),
      ]);
    },
  );

  it('a key field declared PUSH_ONLY warns nothing, and a new item does not supply it', () => {
    const p = plan([
      { source: 'code', target: 'Code', direction: 'PUSH_ONLY' },
      { source: 'name', target: 'Title' },
    ]);
    expect(p.warnings).toEqual([]);
    expect(p.byTarget.get('Code')).toMatchObject({ key: true, pulledOnInsert: false });
  });

  it('a key mapped to a column SharePoint never lets anyone write stays pull-only (nobody can edit it there)', () => {
    const p = plan([
      { source: 'code', target: 'Ro', direction: 'PULL_ONLY' },
      { source: 'name', target: 'Title' },
    ]);
    expect(p.byTarget.get('Ro')).toMatchObject({ direction: 'PULL_ONLY', pullable: true, key: false });
    expect(p.keyFields).toEqual([]);
  });

  it('fields that are not key columns keep their direction', () => {
    const p = plan([{ source: 'name', target: 'Title', direction: 'PULL_ONLY' }]);
    expect(p.byTarget.get('Title')).toMatchObject({
      direction: 'PULL_ONLY',
      key: false,
      pulledOnInsert: true,
    });
    expect(p.warnings).toEqual([]);
  });
});

describe('buildFieldPlan: an append-only multi-line column (it reads empty) is taken only PUSH_ONLY', () => {
  const log = spText('Log', { type: 'note', appendOnly: true, maxLength: undefined });

  it.each([['BIDIRECTIONAL' as const], ['PULL_ONLY' as const]])(
    'a field declared %s on it is an invalid definition naming the field, the column and the next step',
    (direction) => {
      expect(() => plan([{ source: 'name', target: 'Log', direction }], [log])).toThrow(
        new RegExp(
          `fields\\[0\\]: "name" maps column "Log" of list "Coded", which has "Append changes to existing text" on.*` +
            `a ${direction} field would write NULL.*turn the setting off in the column's settings, or map the field PUSH_ONLY`,
        ),
      );
    },
  );

  it('declared PUSH_ONLY it is pushed and never pulled, without a warning', () => {
    const p = plan([{ source: 'name', target: 'Log', direction: 'PUSH_ONLY' }], [log]);
    expect(p.byTarget.get('Log')).toMatchObject({ pushable: true, pullable: false, pulledOnInsert: false });
    expect(p.warnings).toEqual([]);
  });
});

import type { SpColumnInfo } from '../../../../src/core/canonical';
import { fromGraphFields } from '../../../../src/core/canonical';
import { parseDefinition } from '../../../../src/core/definition/parse';
import type { SourceColumn } from '../../../../src/core/definition/validateLive';
import { buildFieldPlan, pick } from '../../../../src/core/engine/plan';
import { createdSynced } from '../../../../src/core/engine/push/page';

const text = (name: string): SourceColumn => ({
  name,
  dataType: 'text',
  udtName: 'text',
  isNullable: true,
  numericScale: null,
});
const spText = (name: string): SpColumnInfo => ({
  name,
  displayName: name,
  type: 'text',
  readOnly: false,
  hidden: false,
  indexed: false,
  isSystem: false,
  maxLength: 255,
});

const def = parseDefinition({
  name: 'notes',
  source: { table: 'notes', key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
  target: { site: 'contoso.sharepoint.com:/sites/demo', list: 'Notes' },
  fields: [
    { source: 'code', target: 'Code' },
    { source: 'name', target: 'Title' },
    { source: 'note', target: 'Note', direction: 'PULL_ONLY' },
    { source: 'owner', target: 'Owner', direction: 'PUSH_ONLY' },
  ],
});
const plan = buildFieldPlan(
  def,
  ['code', 'name', 'note', 'owner']
    .map(text)
    .concat({ ...text('updated_at'), dataType: 'timestamp with time zone' }),
  ['Code', 'Title', 'Note', 'Owner'].map(spText),
);

describe('the synced values of a created item (docs/design.md, I3)', () => {
  const values = { Code: 'a-1', Title: 'pushed', Note: 'from postgres', Owner: 'ann' };
  const returned = {
    Code: 'a-1',
    Title: 'as SharePoint answered',
    Note: 'a default of the list',
    Owner: 'ann',
  };

  it('takes the pushed value of a field that flows both ways, and the answer of a pull-only one', () => {
    expect(createdSynced(plan, values, returned)).toEqual({
      Code: 'a-1',
      Title: 'pushed',
      Note: 'a default of the list',
      Owner: 'ann',
    });
  });

  it('is what converting every column of the answer gave', () => {
    for (const answer of [returned, { Title: 'x' }, {}]) {
      const everyColumn = fromGraphFields(answer, plan.columns);
      const before = { ...pick(everyColumn, plan.toPostgres), ...pick(values, plan.toSharePoint) };
      expect(createdSynced(plan, values, answer)).toEqual(before);
    }
  });

  it('falls back to the row for pull-only fields when the answer carried no fields', () => {
    expect(createdSynced(plan, values, null)).toMatchObject({ Note: 'from postgres', Title: 'pushed' });
  });
});

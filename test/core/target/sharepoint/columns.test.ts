import type { SpColumnInfo } from '../../../../src/core/canonical';
import { assertColumnsExist, toSpColumnInfo } from '../../../../src/core/target/sharepoint/columns';
import { UnknownColumnError } from '../../../../src/core/target/sharepoint/errors';
import { columnDefinitionSchema } from '../../../../src/core/target/sharepoint/graphSchemas';

const column = (definition: unknown): SpColumnInfo =>
  toSpColumnInfo(columnDefinitionSchema.parse(definition));

describe('columnDefinition → SpColumnInfo', () => {
  it('takes the type from the facet', () => {
    expect(column({ name: 'A', displayName: 'A', text: {} }).type).toBe('text');
    expect(column({ name: 'A', displayName: 'A', text: { allowMultipleLines: false } }).type).toBe('text');
    expect(column({ name: 'A', displayName: 'A', text: { allowMultipleLines: true } }).type).toBe('note');
    // "Append changes to existing text": the field reads empty (engine/appendOnly.ts).
    const append = { allowMultipleLines: true, appendChangesToExistingText: true };
    expect(column({ name: 'A', displayName: 'A', text: append })).toMatchObject({
      type: 'note',
      appendOnly: true,
    });
    expect(
      column({ name: 'A', displayName: 'A', text: { allowMultipleLines: true } }).appendOnly,
    ).toBeUndefined();
    expect(column({ name: 'A', displayName: 'A', number: {} }).type).toBe('number');
    expect(column({ name: 'A', displayName: 'A', currency: { locale: 'en-us' } }).type).toBe('currency');
    expect(column({ name: 'A', displayName: 'A', boolean: {} }).type).toBe('boolean');
    expect(column({ name: 'A', displayName: 'A', calculated: { formula: '=1' } }).type).toBe('calculated');
    expect(column({ name: 'A', displayName: 'A', hyperlinkOrPicture: {} }).type).toBe('hyperlink');
    expect(column({ name: 'A', displayName: 'A', geolocation: {} }).type).toBe('unknown');
  });

  it('distinguishes date-only from date-and-time columns', () => {
    expect(column({ name: 'D', displayName: 'D', dateTime: { format: 'dateOnly' } })).toMatchObject({
      type: 'dateTime',
      dateOnly: true,
    });
    expect(column({ name: 'D', displayName: 'D', dateTime: { format: 'dateTime' } }).dateOnly).toBe(false);
  });

  it('reads a choice column shown as check boxes as multi-choice, with its choices', () => {
    expect(
      column({ name: 'C', displayName: 'C', choice: { choices: ['a', 'b'], displayAs: 'checkBoxes' } }),
    ).toMatchObject({ type: 'multiChoice', choices: ['a', 'b'] });
    expect(
      column({ name: 'C', displayName: 'C', choice: { choices: ['a'], displayAs: 'dropDownMenu' } }).type,
    ).toBe('choice');
  });

  it('marks multi-valued lookups and people', () => {
    expect(column({ name: 'L', displayName: 'L', lookup: { allowMultipleValues: true } })).toMatchObject({
      type: 'lookup',
      allowMultiple: true,
    });
    expect(
      column({ name: 'P', displayName: 'P', personOrGroup: { allowMultipleSelection: false } }),
    ).toMatchObject({
      type: 'person',
      allowMultiple: false,
    });
  });

  it('I9: system fields and read-only columns are system', () => {
    expect(
      column({ name: 'Modified', displayName: 'Modified', dateTime: {}, readOnly: false }).isSystem,
    ).toBe(true);
    expect(column({ name: 'Total', displayName: 'Total', number: {}, readOnly: true })).toMatchObject({
      readOnly: true,
      isSystem: true,
    });
    expect(column({ name: 'Total', displayName: 'Total', number: {} }).isSystem).toBe(false);
  });
});

describe('I12 bad input: a mapping naming a column the list lacks', () => {
  const columns = [
    column({ name: 'Title', displayName: 'Title', text: {} }),
    column({ name: 'Project_x0020_Budget', displayName: 'Project Budget', currency: {} }),
    column({ name: 'Owner', displayName: 'Owner', personOrGroup: {} }),
  ];

  it('passes when every name is an internal name', () => {
    expect(() => assertColumnsExist('Projects', columns, ['Title', 'Project_x0020_Budget'])).not.toThrow();
  });

  it('names the list and the missing column, and suggests the internal name of a display-name match', () => {
    let thrown: unknown;
    try {
      assertColumnsExist('Projects', columns, ['Title', 'Project Budget']);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnknownColumnError);
    const error = thrown as UnknownColumnError;
    expect(error.listName).toBe('Projects');
    expect(error.columnName).toBe('Project Budget');
    expect(error.suggestion).toBe('Project_x0020_Budget');
    expect(error.message).toContain('"Projects"');
    expect(error.message).toContain('"Project Budget"');
    expect(error.message).toContain('Project_x0020_Budget');
  });

  it('suggests the column of a lookup id key and of a case slip', () => {
    expect(() => assertColumnsExist('Projects', columns, ['OwnerLookupId'])).toThrow(/did you mean "Owner"/);
    expect(() => assertColumnsExist('Projects', columns, ['title'])).toThrow(/did you mean "Title"/);
  });

  it('says so when nothing is similar', () => {
    expect(() => assertColumnsExist('Projects', columns, ['Nope'])).toThrow(
      /list "Projects" has no column with internal name "Nope"/,
    );
  });
});

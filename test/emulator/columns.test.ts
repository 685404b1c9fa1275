import {
  createColumn,
  genericListColumns,
  isWritable,
  renderColumn,
  toInternalName,
} from '../../src/emulator/columns';
import { GraphError } from '../../src/emulator/errors';

const scope = (existing = genericListColumns()) => ({ existing, columnsOfList: () => undefined });

describe('internal names', () => {
  it('escapes characters SharePoint escapes: space → _x0020_, a leading digit, punctuation', () => {
    expect(toInternalName('Due Date')).toBe('Due_x0020_Date');
    expect(toInternalName('1st')).toBe('_x0031_st');
    expect(toInternalName('a-b')).toBe('a_x002d_b');
    expect(toInternalName('Plain_Name2')).toBe('Plain_Name2');
  });

  it('appends a digit when the internal name is taken, as SharePoint does for Author', () => {
    const column = createColumn({ name: 'Author', text: {} }, scope());
    expect(column.name).toBe('Author0');
    expect(column.displayName).toBe('Author');
  });
});

describe('column definitions', () => {
  it('has the system columns, read-only except Title', () => {
    const columns = genericListColumns();
    const names = columns.map((c) => c.name);
    for (const name of [
      'ID',
      'Title',
      'Created',
      'Modified',
      'Author',
      'Editor',
      '_UIVersionString',
      'Attachments',
      'ContentType',
      'Edit',
      'LinkTitle',
      'LinkTitleNoMenu',
      'ItemChildCount',
      'FolderChildCount',
    ])
      expect(names).toContain(name);
    expect(columns.filter(isWritable).map((c) => c.name)).toEqual(['Title']);
  });

  it('renders each type facet as Graph does', () => {
    const render = (body: Record<string, unknown>) => renderColumn(createColumn(body, scope()));
    expect(render({ name: 'Notes', text: { allowMultipleLines: true } })).toMatchObject({
      name: 'Notes',
      text: { allowMultipleLines: true, appendChangesToExistingText: false },
      readOnly: false,
    });
    // "Append changes to existing text": sent at all on a multi-line column, even false, it is on (reported:
    // microsoft-graph-docs#20863); a single-line column never appends.
    for (const append of [true, false])
      expect(
        render({ name: 'Log', text: { allowMultipleLines: true, appendChangesToExistingText: append } }),
      ).toMatchObject({ text: { allowMultipleLines: true, appendChangesToExistingText: true } });
    expect(render({ name: 'Line', text: { appendChangesToExistingText: true } })).toMatchObject({
      text: { allowMultipleLines: false, appendChangesToExistingText: false },
    });
    expect(render({ name: 'Qty', number: { decimalPlaces: 'two' }, indexed: true })).toMatchObject({
      number: { decimalPlaces: 'two' },
      indexed: true,
    });
    expect(render({ name: 'Price', currency: { locale: 'de-DE' } })).toMatchObject({
      currency: { locale: 'de-DE' },
    });
    expect(render({ name: 'Due', dateTime: { format: 'dateOnly' } })).toMatchObject({
      dateTime: { format: 'dateOnly' },
    });
    expect(render({ name: 'Done', boolean: {} })).toMatchObject({ boolean: {} });
    expect(render({ name: 'Tags', choice: { choices: ['a', 'b'], displayAs: 'checkBoxes' } })).toMatchObject({
      choice: { choices: ['a', 'b'], displayAs: 'checkBoxes', allowTextEntry: false },
    });
    expect(render({ name: 'Owner', personOrGroup: { allowMultipleSelection: true } })).toMatchObject({
      personOrGroup: { allowMultipleSelection: true },
    });
    expect(render({ name: 'Link', hyperlinkOrPicture: {} })).toMatchObject({
      hyperlinkOrPicture: { isPicture: false },
    });
    expect(
      render({ name: 'Shout', calculated: { formula: '=UPPER([Title])', outputType: 'text' } }),
    ).toMatchObject({
      calculated: { formula: '=UPPER([Title])', outputType: 'text' },
    });
  });

  it('rejects bodies without exactly one type facet, bad formulas and unknown lookup targets with 400', () => {
    const status = (body: unknown) => {
      try {
        createColumn(body, scope());
        return 0;
      } catch (error) {
        return (error as GraphError).status;
      }
    };
    expect(status({ name: 'X' })).toBe(400);
    expect(status({ name: 'X', text: {}, number: {} })).toBe(400);
    expect(status({ name: 'X', calculated: { formula: '=[Nope]+1' } })).toBe(400);
    expect(status({ name: 'X', calculated: { formula: '=TODAY()' } })).toBe(400);
    expect(status({ name: 'X', lookup: { listId: 'missing' } })).toBe(400);
    expect(status({ name: 'X', text: {}, enforceUniqueValues: true })).toBe(400);
    expect(status({ displayName: 'title', text: {} })).toBe(409);
  });
});

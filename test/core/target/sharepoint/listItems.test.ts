import { FieldsMissingError } from '../../../../src/core/target/sharepoint';
import { readListItems, toDeltaEntry, toListItem } from '../../../../src/core/target/sharepoint/listItems';

describe('I12 bad input: delta entries', () => {
  it('reads an item, a deleted-facet tombstone and an @removed tombstone', () => {
    expect(
      toDeltaEntry({
        id: '3',
        eTag: '"e,2"',
        lastModifiedDateTime: '2024-01-01T00:00:00Z',
        fields: { Title: 'x' },
      }),
    ).toEqual({
      kind: 'upsert',
      item: { id: '3', eTag: '"e,2"', lastModifiedDateTime: '2024-01-01T00:00:00Z', fields: { Title: 'x' } },
    });
    expect(toDeltaEntry({ id: '4', deleted: { state: 'deleted' } })).toEqual({ kind: 'deleted', id: '4' });
    expect(toDeltaEntry({ id: '5', '@removed': { reason: 'deleted' } })).toEqual({
      kind: 'deleted',
      id: '5',
    });
  });

  it('turns an {error} entry and an unreadable entry into reported errors, not exceptions', () => {
    expect(toDeltaEntry({ error: { code: 'generalException', message: 'boom' } })).toEqual({
      error: { code: 'generalException', message: 'boom' },
    });
    const unreadable = toDeltaEntry({ id: 7, fields: 'nope' });
    expect(unreadable).toMatchObject({ error: { code: 'unreadableDeltaEntry' } });
    expect('error' in unreadable && unreadable.error.message).toContain('id 7');
    expect(toDeltaEntry(null)).toMatchObject({ error: { code: 'unreadableDeltaEntry' } });
  });

  it('takes eTag and modification time from fields when the item omits them', () => {
    expect(
      toListItem({ id: '1', fields: { '@odata.etag': '"a,1"', Modified: '2024-05-05T05:05:05Z' } }),
    ).toEqual({
      id: '1',
      eTag: '"a,1"',
      lastModifiedDateTime: '2024-05-05T05:05:05Z',
      fields: { '@odata.etag': '"a,1"', Modified: '2024-05-05T05:05:05Z' },
    });
  });

  it('an item without its fields object is unreadable, never every field empty', () => {
    expect(toDeltaEntry({ id: '8', eTag: '"e,1"' })).toEqual({ fieldsMissing: '8' });
    // A fields object without a column is that column empty (Graph leaves out empty values): still an item.
    expect(toDeltaEntry({ id: '9', fields: {} })).toMatchObject({ kind: 'upsert', item: { fields: {} } });
    const read = () =>
      readListItems([{ id: '1', fields: { Title: 'a' } }, { id: '2' }], 'GET', 'https://g/x');
    expect(read).toThrow(FieldsMissingError);
    expect(read).toThrow(/item\(s\) 2 without the fields/);
  });
});

import { fieldsAlreadyApplied } from '../../../../src/core/target/sharepoint/batchWriter';

describe('I6 crash safety: settling an update whose outcome is unknown', () => {
  const readBack = {
    '@odata.etag': '"e,3"',
    Title: 'x',
    Amount: 7,
    OwnerLookupId: '6',
    Cats: [
      { LookupId: 1, LookupValue: 'A' },
      { LookupId: 2, LookupValue: 'B' },
    ],
    Tags: ['b'],
  };

  it('counts an update as applied when the item holds every written value, as Graph reads them back', () => {
    expect(
      fieldsAlreadyApplied(
        {
          Title: 'x',
          Amount: 7,
          OwnerLookupId: 6,
          'CatsLookupId@odata.type': 'Collection(Edm.Int32)',
          CatsLookupId: [1, 2],
          'Tags@odata.type': 'Collection(Edm.String)',
          Tags: ['b'],
          Cleared: null,
          Emptied: [],
        },
        readBack,
      ),
    ).toBe(true);
  });

  it('re-sends when any value differs', () => {
    expect(fieldsAlreadyApplied({ Amount: 8 }, readBack)).toBe(false);
    expect(fieldsAlreadyApplied({ OwnerLookupId: 7 }, readBack)).toBe(false);
    expect(fieldsAlreadyApplied({ CatsLookupId: [2, 1] }, readBack)).toBe(false);
    expect(fieldsAlreadyApplied({ Title: null }, readBack)).toBe(false);
  });
});

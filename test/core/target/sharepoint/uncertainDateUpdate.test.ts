import { fieldsAlreadyApplied } from '../../../../src/core/target/sharepoint/batchWriter';
import { startHarness, type EmulatorHarness } from './emulatorSupport';

/**
 * I6 (docs/design.md): an update whose outcome is unknown (the connection dropped after the batch was sent, or an
 * applied write answered 503) is settled by reading the item: it counts as done when the item holds the values
 * written. A date-only value is written as noon of the day in the site's zone and read back as midnight, so the
 * comparison said "not applied", the update was sent again with its old If-Match and met a 412 against its own
 * write (found by review: wasted units, `updated: 0` for a row that was updated). Date-only columns are compared by
 * their day.
 */
describe('settling an update to a date-only column whose outcome is unknown', () => {
  let h: EmulatorHarness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('counts it as updated when the item holds the day written (read back as midnight)', async () => {
    const target = h.target();
    const listId = await h.newList([{ name: 'Due', dateTime: { format: 'dateOnly' } }]);
    const [created] = await target.writeItems(h.siteId, listId, [
      { kind: 'create', ref: 'r', fields: { Title: 't', Key: 'k', Due: '2024-03-10T12:00:00Z' } },
    ]);
    expect(created.status).toBe('created');
    const itemId = (created as { itemId: string }).itemId;
    const eTag = (created as { eTag: string }).eTag;
    // Applied, then the connection drops: the writer reads the item to learn what happened.
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '/\\$batch$', count: 1, drop: 'after' });
    const [updated] = await target.writeItems(h.siteId, listId, [
      { kind: 'update', ref: 'r', itemId, eTag, fields: { Due: '2024-04-01T12:00:00Z' } },
    ]);
    expect(updated).toMatchObject({ status: 'updated', readBack: true });
    const item = await target.getItem(h.siteId, listId, itemId);
    expect(String(item?.fields.Due).slice(0, 10)).toBe('2024-04-01');
  });

  it('compares date-only fields by day: noon and midnight of one day agree, two days do not', () => {
    const dateOnly = new Set(['Due']);
    const read = { Due: '2024-03-31T11:00:00Z' }; // midnight in Pacific/Auckland (UTC+13)
    expect(fieldsAlreadyApplied({ Due: '2024-03-31T23:00:00Z' }, read, dateOnly)).toBe(true); // its noon
    expect(fieldsAlreadyApplied({ Due: '2024-04-01T23:00:00Z' }, read, dateOnly)).toBe(false); // next day's noon
    expect(fieldsAlreadyApplied({ Due: null }, read, dateOnly)).toBe(false);
    expect(fieldsAlreadyApplied({ Due: null }, { Due: null }, dateOnly)).toBe(true);
    // Without the column's kind a date-time column is compared to the second, as before.
    expect(fieldsAlreadyApplied({ Due: '2024-03-31T23:00:00Z' }, read)).toBe(false);
  });
});

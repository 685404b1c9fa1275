import { isOwnSlot, lsnNames, MAX_NAME_LENGTH } from '../../../../src/core/capture/lsn/names';

const INSTALLATION = '0f3a9c1be2d44a7f9e0b6c5d4a3b2c1d';

describe('lsnNames', () => {
  it('names slot, publication and origin from installation, definition id and a name hint', () => {
    expect(lsnNames(INSTALLATION, '12', 'Projects.Sync-2')).toEqual({
      slot: 'arcore_0f3a9c1be2d4_12_projects_sync_2',
      publication: 'arcore_0f3a9c1be2d4_12_projects_sync_2',
      origin: 'arcore_0f3a9c1be2d4_12_projects_sync_2',
    });
  });

  it('differs between two metadata databases for the same definition', () => {
    const a = lsnNames(INSTALLATION, '1', 'projects').slot;
    const b = lsnNames('9e0b6c5d4a3b2c1d0f3a9c1be2d44a7f', '1', 'projects').slot;
    expect(a).not.toBe(b);
  });

  it('stays within 63 characters of [a-z0-9_] for the longest names', () => {
    const { slot } = lsnNames(INSTALLATION, '9223372036854775807', 'A'.repeat(63));
    expect(slot.length).toBeLessThanOrEqual(MAX_NAME_LENGTH);
    expect(slot).toMatch(/^[a-z0-9_]+$/);
    expect(slot.endsWith('_')).toBe(false);
  });

  it('recognises its own slots and not another installation’s', () => {
    const { slot } = lsnNames(INSTALLATION, '3', 'x');
    expect(isOwnSlot(INSTALLATION, slot)).toBe(true);
    expect(isOwnSlot('9e0b6c5d4a3b2c1d0f3a9c1be2d44a7f', slot)).toBe(false);
  });

  it('refuses an installation id too short to be unique', () => {
    expect(() => lsnNames('abc', '1', 'x')).toThrow(/too short/);
  });
});

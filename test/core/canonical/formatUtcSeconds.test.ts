import fc from 'fast-check';
import { formatUtcSeconds } from '../../../src/core/canonical/temporal';

/** The implementation before the day-count arithmetic. */
function viaDate(epochSeconds: number): string {
  return `${new Date(epochSeconds * 1000).toISOString().slice(0, 19)}Z`;
}

describe('formatUtcSeconds', () => {
  it('writes what Date#toISOString wrote, for every whole second of years 0000–9999 and around them', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -62_167_219_200 - 86_400 * 800, max: 253_402_300_799 + 86_400 * 800 }),
        (s) => expect(formatUtcSeconds(s)).toBe(viaDate(s)),
      ),
      { numRuns: 3_000 },
    );
  });

  it('matches on a sweep of the whole range and on every day around century and leap-year boundaries', () => {
    const mismatches: number[] = [];
    const check = (s: number) => {
      if (formatUtcSeconds(s) !== viaDate(s)) mismatches.push(s);
    };
    for (let s = -62_167_219_200; s <= 253_402_300_799; s += 31_536_007) check(s);
    for (const year of [1600, 1900, 2000, 2100, 8900]) {
      const start = Date.UTC(year - 1, 0, 1) / 1000;
      for (let day = 0; day < 3 * 366; day += 1) check(start + day * 86_400 + ((day * 7919) % 86_400));
    }
    expect(mismatches).toEqual([]);
  });

  it('matches at the edges: epoch, leap days, century rules, the last second of 9999', () => {
    const edges = [
      0, -1, 86_399, 86_400, 951_782_400 /* 2000-02-29 */, -2_203_977_600 /* 1900-03-01 */, 4_107_542_400,
      -62_167_219_200, -62_167_219_201, 253_402_300_799, 253_402_300_800, 1.5, -0.25,
    ];
    for (const s of edges) expect(formatUtcSeconds(s)).toBe(viaDate(s));
  });
});

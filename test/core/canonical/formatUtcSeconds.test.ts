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
      { numRuns: 50_000 },
    );
  });

  it('matches at the edges: epoch, leap days, century rules, the last second of 9999', () => {
    const edges = [
      0, -1, 86_399, 86_400, 951_782_400 /* 2000-02-29 */, -2_203_977_600 /* 1900-03-01 */, 4_107_542_400,
      -62_167_219_200, -62_167_219_201, 253_402_300_799, 253_402_300_800, 1.5, -0.25,
    ];
    for (const s of edges) expect(formatUtcSeconds(s)).toBe(viaDate(s));
  });
});

import fc from 'fast-check';
import { isDecimalText } from '../../../src/core/canonical/numbers';

/** The pattern isDecimalText used before it read by character (issue 23.3). */
const DECIMAL_PATTERN = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
function isDecimalTextBefore(text: string): boolean {
  const match = DECIMAL_PATTERN.exec(text);
  return match !== null && `${match[2]}${match[3] ?? ''}`.length > 0;
}

const decimalish = fc
  .array(fc.constantFrom(...'0123456789+-.eE x'), { maxLength: 12 })
  .map((chars) => chars.join(''));

describe('isDecimalText', () => {
  it('accepts exactly what its pattern accepted', () => {
    fc.assert(
      fc.property(fc.oneof(decimalish, fc.string(), fc.double().map(String)), (text) => {
        expect(isDecimalText(text)).toBe(isDecimalTextBefore(text));
      }),
      { numRuns: 5_000 },
    );
  });

  it('reads Postgres numeric text and refuses what has no number', () => {
    for (const text of ['12.50', '-0.00', '+1', '.5', '5.', '1e3', '1.5E-7', '00012345678901234567890.123'])
      expect(isDecimalText(text)).toBe(true);
    for (const text of ['', '.', '+', '-.', 'e5', '1e', '1e+', 'NaN', 'Infinity', '1 ', ' 1', '1.2.3', '１'])
      expect(isDecimalText(text)).toBe(false);
  });
});

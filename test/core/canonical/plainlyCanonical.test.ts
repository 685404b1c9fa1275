import fc from 'fast-check';
import {
  FIELD_KINDS,
  canonicalEquals,
  toCanonical,
  type CanonicalValue,
  type FieldKind,
} from '../../../src/core/canonical';
import { plainlyCanonical } from '../../../src/core/canonical/toGraph';

/** The full check toGraphFields made of every value before the shortcut: canonicalise again and compare. */
function fullCheckAccepts(kind: FieldKind, value: CanonicalValue): boolean {
  try {
    return canonicalEquals(toCanonical(kind, value), value);
  } catch {
    return false;
  }
}

const digits = (length: number) =>
  fc.array(fc.constantFrom(...'0123456789'), { minLength: length, maxLength: length }).map((d) => d.join(''));
// Near-canonical text: right shape, any digits (Feb 30, hour 24, year 0999 and 9999 included).
const dateText = fc.tuple(digits(4), digits(2), digits(2)).map(([y, m, d]) => `${y}-${m}-${d}`);
const dateTimeText = fc
  .tuple(dateText, digits(2), digits(2), digits(2), fc.constantFrom('Z', 'z', '+00:00', ''))
  .map(([date, h, mi, s, zone]) => `${date}T${h}:${mi}:${s}${zone}`);
const realInstant = fc.date({
  min: new Date('1850-01-01T00:00:00Z'),
  max: new Date('9000-12-31T23:59:59Z'),
  noInvalidDate: true,
});
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.string(),
  fc.constant(''),
  fc.double(),
  fc.integer(),
  fc.constantFrom(-0, 2 ** 53, 2 ** 53 - 1, Number.NaN, Infinity),
  fc.boolean(),
  dateText,
  dateTimeText,
  realInstant.map((d) => d.toISOString().slice(0, 19) + 'Z'),
  realInstant.map((d) => d.toISOString().slice(0, 10)),
  realInstant.map((d) => d.toISOString()),
  fc.uuid(),
  fc.uuid().map((u) => u.toUpperCase()),
  fc.uuid().map((u) => `{${u}}`),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.jsonValue(),
);

describe('plainlyCanonical (the shortcut of toGraphFields’ canonical-form check)', () => {
  it('is true only where the full check accepts, for every kind', () => {
    fc.assert(
      fc.property(fc.constantFrom(...FIELD_KINDS), anyValue, (kind, value) => {
        if (plainlyCanonical(kind, value as CanonicalValue))
          expect(fullCheckAccepts(kind, value as CanonicalValue)).toBe(true);
      }),
      { numRuns: 4_000 },
    );
  });

  it('agrees with the full check both ways on date and date-time text of the canonical shape', () => {
    fc.assert(
      fc.property(dateText, dateTimeText, (date, dateTime) => {
        expect(plainlyCanonical('dateOnly', date)).toBe(fullCheckAccepts('dateOnly', date));
        expect(plainlyCanonical('dateTime', dateTime)).toBe(fullCheckAccepts('dateTime', dateTime));
      }),
      { numRuns: 4_000 },
    );
  });

  it('takes the shortcut for canonical values of the scalar kinds', () => {
    const cases: [FieldKind, unknown][] = [
      ['text', 'a'],
      ['number', 12.5],
      ['integer', -3],
      ['boolean', false],
      ['dateTime', '2024-02-29T23:59:59Z'],
      ['dateOnly', '1900-01-01'],
      ['uuid', '0f8fad5b-d9cb-469f-a165-70867728950e'],
    ];
    for (const [kind, value] of cases) expect(plainlyCanonical(kind, value as CanonicalValue)).toBe(true);
    expect(plainlyCanonical('dateTime', '2023-02-29T00:00:00Z')).toBe(false);
    expect(plainlyCanonical('dateTime', '1899-12-31T23:59:59Z')).toBe(false);
    expect(plainlyCanonical('uuid', '0F8FAD5B-D9CB-469F-A165-70867728950E')).toBe(false);
    expect(plainlyCanonical('text', '')).toBe(false);
  });

  it('takes the shortcut for choices SharePoint can store, and not for others', () => {
    expect(plainlyCanonical('multiChoice', ['a', 'b c'])).toBe(true);
    expect(plainlyCanonical('multiChoice', [])).toBe(false);
    expect(plainlyCanonical('multiChoice', ['a', ''])).toBe(false);
    expect(plainlyCanonical('multiChoice', ['a;#b'])).toBe(false);
    expect(plainlyCanonical('multiChoice', [1] as unknown as CanonicalValue)).toBe(false);
  });

  it('takes the shortcut for json text the canonical form produced, and only for that text', () => {
    const produced = toCanonical('json', '{ "b": [1, 2], "a": {"y": null, "x": "é"} }') as string;
    expect(produced).toBe('{"a":{"x":"é","y":null},"b":[1,2]}');
    expect(plainlyCanonical('json', produced)).toBe(true);
    // Equal data in another text is not canonical: the full check decides (and refuses it).
    expect(plainlyCanonical('json', '{"b":[1,2],"a":{"x":"é","y":null}}')).toBe(false);
    expect(fullCheckAccepts('json', '{"b":[1,2],"a":{"x":"é","y":null}}')).toBe(false);
    // A value whose JSON form is null renders as 'null', which is not the canonical form of the text 'null'.
    expect(toCanonical('json', new Date(Number.NaN) as unknown as CanonicalValue)).toBe('null');
    expect(plainlyCanonical('json', 'null')).toBe(false);
  });
});

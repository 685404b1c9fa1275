import fc from 'fast-check';
import {
  CanonicalValueError,
  FIELD_KINDS,
  canonicalEquals,
  fromGraphValue,
  toCanonical,
  type FieldKind,
} from '../../../src/core/canonical';
import { postgresValueOf } from './arbitraries';

function rejects(kind: FieldKind, value: unknown, reasonPart: RegExp, read = toCanonical): void {
  let caught: unknown;
  try {
    read(kind, value);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CanonicalValueError);
  const error = caught as CanonicalValueError;
  expect(error.kind).toBe(kind);
  expect(error.message).toContain(kind);
  expect(error.reason).toMatch(reasonPart);
}

describe('I2 canonical form: rules', () => {
  it.each<[FieldKind, unknown, unknown]>([
    ['text', null, null],
    ['text', undefined, null],
    ['text', '', null],
    ['text', '  ', '  '],
    ['text', ' padded\n', ' padded\n'],
    ['note', '', null],
    ['choice', 'Red', 'Red'],
    ['number', '12345678901234567890.123456', 12345678901234567000],
    ['number', '9007199254740993', 9007199254740992],
    ['number', 9007199254740993n, 9007199254740992],
    ['number', '-0.000000', 0],
    ['number', -0, 0],
    ['number', '1e-7', 1e-7],
    ['number', '0.1', 0.1],
    ['integer', '42', 42],
    ['integer', -0, 0],
    ['integer', 12.0, 12],
    ['boolean', 't', true],
    ['boolean', 'f', false],
    ['boolean', 'TRUE', true],
    ['boolean', false, false],
    ['dateTime', '2024-03-01 10:20:30.999999', '2024-03-01T10:20:30Z'],
    ['dateTime', '2024-03-01 10:20:30.5+05:30', '2024-03-01T04:50:30Z'],
    ['dateTime', '2024-03-01 00:20:30-01', '2024-03-01T01:20:30Z'],
    ['dateTime', '2024-03-01T10:20:30Z', '2024-03-01T10:20:30Z'],
    ['dateTime', '1900-01-01 00:00:00', '1900-01-01T00:00:00Z'],
    ['dateTime', new Date('2024-03-01T10:20:30.999Z'), '2024-03-01T10:20:30Z'],
    ['dateOnly', '2024-02-29', '2024-02-29'],
    ['dateOnly', '2024-02-29 23:59:59+14', '2024-02-29'],
    ['dateOnly', new Date(2024, 1, 29), '2024-02-29'],
    ['uuid', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
    ['uuid', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
    ['uuid', '', null],
    [
      'json',
      '{"b": 1, "a": {"d": [1, {"z": 0, "y": 1}], "c": null}}',
      '{"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}',
    ],
    ['json', { b: 1, a: 2 }, '{"a":2,"b":1}'],
    ['json', '"123"', '"123"'],
    ['json', 'plain string from the default json parser', '"plain string from the default json parser"'],
    ['json', 'null', null],
    ['json', '[]', '[]'],
    // Numbers a double cannot hold stay exact (Postgres keeps them; SharePoint holds the text).
    [
      'json',
      '{"order": 12345678901234567891, "rate": 0.12345678901234567891, "big": 1E+400}',
      `{"big":1${'0'.repeat(400)},"order":12345678901234567891,"rate":0.12345678901234567891}`,
    ],
    [
      'json',
      '[1.50, 1e21, -0.0, 9007199254740993, "12345678901234567891"]',
      '[1.5,1e+21,0,9007199254740993,"12345678901234567891"]',
    ],
    ['json', '{"__proto__": 123456789012345678901}', '{"__proto__":123456789012345678901}'],
    [
      'json',
      'plain text 12345678901234567891 from the default parser',
      '"plain text 12345678901234567891 from the default parser"',
    ],
    ['multiChoice', ['b', 'a', 'b'], ['b', 'a', 'b']],
    ['multiChoice', [], null],
    ['lookupId', '13', 13],
    ['lookupId', 13, 13],
    ['multiLookupId', [12, 3], [12, 3]],
    ['multiLookupId', ['12', '3'], [12, 3]],
    ['multiLookupId', [], null],
  ])('%s %p → %p', (kind, value, expected) => {
    const canonical = toCanonical(kind, value);
    expect(canonical).toEqual(expected);
    expect(Object.is(canonical, -0)).toBe(false);
  });

  it.each<[FieldKind, unknown, unknown]>([
    ['text', '', null],
    ['number', 1.5, 1.5],
    ['integer', 7, 7],
    ['dateTime', '2016-08-30T08:26:00Z', '2016-08-30T08:26:00Z'],
    ['dateOnly', '2024-01-02T00:00:00Z', '2024-01-02'],
    ['dateOnly', '2024-01-01T22:00:00Z', '2024-01-02'], // site at UTC+2: a day early in UTC
    ['dateOnly', '2024-01-01T12:00:00Z', '2024-01-02'], // site at UTC+12: the tie goes to the later day
    ['dateOnly', '2024-01-02T11:00:00Z', '2024-01-02'], // site at UTC−11
    ['dateOnly', '2024-01-02', '2024-01-02'],
    ['lookupId', '6', 6],
    [
      'multiLookupId',
      [
        { LookupId: 11, LookupValue: 'Ann' },
        { LookupId: 12, LookupValue: 'Bo' },
      ],
      [11, 12],
    ],
    ['multiLookupId', ['11', '12'], [11, 12]],
    ['json', '{"b":[2,1],"a":true}', '{"a":true,"b":[2,1]}'],
    ['json', '{"id":12345678901234567891}', '{"id":12345678901234567891}'],
    ['uuid', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
  ])('from Graph: %s %p → %p', (kind, value, expected) => {
    expect(fromGraphValue(kind, value)).toEqual(expected);
  });

  it('rejects values SharePoint cannot store, naming kind, value and reason', () => {
    rejects('number', 'NaN', /NaN/);
    rejects('number', 'Infinity', /NaN and Infinity/);
    rejects('number', Number.POSITIVE_INFINITY, /finite/);
    rejects('number', '1e400', /finite/);
    rejects('number', true, /expected a number/);
    rejects('integer', 1.5, /integer/);
    rejects('integer', 2 ** 60, /integer/);
    rejects('boolean', 'yes', /boolean/);
    rejects('dateTime', '1899-12-31 23:59:59', /outside SharePoint's range/);
    rejects('dateTime', '8901-01-01 00:00:00', /outside SharePoint's range/);
    rejects('dateTime', '0050-01-01 00:00:00', /outside SharePoint's range/);
    rejects('dateTime', '2024-02-30 00:00:00', /not a calendar date/);
    rejects('dateTime', '2024-01-01 25:00:00', /time of day/);
    rejects('dateTime', 'infinity', /infinite/);
    rejects('dateTime', '2000-01-01 00:00:00 BC', /common era/);
    rejects('dateTime', 'yesterday', /not a timestamp/);
    rejects('dateOnly', '1800-01-01', /outside SharePoint's range/);
    rejects('dateOnly', '2023-02-29', /not a calendar date/);
    rejects('uuid', 'not-a-uuid', /not a uuid/);
    rejects('json', '{"unterminated": ', /not valid JSON/, fromGraphValue);
    rejects('json', '{"unterminated": 12345678901234567891', /not valid JSON/, fromGraphValue);
    rejects('json', { when: Number.NaN }, /not representable/);
    rejects('multiChoice', ['ok', ''], /empty/);
    rejects('multiChoice', ['a;#b'], /;#/);
    rejects('multiChoice', ['a', null], /not a string/);
    rejects('multiChoice', 'a', /array/);
    rejects('lookupId', 0, /positive integer/);
    rejects('lookupId', '1.5', /positive integer/);
    rejects('multiLookupId', [{ LookupValue: 'no id' }], /without a LookupId/);
    rejects('text', 42, /expected a string/);
  });

  it('truncates long values in error messages', () => {
    const long = 'x'.repeat(500);
    try {
      toCanonical('uuid', long);
      throw new Error('expected a CanonicalValueError');
    } catch (error) {
      expect(error).toBeInstanceOf(CanonicalValueError);
      expect((error as CanonicalValueError).message.length).toBeLessThan(200);
      expect((error as CanonicalValueError).valuePreview.endsWith('…')).toBe(true);
    }
  });

  it('does not depend on the process time zone for timestamps without an offset', () => {
    expect(toCanonical('dateTime', '2024-07-01 12:00:00')).toBe('2024-07-01T12:00:00Z');
    expect(toCanonical('dateTime', '2024-07-01 12:00:00+00')).toBe('2024-07-01T12:00:00Z');
  });
});

describe('I2 canonical form: toCanonical is idempotent on its own output', () => {
  it.each(FIELD_KINDS.map((kind) => [kind]))('%s', (kind) => {
    fc.assert(
      fc.property(postgresValueOf(kind), (value) => {
        const once = toCanonical(kind, value);
        const twice = toCanonical(kind, once);
        expect(canonicalEquals(twice, once)).toBe(true);
        expect(canonicalEquals(fromGraphValue(kind, once), once)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  IdentityKeyError,
  contentHash,
  identityOf,
  stableStringify,
  toCanonical,
  type CanonicalRecord,
  type CanonicalValue,
} from '../../../src/core/canonical';
import { postgresValueOf } from './arbitraries';

const canonicalValue: fc.Arbitrary<CanonicalValue> = fc
  .constantFrom(
    'text' as const,
    'number' as const,
    'boolean' as const,
    'dateTime' as const,
    'multiChoice' as const,
    'multiLookupId' as const,
    'json' as const,
  )
  .chain((kind) => postgresValueOf(kind).map((value) => toCanonical(kind, value)));

const canonicalRecord: fc.Arbitrary<CanonicalRecord> = fc.dictionary(
  fc.string({ minLength: 1 }),
  canonicalValue,
  {
    maxKeys: 8,
  },
);

function shuffled<T>(items: T[], order: number[]): T[] {
  return items
    .map((item, index) => ({ item, rank: order[index % order.length] ?? 0 }))
    .sort((a, b) => a.rank - b.rank)
    .map(({ item }) => item);
}

describe('stableStringify', () => {
  it('sorts keys at every depth and otherwise writes JSON', () => {
    expect(stableStringify({ b: [{ d: 1, c: 2 }], a: 'x', u: undefined })).toBe(
      '{"a":"x","b":[{"c":2,"d":1}]}',
    );
    expect(stableStringify([undefined, -0, 'é'])).toBe('[null,0,"é"]');
    expect(stableStringify(new Date('2024-01-01T00:00:00Z'))).toBe('"2024-01-01T00:00:00.000Z"');
  });

  it('refuses values JSON cannot represent', () => {
    expect(() => stableStringify(Number.NaN)).toThrow(TypeError);
    expect(() => stableStringify({ a: Number.POSITIVE_INFINITY })).toThrow(TypeError);
    expect(() => stableStringify(1n)).toThrow(TypeError);
    expect(() => stableStringify(undefined)).toThrow(TypeError);
  });

  it('parses back to the same data', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(stableStringify(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('writes exactly what the map/join implementation wrote (hashes of stored ledgers stay valid)', () => {
    const reference = (value: unknown, key: string): string | undefined => {
      if (
        value !== null &&
        typeof value === 'object' &&
        typeof (value as { toJSON?: unknown }).toJSON === 'function'
      )
        return reference((value as { toJSON: (k: string) => unknown }).toJSON(key), key);
      if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number')
        return JSON.stringify(value);
      if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
      if (value === null) return 'null';
      if (Array.isArray(value))
        return `[${value.map((v, i) => reference(v, String(i)) ?? 'null').join(',')}]`;
      const members: string[] = [];
      for (const k of Object.keys(value as object).sort()) {
        const w = reference((value as Record<string, unknown>)[k], k);
        if (w !== undefined) members.push(`${JSON.stringify(k)}:${w}`);
      }
      return `{${members.join(',')}}`;
    };
    const withOddities = fc.oneof(
      fc.jsonValue(),
      fc.dictionary(
        fc.string(),
        fc.oneof(fc.constant(undefined), fc.date({ noInvalidDate: true }), fc.jsonValue()),
      ),
      fc.array(fc.oneof(fc.constant(undefined), fc.jsonValue())),
      // Keys of any code units (surrogates included) and sets on both sides of the in-place sort's limit.
      fc.dictionary(fc.string({ unit: 'binary', maxLength: 4 }), fc.integer(), { minKeys: 20, maxKeys: 40 }),
    );
    fc.assert(
      fc.property(withOddities, (value) => {
        expect(stableStringify(value)).toBe(reference(value, ''));
      }),
    );
    fc.assert(
      fc.property(canonicalRecord, (record) => {
        const present = Object.fromEntries(Object.entries(record).filter(([, v]) => v !== null));
        const expected = createHash('sha256')
          .update(reference(present, '') as string, 'utf8')
          .digest('hex');
        expect(contentHash(record)).toBe(expected);
      }),
    );
  });
});

describe('I2 canonical form: contentHash', () => {
  it('is a sha256 hex digest independent of key order', () => {
    fc.assert(
      fc.property(canonicalRecord, fc.array(fc.integer(), { minLength: 1 }), (record, order) => {
        const reordered = Object.fromEntries(shuffled(Object.entries(record), order));
        expect(contentHash(reordered)).toBe(contentHash(record));
        expect(contentHash(record)).toMatch(/^[0-9a-f]{64}$/);
      }),
    );
  });

  it('treats a null field like an absent one (SharePoint omits empty values)', () => {
    expect(contentHash({ a: 1, b: null })).toBe(contentHash({ a: 1 }));
  });

  it('changes when any value changes', () => {
    fc.assert(
      fc.property(canonicalRecord, fc.string({ minLength: 1 }), fc.string(), (record, field, text) => {
        // A field is a SharePoint internal name: never "__proto__", which a spread would not copy as a field.
        fc.pre(field !== '__proto__' && text !== '' && record[field] !== text);
        expect(contentHash({ ...record, [field]: text })).not.toBe(contentHash(record));
      }),
    );
    expect(contentHash({ a: '1' })).not.toBe(contentHash({ a: 1 }));
    expect(contentHash({ a: ['x', 'y'] })).not.toBe(contentHash({ a: ['y', 'x'] }));
  });
});

describe('I1 identity', () => {
  it('renders key values in definition order and hashes them', () => {
    const row = { region: 'EU', id: 7, name: 'ignored' };
    const identity = identityOf(['region', 'id'], row);
    expect(identity.identity).toBe('["EU",7]');
    expect(identity.hash).toBe(contentHashOfText('["EU",7]'));
    expect(identityOf(['id', 'region'], row).identity).toBe('[7,"EU"]');
    expect(identityOf(['id', 'region'], row).hash).not.toBe(identity.hash);
  });

  it('with kinds, normalises integer and numeric keys however node-pg delivered them', () => {
    const kinds = { id: 'integer' as const, amount: 'number' as const };
    const a = identityOf(['id', 'amount'], { id: 1, amount: '1.50' }, kinds);
    const b = identityOf(['id', 'amount'], { id: '1', amount: 1.5 }, kinds);
    const c = identityOf(['id', 'amount'], { id: 1n, amount: '+001.500' }, kinds);
    expect(a).toEqual(b);
    expect(a).toEqual(c);
    expect(a.identity).toBe('[1,1.5]');
    expect(identityOf(['id'], { id: 1 }).hash).not.toBe(identityOf(['id'], { id: '1' }).hash);
  });

  it('keeps bigint keys beyond 2^53 apart (no double rounding in identities)', () => {
    const kinds = { id: 'number' as const };
    const first = identityOf(['id'], { id: '9007199254740992' }, kinds);
    const second = identityOf(['id'], { id: '9007199254740993' }, kinds);
    expect(second.identity).toBe('[9007199254740993]');
    expect(second.hash).not.toBe(first.hash);
  });

  it('keeps timestamp keys exact to the microsecond and in UTC, uuids lowercase', () => {
    const kinds = { at: 'dateTime' as const, ref: 'uuid' as const };
    const a = identityOf(
      ['at', 'ref'],
      { at: '2024-01-01 10:00:00.000001+01', ref: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' },
      kinds,
    );
    const b = identityOf(
      ['at', 'ref'],
      { at: '2024-01-01T09:00:00.000001Z', ref: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' },
      kinds,
    );
    const c = identityOf(
      ['at', 'ref'],
      { at: '2024-01-01 09:00:00', ref: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' },
      kinds,
    );
    expect(a).toEqual(b);
    expect(a.identity).toBe('["2024-01-01T09:00:00.000001Z","a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]');
    expect(c.hash).not.toBe(a.hash);
  });

  it('is injective on composite keys: distinct key tuples never share an identity', () => {
    const keyValue = fc.oneof(fc.string(), fc.integer(), fc.boolean());
    fc.assert(
      fc.property(fc.tuple(keyValue, keyValue), fc.tuple(keyValue, keyValue), ([a1, a2], [b1, b2]) => {
        fc.pre(!(Object.is(a1, b1) && Object.is(a2, b2)));
        const first = identityOf(['x', 'y'], { x: a1, y: a2 });
        const second = identityOf(['x', 'y'], { x: b1, y: b2 });
        expect(first.identity).not.toBe(second.identity);
        expect(first.hash).not.toBe(second.hash);
      }),
    );
    // A separator inside a text key cannot make two tuples collide.
    expect(identityOf(['x', 'y'], { x: 'a","b', y: 'c' }).hash).not.toBe(
      identityOf(['x', 'y'], { x: 'a', y: 'b","c' }).hash,
    );
  });

  it('rejects null and missing key values and an empty key', () => {
    expect(() => identityOf(['id'], { id: null })).toThrow(IdentityKeyError);
    expect(() => identityOf(['id'], {})).toThrow(/no such column/);
    expect(() => identityOf([], { id: 1 })).toThrow(IdentityKeyError);
    expect(() => identityOf(['id'], { id: 'abc' }, { id: 'integer' })).toThrow(/decimal/);
    expect(() => identityOf(['id'], { id: { nested: true } })).toThrow(IdentityKeyError);
  });
});

/** Independent of the implementation under test: node's own sha256 over the identity text. */
function contentHashOfText(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

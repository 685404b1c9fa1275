import { canonicalEquals, changedFields } from '../../../src/core/conflict';

describe('I3 echo suppression: canonical equality and changed fields', () => {
  it('compares canonical values; missing equals null; arrays by order', () => {
    expect(canonicalEquals(null, undefined)).toBe(true);
    expect(canonicalEquals(1, 1)).toBe(true);
    expect(canonicalEquals(1, '1')).toBe(false);
    expect(canonicalEquals(['a', 'b'], ['a', 'b'])).toBe(true);
    expect(canonicalEquals(['a', 'b'], ['b', 'a'])).toBe(false);
    expect(canonicalEquals([1], [1, 1])).toBe(false);
    expect(canonicalEquals([], null)).toBe(false);
    expect(canonicalEquals('x', ['x'])).toBe(false);
  });

  it('lists the fields whose values differ from base, in field order', () => {
    const base = { a: 1, b: 'x', c: ['p'], d: null };
    expect(changedFields(base, { a: 1, b: 'y', c: ['p'], d: null }, ['a', 'b', 'c', 'd'])).toEqual(['b']);
    expect(changedFields(base, { a: 2, b: 'x', c: ['q'] }, ['c', 'b', 'a', 'd'])).toEqual(['c', 'a']);
    expect(changedFields(base, { ...base, e: 'not considered' }, ['a', 'b', 'c', 'd'])).toEqual([]);
  });

  it('without a base, every field holding a value counts as changed', () => {
    expect(changedFields(null, { a: 1, b: null }, ['a', 'b', 'c'])).toEqual(['a']);
  });
});

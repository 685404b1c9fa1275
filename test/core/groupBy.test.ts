import { groupBy } from '../../src/core/groupBy';

describe('groupBy', () => {
  it('keeps the items of each key in their order, and the keys in the order they first appear', () => {
    const items = [
      { list: 'b', n: 1 },
      { list: 'a', n: 2 },
      { list: 'b', n: 3 },
      { list: 'a', n: 4 },
      { list: 'c', n: 5 },
    ];
    const groups = groupBy(items, (i) => i.list);
    expect([...groups.keys()]).toEqual(['b', 'a', 'c']);
    expect(groups.get('b')?.map((i) => i.n)).toEqual([1, 3]);
    expect(groups.get('a')?.map((i) => i.n)).toEqual([2, 4]);
    expect(groups.get('c')?.map((i) => i.n)).toEqual([5]);
  });

  it('returns no group for no items, and groups the items of an iterable', () => {
    expect(groupBy([], String).size).toBe(0);
    const fromSet = groupBy(new Set([1, 2, 3, 4]), (n) => n % 2);
    expect(fromSet.get(1)).toEqual([1, 3]);
    expect(fromSet.get(0)).toEqual([2, 4]);
  });
});

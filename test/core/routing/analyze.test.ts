import fc from 'fast-check';
import { analyzeRoutes, compileRoutes, type Route, type RouteColumn } from '../../../src/core/routing';
import type { CanonicalValue } from '../../../src/core/canonical';

const COLUMNS: RouteColumn[] = [
  { source: 'status', target: 'Status', kind: 'text' },
  { source: 'amount', target: 'Amount', kind: 'number' },
  { source: 'id', target: 'RowId', kind: 'integer' },
  { source: 'done', target: 'Done', kind: 'boolean' },
];

function findings(routes: Route[]): string[] {
  return analyzeRoutes(compileRoutes(routes, COLUMNS)).map(
    (f) => `${f.severity} routes[${f.route}]: ${f.message}`,
  );
}

describe('routes that can never match', () => {
  it('a condition that contradicts itself', () => {
    for (const when of [
      "status == 'A' and status == 'B'",
      'amount > 5 and amount < 3',
      "status in ('A', 'B') and status not in ('A', 'B')",
      'hash(id) % 4 == 4',
      'id is null and id == 3',
      '1 == 2',
    ])
      expect(findings([{ when, list: 'A' }, { list: 'Rest' }])).toEqual([
        'error routes[0]: never matches: the condition is never true (it contradicts itself)',
      ]);
  });

  it('a duplicate condition, written differently', () => {
    expect(
      findings([
        { when: "status == 'A'", list: 'A' },
        { when: "(status  ==  'A')", list: 'B' },
        { list: 'C' },
      ]),
    ).toEqual([
      'error routes[1]: repeats the condition of routes[0], which takes every row it matches: this route never matches',
    ]);
  });

  it('a route whose rows earlier routes all take, and a default no row reaches', () => {
    expect(
      findings([
        { when: 'amount >= 10', list: 'A' },
        { when: 'amount > 20 and done', list: 'B' },
        { when: 'hash(id) % 2 == 0', list: 'E' },
        { when: 'hash(id) % 4 == 2', list: 'F' },
        { list: 'C' },
      ]),
    ).toEqual([
      'error routes[1]: never matches: every row it matches is taken by an earlier route',
      'error routes[3]: never matches: every row it matches is taken by an earlier route',
    ]);
    expect(findings([{ when: 'status is null or status is not null', list: 'A' }, { list: 'C' }])).toEqual([
      'warning routes[1]: the default route is never used: every row matches an earlier route',
    ]);
  });

  it('reports nothing for sound routes, including a null that only the default takes', () => {
    expect(
      findings([
        { when: "status == 'A'", list: 'A' },
        { when: "status != 'A'", list: 'B' },
        { when: 'hash(id) % 4 == 0', list: 'S0' },
        { when: 'amount >= 1000 and not done', list: 'Big' },
        { list: 'Rest' },
      ]),
    ).toEqual([]);
  });

  it('never calls a route unreachable that some row reaches', () => {
    const literalStatus = fc.constantFrom('A', 'B', 'C');
    const literalAmount = fc.integer({ min: 0, max: 4 });
    const atom = fc.oneof(
      fc.tuple(fc.constantFrom('==', '!=', '<', '>='), literalStatus).map(([op, v]) => `status ${op} '${v}'`),
      fc
        .tuple(fc.constantFrom('==', '!=', '<', '<=', '>', '>='), literalAmount)
        .map(([op, v]) => `amount ${op} ${v}`),
      fc.constantFrom('status is null', 'amount is not null', 'done', 'not done'),
      fc
        .tuple(fc.constantFrom(2, 3, 4), fc.integer({ min: 0, max: 3 }))
        .map(([n, k]) => `hash(id) % ${n} == ${k}`),
    );
    const condition = fc
      .tuple(atom, fc.option(fc.tuple(fc.constantFrom('and', 'or'), atom)))
      .map(([a, rest]) => (rest ? `(${a}) ${rest[0]} (${rest[1]})` : a));
    const row = fc.record({
      status: fc.constantFrom<CanonicalValue>('A', 'B', 'C', 'AA', 'Z', null),
      amount: fc.constantFrom<CanonicalValue>(-1, 0, 1, 1.5, 2, 3, 4, 9, null),
      id: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.constant(null)),
      done: fc.constantFrom<CanonicalValue>(true, false, null),
    });
    fc.assert(
      fc.property(
        fc.array(condition, { minLength: 1, maxLength: 4 }),
        fc.array(row, { minLength: 20, maxLength: 60 }),
        (whens, rows) => {
          const compiled = compileRoutes(
            [...whens.map((when, i) => ({ when, list: `L${i}` })), { list: 'Rest' }],
            COLUMNS,
          );
          const unreachable = new Set(analyzeRoutes(compiled).map((f) => f.route));
          for (const r of rows) {
            const list = compiled.routeOf(r);
            const route = compiled.routes.findIndex((x) => x.list === list);
            expect(unreachable.has(route)).toBe(false);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

import fc from 'fast-check';
import {
  compileRoutes,
  compileTargetRoutes,
  evaluate,
  fnv1a32,
  InvalidRoutesError,
  lookupIn,
  parseCondition,
  routeHash,
  routeColumnsOf,
  RouteInputError,
  targetLists,
  type RouteColumn,
} from '../../../src/core/routing';
import type { CanonicalValue } from '../../../src/core/canonical';

const COLUMNS: RouteColumn[] = [
  { source: 'status', target: 'Status', kind: 'text' },
  { source: 'region', target: 'Region', kind: 'choice' },
  { source: 'amount', target: 'Amount', kind: 'number' },
  { source: 'id', target: 'RowId', kind: 'integer' },
  { source: 'done', target: 'Done', kind: 'boolean' },
  { source: 'tags', target: 'Tags', kind: 'multiChoice' },
  { source: 'owner', target: 'Owner', kind: 'uuid' },
  { source: 'due', target: 'Due', kind: 'dateOnly' },
  { source: 'changed', target: 'Changed', kind: 'dateTime' },
];

const NULL_ROW: Record<string, CanonicalValue> = Object.fromEntries(COLUMNS.map((c) => [c.source, null]));

function matches(when: string, row: Record<string, CanonicalValue>): boolean {
  return compileRoutes([{ when, list: 'L' }], COLUMNS).routeOf({ ...NULL_ROW, ...row }) === 0;
}

function problemsOf(routes: { when?: string; list: string }[]): string[] {
  try {
    compileRoutes(routes, COLUMNS);
  } catch (err) {
    if (err instanceof InvalidRoutesError)
      return err.problems.map((p) => `routes[${p.route}].${p.part}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('routes: first match decides, over canonical values', () => {
  const routes = compileRoutes(
    [
      { when: "status == 'ACTIVE'", list: 'Active' },
      { when: "region in ('EU', 'UK') and amount >= 1000", list: 'Big' },
      { when: 'hash(id) % 4 == 0', list: 'Shard' },
      { when: "status == 'PAUSED'", list: 'Active' },
      { list: 'Rest' },
    ],
    COLUMNS,
  );

  it('lists every list once in order of first appearance; routes to one list share its index', () => {
    expect(routes.lists).toEqual(['Active', 'Big', 'Shard', 'Rest']);
    expect(routes.routes.map((r) => r.list)).toEqual([0, 1, 2, 0, 3]);
  });

  it('takes the first route whose condition is true, else the default', () => {
    const row = (r: Record<string, CanonicalValue>) => routes.routeOf({ ...NULL_ROW, ...r });
    expect(row({ status: 'ACTIVE', region: 'EU', amount: 5000 })).toBe(0);
    expect(row({ status: 'DONE', region: 'UK', amount: 1000 })).toBe(1);
    expect(row({ status: 'DONE', region: 'UK', amount: 999.99, id: 1 })).toBe(fnv1a32('1') % 4 === 0 ? 2 : 3);
    expect(row({ status: 'PAUSED', id: 1 })).toBe(fnv1a32('1') % 4 === 0 ? 2 : 0);
    expect(row({})).toBe(3);
  });

  it('routeOfRecord reads a canonical record keyed by SharePoint field name', () => {
    expect(routes.routeOfRecord({ Status: 'ACTIVE', Region: null, Amount: null, RowId: 3 })).toBe(0);
    expect(routes.routeOfRecord({ Status: null, Region: 'EU', Amount: 1000, RowId: 3 })).toBe(1);
  });

  it('reads a key column no field maps from the keys given with the record', () => {
    const byKey = compileRoutes(
      [{ when: 'hash(code) % 2 == 0', list: 'Even' }, { list: 'Odd' }],
      [{ source: 'code', kind: 'text' }],
    );
    expect(byKey.routeOfRecord({ Title: 'x' }, { code: 'A-1' })).toBe(fnv1a32('A-1') % 2 === 0 ? 0 : 1);
    expect(byKey.routeOfRecord({ Title: 'x' }, { code: 'A-2' })).toBe(fnv1a32('A-2') % 2 === 0 ? 0 : 1);
  });

  it('routeColumnsOf takes the first field of a column and the kinds of unmapped keys', () => {
    expect(
      routeColumnsOf(
        [
          { source: 'name', target: 'Title', kind: 'text' },
          { source: 'name', target: 'Name2', kind: 'text' },
          { source: 'id', target: 'RowId', kind: 'integer' },
        ],
        { id: 'integer', code: 'text' },
      ),
    ).toEqual([
      { source: 'name', target: 'Title', kind: 'text' },
      { source: 'id', target: 'RowId', kind: 'integer' },
      { source: 'code', kind: 'text' },
    ]);
  });

  it('compileTargetRoutes treats a single list as one default route, with lists as targetLists gives them', () => {
    const single = { name: 'p', target: { site: 's', list: 'Projects', keyColumn: 'ArcoreKey' } };
    const compiled = compileTargetRoutes(single, COLUMNS);
    expect(compiled.lists).toEqual(targetLists(single));
    expect(compiled.routeOf({})).toBe(0);
    const routed = {
      name: 'p',
      target: {
        site: 's',
        keyColumn: 'ArcoreKey',
        routes: [{ when: 'done', list: 'B' }, { when: 'not done', list: 'A' }, { list: 'B' }],
      },
    };
    expect(compileTargetRoutes(routed, COLUMNS).lists).toEqual(targetLists(routed));
  });

  it('a row matching no route and no default is unrouted (null)', () => {
    const noDefault = compileRoutes([{ when: "status == 'ACTIVE'", list: 'Active' }], COLUMNS);
    expect(noDefault.routeOf({ status: 'DONE' })).toBeNull();
    expect(noDefault.routeOf({ status: null })).toBeNull();
  });

  it('refuses values that lack a column a condition reads (a caller bug, not a null)', () => {
    expect(() => routes.routeOf({ status: 'X' })).toThrow(RouteInputError);
  });
});

describe('null semantics (SQL three-valued logic)', () => {
  it('a comparison with a null column is unknown, so neither it nor its negation matches', () => {
    expect(matches("status != 'ARCHIVED'", {})).toBe(false);
    expect(matches("not status == 'ARCHIVED'", {})).toBe(false);
    expect(matches("status is null or status != 'ARCHIVED'", {})).toBe(true);
    expect(matches("status not in ('A', 'B')", {})).toBe(false);
    expect(matches('hash(id) % 2 == 0 or hash(id) % 2 == 1', {})).toBe(false);
    expect(matches('hash(id) is null', {})).toBe(true);
  });

  it('and/or follow Kleene logic: false and unknown is false, true or unknown is true', () => {
    const unknown = parseCondition("status == 'x'");
    const t = parseCondition('1 == 1');
    const f = parseCondition('1 == 2');
    const lookup = lookupIn(NULL_ROW);
    const and = (l: typeof t, r: typeof t) => evaluate({ type: 'and', left: l, right: r, pos: 0 }, lookup);
    const or = (l: typeof t, r: typeof t) => evaluate({ type: 'or', left: l, right: r, pos: 0 }, lookup);
    expect([and(f, unknown), and(unknown, f), and(t, unknown), and(unknown, unknown)]).toEqual([
      false,
      false,
      null,
      null,
    ]);
    expect([or(t, unknown), or(unknown, t), or(f, unknown), or(unknown, unknown)]).toEqual([
      true,
      true,
      null,
      null,
    ]);
    expect(evaluate({ type: 'not', operand: unknown, pos: 0 }, lookup)).toBeNull();
  });

  it('not inverts every comparison whose operands are not null', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('==', '!=', '<', '<=', '>', '>='),
        fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ noNaN: true, noDefaultInfinity: true })),
        fc.integer({ min: -5, max: 5 }),
        (op, amount, constant) => {
          const when = `amount ${op} ${constant}`;
          expect(matches(`not (${when})`, { amount })).toBe(!matches(when, { amount }));
          expect(matches(`not (${when})`, {})).toBe(false);
          expect(matches(when, {})).toBe(false);
        },
      ),
    );
  });

  it('in (…) matches exactly the listed values; not in the others', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 3 }),
        fc.array(fc.string({ minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }),
        (status, values) => {
          const list = values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ');
          expect(matches(`status in (${list})`, { status })).toBe(values.includes(status));
          expect(matches(`status not in (${list})`, { status })).toBe(!values.includes(status));
        },
      ),
    );
  });
});

describe('comparisons use canonical values', () => {
  it('uuid literals compare in lowercase, dates and timestamps in their canonical text', () => {
    const owner = '6f1c2b9e-0000-4000-8000-00000000abcd';
    expect(matches(`owner == '${owner.toUpperCase()}'`, { owner })).toBe(true);
    expect(matches("due < '2026-01-01'", { due: '2025-12-31' })).toBe(true);
    expect(matches("due < '2026-01-01'", { due: '2026-01-01' })).toBe(false);
    expect(matches("changed >= '2026-01-01T00:00:00+02:00'", { changed: '2025-12-31T22:00:00Z' })).toBe(true);
    expect(matches('done == true', { done: true })).toBe(true);
    expect(matches('done', { done: true })).toBe(true);
    expect(matches('not done', { done: false })).toBe(true);
    expect(matches('amount % 2 == 1', { amount: -3 })).toBe(true);
  });
});

describe('type checks name the route, the character and what to write instead', () => {
  it.each([
    [
      "amount == 'x'",
      `== compares column "amount" (number), which is a number, with the string 'x', which is text at character 1`,
    ],
    [
      'status < 5',
      `< compares column "status" (text), which is text, with 5, which is a number at character 1`,
    ],
    [
      'tags == 1',
      'column "tags" (multiChoice) holds several values: a condition can test it only with is null or is not null at character 1',
    ],
    ['done < true', 'booleans have no order: compare them with == or != at character 1'],
    [
      "hash(status) % 4 == 'a'",
      `== compares the expression, which is a number, with the string 'a', which is text at character 1`,
    ],
    [
      'status % 4 == 1',
      '"%" needs a number on its left (hash(column) or a numeric column), not column "status" (text) at character 1',
    ],
    [
      'status',
      'a condition must be true or false, but column "status" (text) is text: compare it, e.g. status == … at character 1',
    ],
    [
      'amount and done',
      'and needs a condition (true or false) but column "amount" (number) is a number at character 1',
    ],
    [
      'status == null',
      'comparing with null is never true (it is unknown): write "is null" or "is not null" at character 1',
    ],
    [
      "status in ('a', null)",
      'null in the values of in never matches: write "… is null or … in (…)" at character 17',
    ],
    [
      "status == ''",
      `'' is stored as null in "status" (SharePoint keeps no empty text): write "status is null" at character 11`,
    ],
    ["owner == 'nope'", `'nope' is not a valid uuid value for column "owner"`],
    ["due < '2026-13-01'", `'2026-13-01' is not a valid dateOnly value for column "due"`],
    [
      'Status == 1',
      'unknown column "Status" (column names are case-sensitive: did you mean "status"?) at character 1',
    ],
    [
      'nope == 1',
      'unknown column "nope": conditions read mapped source columns (fields[].source) and key columns (source.key): "status", "region"',
    ],
    ['hash(nope) % 2 == 0', 'unknown column "nope"'],
  ])('%j', (when, problem) => {
    const problems = problemsOf([
      { when: "status == 'ok'", list: 'A' },
      { when, list: 'B' },
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`routes[1].when: ${problem}`);
  });

  it('refuses a default route that is not last and a list spelled two ways, naming each route', () => {
    expect(
      problemsOf([{ list: 'A' }, { when: "status == 'x'", list: 'B' }, { when: 'done', list: 'a' }]),
    ).toEqual([
      'routes[0].when: only the last route may omit when (it is the default); the routes after it could never match',
      'routes[2].list: "a" is list "A" written differently: spell a list the same way in every route',
    ]);
  });
});

describe('hash(column): FNV-1a 32 over the canonical text', () => {
  it('matches the published FNV-1a test vectors and hashes canonical text', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    expect(routeHash(42)).toBe(fnv1a32('42'));
    expect(routeHash(-1.5)).toBe(fnv1a32('-1.5'));
    expect(routeHash(true)).toBe(fnv1a32('true'));
    expect(routeHash(['b', 'a'])).toBe(fnv1a32('["b","a"]'));
    expect(routeHash('Zürich')).toBe(fnv1a32('Z\u00fcrich'));
    expect(routeHash(null)).toBeNull();
  });

  it('is an unsigned 32-bit integer and hash % n is a bucket in 0..n-1', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
        fc.integer({ min: 1, max: 1000 }),
        (value, n) => {
          const h = routeHash(value) as number;
          expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
          const bucket = evaluate(parseCondition(`hash(id) % ${n}`), lookupIn({ id: value }));
          expect(bucket).toBe(h % n);
        },
      ),
    );
  });

  it('spreads sequential integer keys evenly over 4 buckets', () => {
    const counts = [0, 0, 0, 0];
    for (let id = 1; id <= 4000; id++) counts[(routeHash(id) as number) % 4]++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(120);
  });
});

import fc from 'fast-check';
import {
  parseCondition,
  printCondition,
  RouteConditionError,
  type LiteralValue,
  type Node,
} from '../../../src/core/routing';

/** The tree without positions, for comparing trees parsed from different texts. */
function shape(node: Node): unknown {
  return JSON.parse(JSON.stringify(node, (key, value: unknown) => (key === 'pos' ? undefined : value)));
}

function errorOf(text: string): { problem: string; position: number } {
  try {
    parseCondition(text);
  } catch (err) {
    if (err instanceof RouteConditionError) return { problem: err.problem, position: err.position };
    throw err;
  }
  throw new Error(`"${text}" parsed`);
}

describe('route condition parser', () => {
  it("parses the issue's examples with and binding tighter than or and not tighter than and", () => {
    expect(printCondition(parseCondition("status == 'ACTIVE'"))).toBe("status == 'ACTIVE'");
    expect(printCondition(parseCondition("region in ('EU', 'UK') and amount >= 1000"))).toBe(
      "(region in ('EU', 'UK')) and (amount >= 1000)",
    );
    expect(printCondition(parseCondition('hash(id) % 4 == 0'))).toBe('(hash(id) % 4) == 0');
    expect(printCondition(parseCondition('a == 1 or b == 2 and not c == 3'))).toBe(
      '(a == 1) or ((b == 2) and (not (c == 3)))',
    );
    expect(printCondition(parseCondition('(a == 1 or b == 2) and c is not null'))).toBe(
      '((a == 1) or (b == 2)) and (c is not null)',
    );
  });

  it('reads keywords in any case, SQL quoting, quoted column names, negative numbers and exponents', () => {
    const tree = parseCondition(`"Due Date" IS NULL OR name NOT IN ('it''s', -1.5e3) And flag == TRUE`);
    expect(printCondition(tree)).toBe(
      `("Due Date" is null) or ((name not in ('it''s', -1500)) and (flag == true))`,
    );
    expect(shape(parseCondition('x != null'))).toEqual({
      type: 'compare',
      op: '!=',
      left: { type: 'column', name: 'x' },
      right: { type: 'literal', value: null },
    });
  });

  it.each([
    ["status = 'A'", 7, '"=" is not an operator: write == for equality'],
    ["status <> 'A'", 7, '"<>" is not an operator: write != for inequality'],
    ['a == 1 && b == 2', 7, '"&&" is not an operator: write and'],
    ["status == 'ACTIVE", 10, "unterminated string (no closing ')"],
    ['status == ', 10, 'expected a column, a value or "(" but found the end of the condition'],
    ["status == 'A' extra", 14, 'unexpected "extra": expected and, or, or the end of the condition'],
    ['a < b < c', 6, 'comparisons do not chain: join them with and'],
    ['hash(1) == 0', 5, 'hash() takes one column name but found "1"'],
    ['lower(name) == 0', 0, 'unknown function "lower": the only function is hash(column)'],
    ['hash(id) % 0 == 1', 11, 'expected a positive whole number after "%" but found "0"'],
    ['a in (b)', 6, 'the values after in must be literals (strings, numbers, true, false)'],
    ['a is 1', 5, 'expected null after "is" but found "1"'],
    ['(a == 1', 7, 'expected ")" but found the end of the condition'],
    ['   ', 0, 'the condition is empty'],
    [
      'and == 1',
      0,
      'expected a column, a value or "(" but found the keyword "and" (quote a column of that name: "and")',
    ],
    ['12abc == 1', 0, '"12abc" is neither a number nor a column name (quote a column of that name)'],
    ['a == 1 ; drop table x', 7, 'unexpected character ";"'],
  ])('refuses %j at offset %i: %s', (text, position, problem) => {
    expect(errorOf(text)).toEqual({ problem, position });
  });

  it('reads unquoted column names with letters beyond ASCII', () => {
    expect(shape(parseCondition("größe >= 2 and 名前 == 'x'"))).toMatchObject({
      left: { left: { type: 'column', name: 'größe' } },
      right: { left: { type: 'column', name: '名前' } },
    });
  });

  it('names the position 1-based and the condition in the message', () => {
    expect(() => parseCondition("status = 'A'")).toThrow(
      `"=" is not an operator: write == for equality at character 8 of "status = 'A'"`,
    );
  });

  it('parse(print(tree)) is the tree, for any tree', () => {
    fc.assert(
      fc.property(arbitraryCondition, (tree) => {
        expect(shape(parseCondition(printCondition(tree)))).toEqual(shape(tree));
      }),
      { numRuns: 300 },
    );
  });
});

const columnName = fc.oneof(
  fc.constantFrom(
    'status',
    'amount',
    'region',
    'id',
    'and',
    'hash',
    'Due Date',
    'x"y',
    'größe',
    'Größe2',
    '𝒜b',
  ),
  fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/),
);
const literalValue: fc.Arbitrary<LiteralValue> = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
  fc.boolean(),
  fc.constant(null),
);
const literal = literalValue.map((value): Node => ({ type: 'literal', value, pos: 0 }));
const column = columnName.map((name): Extract<Node, { type: 'column' }> => ({
  type: 'column',
  name,
  pos: 0,
}));
const operand: fc.Arbitrary<Node> = fc.oneof(
  literal,
  column,
  column.map((c): Node => ({ type: 'hash', column: c, pos: 0 })),
  fc.tuple(column, fc.integer({ min: 1, max: 64 })).map(([c, divisor]): Node => ({
    type: 'mod',
    operand: { type: 'hash', column: c, pos: 0 },
    divisor,
    pos: 0,
  })),
);
const arbitraryCondition: fc.Arbitrary<Node> = fc.letrec<{ cond: Node }>((tie) => ({
  cond: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(fc.constantFrom('==', '!=', '<', '<=', '>', '>=' as const), operand, operand)
      .map(([op, left, right]): Node => ({ type: 'compare', op, left, right, pos: 0 })),
    fc
      .tuple(operand, fc.array(literal, { minLength: 1, maxLength: 3 }), fc.boolean())
      .map(([o, values, negated]): Node => ({
        type: 'in',
        operand: o,
        values: values as Extract<Node, { type: 'literal' }>[],
        negated,
        pos: 0,
      })),
    fc
      .tuple(operand, fc.boolean())
      .map(([o, negated]): Node => ({ type: 'isNull', operand: o, negated, pos: 0 })),
    tie('cond').map((o): Node => ({ type: 'not', operand: o, pos: 0 })),
    fc
      .tuple(fc.constantFrom('and' as const, 'or' as const), tie('cond'), tie('cond'))
      .map(([type, left, right]): Node => ({ type, left, right, pos: 0 })),
  ),
})).cond;

import type { ComparisonOp, LiteralNode, Node } from './ast';
import { RouteConditionError } from './errors';
import { tokenize, type Token } from './tokenize';

/*
 * Grammar (keywords are case-insensitive; column names are case-sensitive, as in Postgres):
 *
 *   condition  := or
 *   or         := and ( 'or' and )*
 *   and        := not ( 'and' not )*
 *   not        := 'not' not | predicate
 *   predicate  := operand [ cmp operand | 'is' ['not'] 'null' | ['not'] 'in' '(' literal ( ',' literal )* ')' ]
 *   operand    := primary [ '%' integer ]
 *   primary    := literal | column | 'hash' '(' column ')' | '(' condition ')'
 *   cmp        := '==' | '!=' | '<' | '<=' | '>' | '>='
 *   literal    := 'string' | ['-'] number | 'true' | 'false' | 'null'
 *   column     := name | "quoted name"
 *
 * A comparison does not chain (a < b < c is an error). Nothing here executes code: the tree is evaluated by
 * evaluate.ts, which knows only the operators above.
 */

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'null', 'true', 'false']);
const COMPARISONS: ReadonlySet<string> = new Set(['==', '!=', '<', '<=', '>', '>=']);

/** Parses one route condition; throws RouteConditionError with the character where the problem is. */
export function parseCondition(text: string): Node {
  const tokens = tokenize(text);
  let at = 0;
  const peek = (): Token => tokens[at];
  const next = (): Token => tokens[at++];
  const fail = (problem: string, pos: number): never => {
    throw new RouteConditionError(problem, pos, text);
  };
  const isKeyword = (t: Token, word: string): boolean =>
    t.type === 'identifier' && t.text.toLowerCase() === word;
  const describe = (t: Token): string => (t.type === 'end' ? 'the end of the condition' : `"${sourceOf(t)}"`);
  const sourceOf = (t: Token): string => {
    const following = tokens[tokens.indexOf(t) + 1];
    return text.slice(t.pos, following ? following.pos : text.length).trim();
  };
  const expect = (type: Token['type'], what: string): Token => {
    const t = next();
    if (t.type !== type) fail(`expected ${what} but found ${describe(t)}`, t.pos);
    return t;
  };

  const parseOr = (): Node => {
    let left = parseAnd();
    while (isKeyword(peek(), 'or')) {
      next();
      left = { type: 'or', left, right: parseAnd(), pos: left.pos };
    }
    return left;
  };
  const parseAnd = (): Node => {
    let left = parseNot();
    while (isKeyword(peek(), 'and')) {
      next();
      left = { type: 'and', left, right: parseNot(), pos: left.pos };
    }
    return left;
  };
  const parseNot = (): Node => {
    const t = peek();
    if (isKeyword(t, 'not')) {
      next();
      return { type: 'not', operand: parseNot(), pos: t.pos };
    }
    return parsePredicate();
  };
  const parsePredicate = (): Node => {
    const operand = parseOperand();
    const t = peek();
    if (t.type === 'op' && COMPARISONS.has(t.text)) {
      next();
      const right = parseOperand();
      const after = peek();
      if (after.type === 'op' && COMPARISONS.has(after.text))
        fail('comparisons do not chain: join them with and', after.pos);
      return { type: 'compare', op: t.text as ComparisonOp, left: operand, right, pos: operand.pos };
    }
    if (isKeyword(t, 'is')) {
      next();
      let negated = false;
      if (isKeyword(peek(), 'not')) {
        next();
        negated = true;
      }
      const n = next();
      if (!isKeyword(n, 'null'))
        fail(`expected null after "is${negated ? ' not' : ''}" but found ${describe(n)}`, n.pos);
      return { type: 'isNull', operand, negated, pos: operand.pos };
    }
    let negated = false;
    if (isKeyword(t, 'not') && isKeyword(tokens[at + 1], 'in')) {
      next();
      negated = true;
    }
    if (isKeyword(peek(), 'in')) {
      next();
      expect('(', '"(" opening the list of values after in');
      const values: LiteralNode[] = [parseLiteralOnly()];
      while (peek().type === ',') {
        next();
        values.push(parseLiteralOnly());
      }
      expect(')', '"," or ")" closing the list of values');
      return { type: 'in', operand, values, negated, pos: operand.pos };
    }
    return operand;
  };
  const parseOperand = (): Node => {
    const primary = parsePrimary();
    const t = peek();
    if (t.type === 'op' && t.text === '%') {
      next();
      const d = next();
      const divisor = d.type === 'number' ? Number(d.text) : NaN;
      if (!Number.isSafeInteger(divisor) || divisor < 1)
        fail(`expected a positive whole number after "%" but found ${describe(d)}`, d.pos);
      return { type: 'mod', operand: primary, divisor, pos: primary.pos };
    }
    return primary;
  };
  const parseLiteralOnly = (): LiteralNode => {
    const node = parsePrimary();
    if (node.type !== 'literal')
      fail('the values after in must be literals (strings, numbers, true, false)', node.pos);
    return node as LiteralNode;
  };
  const parsePrimary = (): Node => {
    const t = next();
    switch (t.type) {
      case 'string':
        return { type: 'literal', value: t.text, pos: t.pos };
      case 'number':
        return { type: 'literal', value: numberOf(t.text, t.pos), pos: t.pos };
      case 'quotedIdentifier':
        return { type: 'column', name: t.text, pos: t.pos };
      case '(': {
        const inner = parseOr();
        expect(')', '")"');
        return inner;
      }
      case 'op':
        if (t.text === '-' && peek().type === 'number') {
          const n = next();
          const magnitude = numberOf(n.text, n.pos);
          return { type: 'literal', value: magnitude === 0 ? 0 : -magnitude, pos: t.pos };
        }
        return fail(`expected a column, a value or "(" but found ${describe(t)}`, t.pos);
      case 'identifier': {
        const word = t.text.toLowerCase();
        if (word === 'true' || word === 'false')
          return { type: 'literal', value: word === 'true', pos: t.pos };
        if (word === 'null') return { type: 'literal', value: null, pos: t.pos };
        if (KEYWORDS.has(word))
          fail(
            `expected a column, a value or "(" but found the keyword "${t.text}" (quote a column of that name: "${t.text}")`,
            t.pos,
          );
        if (peek().type === '(') {
          if (word !== 'hash') fail(`unknown function "${t.text}": the only function is hash(column)`, t.pos);
          next();
          const arg = next();
          if (arg.type !== 'identifier' && arg.type !== 'quotedIdentifier')
            fail(`hash() takes one column name but found ${describe(arg)}`, arg.pos);
          if (arg.type === 'identifier' && KEYWORDS.has(arg.text.toLowerCase()))
            fail(`hash() takes one column name but found the keyword "${arg.text}"`, arg.pos);
          expect(')', '")" after the column hash() takes');
          return { type: 'hash', column: { type: 'column', name: arg.text, pos: arg.pos }, pos: t.pos };
        }
        return { type: 'column', name: t.text, pos: t.pos };
      }
      default:
        return fail(`expected a column, a value or "(" but found ${describe(t)}`, t.pos);
    }
  };
  const numberOf = (literal: string, pos: number): number => {
    const value = Number(literal);
    if (!Number.isFinite(value)) fail(`number ${literal} is out of range`, pos);
    return value;
  };

  if (peek().type === 'end') fail('the condition is empty', 0);
  const tree = parseOr();
  const rest = peek();
  if (rest.type !== 'end')
    fail(`unexpected ${describe(rest)}: expected and, or, or the end of the condition`, rest.pos);
  return tree;
}

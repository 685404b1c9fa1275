/**
 * `$filter` on list items: comparisons of `fields/X` with literals (`eq ne lt gt le ge`),
 * `startswith(fields/X,'v')`, combined with `and` / `or` / parentheses. Text compares
 * case-insensitively, as SharePoint does.
 */
import { badRequest } from './errors';
import type { StoredValue } from './state';

export type FilterLiteral = string | number | boolean | null;

export type FilterExpression =
  | { kind: 'compare'; field: string; op: 'eq' | 'ne' | 'lt' | 'gt' | 'le' | 'ge'; value: FilterLiteral }
  | { kind: 'startswith'; field: string; value: string }
  | { kind: 'and' | 'or'; left: FilterExpression; right: FilterExpression };

interface Token {
  type: 'field' | 'string' | 'number' | 'word' | 'lparen' | 'rparen' | 'comma';
  text: string;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= source.length) throw badRequest(`Invalid filter clause: unterminated string in '${source}'`);
        if (source[j] === "'") {
          if (source[j + 1] === "'") {
            text += "'";
            j += 2;
            continue;
          }
          break;
        }
        text += source[j++];
      }
      tokens.push({ type: 'string', text });
      i = j + 1;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ type: c === '(' ? 'lparen' : c === ')' ? 'rparen' : 'comma', text: c });
      i++;
    } else {
      const m = /^[^\s(),']+/.exec(source.slice(i))!;
      const text = m[0];
      if (/^fields\//i.test(text)) tokens.push({ type: 'field', text: text.slice('fields/'.length) });
      else if (/^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text)) tokens.push({ type: 'number', text });
      else tokens.push({ type: 'word', text });
      i += text.length;
    }
  }
  return tokens;
}

class FilterParser {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly source: string,
  ) {}

  private fail(detail: string): never {
    throw badRequest(`Invalid filter clause '${this.source}': ${detail}`);
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private next(): Token {
    const t = this.tokens[this.pos++];
    if (!t) this.fail('unexpected end');
    return t;
  }

  parse(): FilterExpression {
    const e = this.or();
    if (this.pos < this.tokens.length) this.fail(`unexpected '${this.tokens[this.pos].text}'`);
    return e;
  }

  private or(): FilterExpression {
    let left = this.and();
    while (this.peek()?.type === 'word' && this.peek()!.text.toLowerCase() === 'or') {
      this.pos++;
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): FilterExpression {
    let left = this.primary();
    while (this.peek()?.type === 'word' && this.peek()!.text.toLowerCase() === 'and') {
      this.pos++;
      left = { kind: 'and', left, right: this.primary() };
    }
    return left;
  }

  private literal(): FilterLiteral {
    const t = this.next();
    if (t.type === 'string') return t.text;
    if (t.type === 'number') return Number(t.text);
    if (t.type === 'word') {
      const lower = t.text.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      if (lower === 'null') return null;
    }
    return this.fail(`expected a literal, got '${t.text}'`);
  }

  private primary(): FilterExpression {
    const t = this.next();
    if (t.type === 'lparen') {
      const inner = this.or();
      if (this.next().type !== 'rparen') this.fail("expected ')'");
      return inner;
    }
    if (t.type === 'word' && t.text.toLowerCase() === 'startswith') {
      if (this.next().type !== 'lparen') this.fail("expected '(' after startswith");
      const field = this.next();
      if (field.type !== 'field') this.fail('startswith needs fields/<name> first');
      if (this.next().type !== 'comma') this.fail("expected ','");
      const value = this.next();
      if (value.type !== 'string') this.fail('startswith needs a quoted string');
      if (this.next().type !== 'rparen') this.fail("expected ')'");
      return { kind: 'startswith', field: field.text, value: value.text };
    }
    if (t.type !== 'field') this.fail(`expected fields/<name>, got '${t.text}'`);
    const op = this.next();
    const lower = op.text.toLowerCase();
    if (op.type !== 'word' || !['eq', 'ne', 'lt', 'gt', 'le', 'ge'].includes(lower))
      this.fail(`unsupported operator '${op.text}'`);
    return {
      kind: 'compare',
      field: t.text,
      op: lower as 'eq' | 'ne' | 'lt' | 'gt' | 'le' | 'ge',
      value: this.literal(),
    };
  }
}

export function parseFilter(source: string): FilterExpression {
  return new FilterParser(tokenize(source), source).parse();
}

/**
 * The text a filter asks a column to equal, when an equality index answers it exactly: `fields/X eq 'text'`
 * (text compares case-insensitively, below) and not a date, which compares by instant. Otherwise undefined.
 */
export function indexableEquality(expression: FilterExpression): { field: string; text: string } | undefined {
  if (expression.kind !== 'compare' || expression.op !== 'eq' || typeof expression.value !== 'string')
    return undefined;
  if (ISO_DATE.test(expression.value)) return undefined;
  return { field: expression.field, text: expression.value.toLowerCase() };
}

export function referencedFields(expression: FilterExpression): string[] {
  switch (expression.kind) {
    case 'and':
    case 'or':
      return [...referencedFields(expression.left), ...referencedFields(expression.right)];
    default:
      return [expression.field];
  }
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;

function compareScalar(
  actual: string | number | boolean,
  expected: string | number | boolean,
): number | undefined {
  if (typeof actual === 'number') {
    const n = typeof expected === 'number' ? expected : Number(expected);
    return Number.isNaN(n) ? undefined : Math.sign(actual - n);
  }
  if (typeof actual === 'boolean') {
    const b =
      typeof expected === 'boolean' ? expected : expected === 1 ? true : expected === 0 ? false : undefined;
    return b === undefined ? undefined : actual === b ? 0 : actual ? 1 : -1;
  }
  if (typeof expected === 'string' && ISO_DATE.test(actual) && ISO_DATE.test(expected)) {
    const a = Date.parse(actual);
    const e = Date.parse(expected);
    if (!Number.isNaN(a) && !Number.isNaN(e)) return Math.sign(a - e);
  }
  const a = actual.toLowerCase();
  const e = String(expected).toLowerCase();
  return a < e ? -1 : a > e ? 1 : 0;
}

function matchesCompare(actual: StoredValue | undefined, op: string, value: FilterLiteral): boolean {
  if (value === null) return op === 'eq' ? actual === undefined : op === 'ne' ? actual !== undefined : false;
  if (actual === undefined) return op === 'ne';
  if (Array.isArray(actual)) {
    const hit = (actual as (string | number)[]).some((v) => compareScalar(v, value) === 0);
    return op === 'eq' ? hit : op === 'ne' ? !hit : false;
  }
  const c = compareScalar(actual, value);
  if (c === undefined) return op === 'ne';
  switch (op) {
    case 'eq':
      return c === 0;
    case 'ne':
      return c !== 0;
    case 'lt':
      return c < 0;
    case 'gt':
      return c > 0;
    case 'le':
      return c <= 0;
    default:
      return c >= 0;
  }
}

export function evaluateFilter(
  expression: FilterExpression,
  operand: (field: string) => StoredValue | undefined,
): boolean {
  switch (expression.kind) {
    case 'and':
      return evaluateFilter(expression.left, operand) && evaluateFilter(expression.right, operand);
    case 'or':
      return evaluateFilter(expression.left, operand) || evaluateFilter(expression.right, operand);
    case 'startswith': {
      const actual = operand(expression.field);
      return typeof actual === 'string' && actual.toLowerCase().startsWith(expression.value.toLowerCase());
    }
    case 'compare':
      return matchesCompare(operand(expression.field), expression.op, expression.value);
  }
}

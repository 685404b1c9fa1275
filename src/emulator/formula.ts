/**
 * Calculated-column formulas: the subset of SharePoint's Excel-like language the emulator evaluates.
 * Supported: numbers, "strings", TRUE/FALSE, [Column] references (display or internal name),
 * + - * / ^ &, comparisons (= <> < > <= >=), parentheses and the functions in FUNCTIONS below.
 * Anything else is rejected when the column is created, never silently evaluated wrongly.
 */

export type FormulaValue = number | string | boolean | { dateMs: number } | null;

type Node =
  | { kind: 'literal'; value: FormulaValue }
  | { kind: 'ref'; name: string }
  | { kind: 'unary'; op: '-'; operand: Node }
  | { kind: 'binary'; op: string; left: Node; right: Node }
  | { kind: 'call'; name: string; args: Node[] };

export class FormulaError extends Error {
  constructor(
    message: string,
    readonly formula: string,
  ) {
    super(message);
    this.name = 'FormulaError';
  }
}

interface Token {
  type: 'num' | 'str' | 'ref' | 'ident' | 'op' | 'lparen' | 'rparen' | 'comma';
  text: string;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
    } else if (/[0-9.]/.test(c)) {
      const m = /^\d*\.?\d+(?:[eE][+-]?\d+)?/.exec(source.slice(i));
      if (!m) throw new FormulaError(`Unexpected '${c}' at ${i}`, source);
      tokens.push({ type: 'num', text: m[0] });
      i += m[0].length;
    } else if (c === '"') {
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= source.length) throw new FormulaError('Unterminated string', source);
        if (source[j] === '"') {
          if (source[j + 1] === '"') {
            text += '"';
            j += 2;
            continue;
          }
          break;
        }
        text += source[j++];
      }
      tokens.push({ type: 'str', text });
      i = j + 1;
    } else if (c === '[') {
      const end = source.indexOf(']', i);
      if (end < 0) throw new FormulaError('Unterminated [column] reference', source);
      tokens.push({ type: 'ref', text: source.slice(i + 1, end) });
      i = end + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i));
      tokens.push({ type: 'ident', text: m![0] });
      i += m![0].length;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ type: c === '(' ? 'lparen' : c === ')' ? 'rparen' : 'comma', text: c });
      i++;
    } else {
      const two = source.slice(i, i + 2);
      if (two === '<>' || two === '<=' || two === '>=') {
        tokens.push({ type: 'op', text: two });
        i += 2;
      } else if ('+-*/^&=<>'.includes(c)) {
        tokens.push({ type: 'op', text: c });
        i++;
      } else {
        throw new FormulaError(`Unexpected '${c}' at ${i}`, source);
      }
    }
  }
  return tokens;
}

const FUNCTIONS: Record<string, { min: number; max: number }> = {
  IF: { min: 2, max: 3 },
  AND: { min: 1, max: 30 },
  OR: { min: 1, max: 30 },
  NOT: { min: 1, max: 1 },
  CONCATENATE: { min: 1, max: 30 },
  UPPER: { min: 1, max: 1 },
  LOWER: { min: 1, max: 1 },
  TRIM: { min: 1, max: 1 },
  LEN: { min: 1, max: 1 },
  LEFT: { min: 1, max: 2 },
  RIGHT: { min: 1, max: 2 },
  ROUND: { min: 2, max: 2 },
  ABS: { min: 1, max: 1 },
  ISBLANK: { min: 1, max: 1 },
};

const PRECEDENCE: Record<string, number> = {
  '=': 1,
  '<>': 1,
  '<': 1,
  '>': 1,
  '<=': 1,
  '>=': 1,
  '&': 2,
  '+': 3,
  '-': 3,
  '*': 4,
  '/': 4,
  '^': 5,
};

class Parser {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly source: string,
  ) {}

  parse(): Node {
    const node = this.expression(0);
    if (this.pos < this.tokens.length) throw this.error(`Unexpected '${this.tokens[this.pos].text}'`);
    return node;
  }

  private error(message: string): FormulaError {
    return new FormulaError(message, this.source);
  }

  private expression(minPrecedence: number): Node {
    let left = this.unary();
    for (;;) {
      const t = this.tokens[this.pos];
      if (!t || t.type !== 'op') return left;
      const p = PRECEDENCE[t.text];
      if (p === undefined || p < minPrecedence) return left;
      this.pos++;
      const right = this.expression(t.text === '^' ? p : p + 1);
      left = { kind: 'binary', op: t.text, left, right };
    }
  }

  private unary(): Node {
    const t = this.tokens[this.pos];
    if (t && t.type === 'op' && t.text === '-') {
      this.pos++;
      return { kind: 'unary', op: '-', operand: this.unary() };
    }
    return this.primary();
  }

  private primary(): Node {
    const t = this.tokens[this.pos++];
    if (!t) throw this.error('Unexpected end of formula');
    switch (t.type) {
      case 'num':
        return { kind: 'literal', value: Number(t.text) };
      case 'str':
        return { kind: 'literal', value: t.text };
      case 'ref':
        return { kind: 'ref', name: t.text };
      case 'lparen': {
        const inner = this.expression(0);
        this.expect('rparen');
        return inner;
      }
      case 'ident': {
        const upper = t.text.toUpperCase();
        if (upper === 'TRUE' || upper === 'FALSE') return { kind: 'literal', value: upper === 'TRUE' };
        const next = this.tokens[this.pos];
        if (!next || next.type !== 'lparen') return { kind: 'ref', name: t.text };
        const spec = FUNCTIONS[upper];
        if (!spec) throw this.error(`Function ${t.text} is not supported by the emulator`);
        this.pos++;
        const args: Node[] = [];
        if (this.tokens[this.pos]?.type !== 'rparen') {
          for (;;) {
            args.push(this.expression(0));
            if (this.tokens[this.pos]?.type === 'comma') {
              this.pos++;
              continue;
            }
            break;
          }
        }
        this.expect('rparen');
        if (args.length < spec.min || args.length > spec.max)
          throw this.error(`${upper} takes ${spec.min}–${spec.max} arguments, got ${args.length}`);
        return { kind: 'call', name: upper, args };
      }
      default:
        throw this.error(`Unexpected '${t.text}'`);
    }
  }

  private expect(type: Token['type']): void {
    const t = this.tokens[this.pos++];
    if (!t || t.type !== type) throw this.error(`Expected ${type === 'rparen' ? "')'" : type}`);
  }
}

export interface CompiledFormula {
  source: string;
  references: string[];
  evaluate(resolve: (reference: string) => FormulaValue): FormulaValue;
}

function collectReferences(node: Node, into: Set<string>): void {
  switch (node.kind) {
    case 'ref':
      into.add(node.name);
      break;
    case 'unary':
      collectReferences(node.operand, into);
      break;
    case 'binary':
      collectReferences(node.left, into);
      collectReferences(node.right, into);
      break;
    case 'call':
      node.args.forEach((a) => collectReferences(a, into));
      break;
    default:
      break;
  }
}

class EvaluationError extends Error {}

const DAY_MS = 86_400_000;

function toNumber(v: FormulaValue): number {
  if (v === null) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'object') return v.dateMs / DAY_MS;
  const n = Number(v);
  if (v.trim() === '' || Number.isNaN(n)) throw new EvaluationError('#VALUE!');
  return n;
}

function toText(v: FormulaValue): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v === 'object') return new Date(v.dateMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return String(v);
}

function toBoolean(v: FormulaValue): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    if (v.toUpperCase() === 'TRUE') return true;
    if (v.toUpperCase() === 'FALSE') return false;
    throw new EvaluationError('#VALUE!');
  }
  return toNumber(v) !== 0;
}

function compare(a: FormulaValue, b: FormulaValue): number {
  if (typeof a === 'string' || typeof b === 'string') {
    const x = toText(a).toLowerCase();
    const y = toText(b).toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return Math.sign(toNumber(a) - toNumber(b));
}

function evaluateNode(node: Node, resolve: (reference: string) => FormulaValue): FormulaValue {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'ref':
      return resolve(node.name);
    case 'unary':
      return -toNumber(evaluateNode(node.operand, resolve));
    case 'binary': {
      const l = evaluateNode(node.left, resolve);
      const r = evaluateNode(node.right, resolve);
      switch (node.op) {
        case '&':
          return toText(l) + toText(r);
        case '+':
        case '-': {
          const sum = node.op === '+' ? toNumber(l) + toNumber(r) : toNumber(l) - toNumber(r);
          const leftIsDate = l !== null && typeof l === 'object';
          const rightIsDate = r !== null && typeof r === 'object';
          // A date plus or minus days is a date; a date minus a date is a number of days.
          if (leftIsDate !== rightIsDate) return { dateMs: Math.round(sum * DAY_MS) };
          return sum;
        }
        case '*':
          return toNumber(l) * toNumber(r);
        case '/': {
          const d = toNumber(r);
          if (d === 0) throw new EvaluationError('#DIV/0!');
          return toNumber(l) / d;
        }
        case '^':
          return toNumber(l) ** toNumber(r);
        case '=':
          return compare(l, r) === 0;
        case '<>':
          return compare(l, r) !== 0;
        case '<':
          return compare(l, r) < 0;
        case '>':
          return compare(l, r) > 0;
        case '<=':
          return compare(l, r) <= 0;
        case '>=':
          return compare(l, r) >= 0;
        default:
          throw new EvaluationError(`operator ${node.op}`);
      }
    }
    case 'call': {
      const arg = (i: number): FormulaValue => evaluateNode(node.args[i], resolve);
      switch (node.name) {
        case 'IF':
          return toBoolean(arg(0)) ? arg(1) : node.args.length > 2 ? arg(2) : false;
        case 'AND':
          return node.args.every((_, i) => toBoolean(arg(i)));
        case 'OR':
          return node.args.some((_, i) => toBoolean(arg(i)));
        case 'NOT':
          return !toBoolean(arg(0));
        case 'CONCATENATE':
          return node.args.map((_, i) => toText(arg(i))).join('');
        case 'UPPER':
          return toText(arg(0)).toUpperCase();
        case 'LOWER':
          return toText(arg(0)).toLowerCase();
        case 'TRIM':
          return toText(arg(0)).trim().replace(/\s+/g, ' ');
        case 'LEN':
          return toText(arg(0)).length;
        case 'LEFT':
          return toText(arg(0)).slice(0, node.args.length > 1 ? toNumber(arg(1)) : 1);
        case 'RIGHT': {
          const n = node.args.length > 1 ? toNumber(arg(1)) : 1;
          const s = toText(arg(0));
          return n <= 0 ? '' : s.slice(-n);
        }
        case 'ROUND': {
          const factor = 10 ** toNumber(arg(1));
          return Math.round(toNumber(arg(0)) * factor) / factor;
        }
        case 'ABS':
          return Math.abs(toNumber(arg(0)));
        case 'ISBLANK': {
          const v = arg(0);
          return v === null || v === '';
        }
        default:
          throw new EvaluationError(node.name);
      }
    }
  }
}

/** Parses a formula (with or without the leading '='); throws FormulaError when it is not supported. */
export function compileFormula(formula: string): CompiledFormula {
  const body = formula.trim().replace(/^=/, '');
  if (!body) throw new FormulaError('Empty formula', formula);
  const ast = new Parser(tokenize(body), formula).parse();
  const references = new Set<string>();
  collectReferences(ast, references);
  return {
    source: formula,
    references: [...references],
    evaluate(resolve) {
      try {
        return evaluateNode(ast, resolve);
      } catch (error) {
        if (error instanceof EvaluationError) return null;
        throw error;
      }
    },
  };
}

export type FormulaOutputType = 'boolean' | 'currency' | 'dateTime' | 'number' | 'text';

/** Converts a formula result to the column's output type; null when it cannot (SharePoint shows an error). */
export function coerceFormulaResult(value: FormulaValue, outputType: FormulaOutputType): FormulaValue {
  if (value === null) return null;
  try {
    switch (outputType) {
      case 'text':
        return toText(value);
      case 'number':
      case 'currency': {
        const n = toNumber(value);
        return Number.isFinite(n) ? n : null;
      }
      case 'boolean':
        return toBoolean(value);
      case 'dateTime':
        if (typeof value === 'object') return value;
        return { dateMs: Math.round(toNumber(value) * DAY_MS) };
    }
  } catch (error) {
    if (error instanceof EvaluationError) return null;
    throw error;
  }
}

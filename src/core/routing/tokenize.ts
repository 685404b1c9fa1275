import { RouteConditionError } from './errors';

export type TokenType =
  'string' | 'number' | 'identifier' | 'quotedIdentifier' | 'op' | '(' | ')' | ',' | 'end';

export interface Token {
  type: TokenType;
  /** The token's text: a string literal unescaped, a quoted identifier unquoted, a keyword as written. */
  text: string;
  pos: number;
}

const OPERATORS = ['==', '!=', '<=', '>=', '<', '>', '%', '-'];

const IDENTIFIER_START = /[\p{L}_]/u;
const IDENTIFIER_PART = /[\p{L}\p{N}_$]/u;
const NUMBER = /^(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?/;

/** Splits a condition into tokens. Hand-written so that every error names the character where it starts. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (problem: string, pos: number): never => {
    throw new RouteConditionError(problem, pos, text);
  };
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      // SQL quoting: a quote inside is written twice ('it''s', "odd""name").
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length)
          fail(`unterminated ${c === "'" ? 'string' : 'quoted column name'} (no closing ${c})`, start);
        if (text[i] === c) {
          if (text[i + 1] === c) {
            value += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i++];
      }
      if (c === '"' && value === '') fail('empty quoted column name', start);
      tokens.push({ type: c === "'" ? 'string' : 'quotedIdentifier', text: value, pos: start });
      continue;
    }
    const number = NUMBER.exec(text.slice(i));
    if (number && (/\d/.test(c) || c === '.')) {
      i += number[0].length;
      if (i < text.length && IDENTIFIER_PART.test(text[i])) {
        while (i < text.length && IDENTIFIER_PART.test(text[i])) i++;
        fail(
          `"${text.slice(start, i)}" is neither a number nor a column name (quote a column of that name)`,
          start,
        );
      }
      tokens.push({ type: 'number', text: number[0], pos: start });
      continue;
    }
    if (IDENTIFIER_START.test(c)) {
      while (i < text.length && IDENTIFIER_PART.test(text[i])) i++;
      tokens.push({ type: 'identifier', text: text.slice(start, i), pos: start });
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      tokens.push({ type: c, text: c, pos: start });
      i++;
      continue;
    }
    if (text.startsWith('<>', i)) fail('"<>" is not an operator: write != for inequality', start);
    if (text.startsWith('&&', i)) fail('"&&" is not an operator: write and', start);
    if (text.startsWith('||', i)) fail('"||" is not an operator: write or', start);
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (op) {
      tokens.push({ type: 'op', text: op, pos: start });
      i += op.length;
      continue;
    }
    if (c === '=') fail('"=" is not an operator: write == for equality', start);
    if (c === '!') fail('"!" is not an operator: write not, or != for inequality', start);
    fail(`unexpected character "${c}"`, start);
  }
  tokens.push({ type: 'end', text: '', pos: text.length });
  return tokens;
}

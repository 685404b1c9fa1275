import { normalizeDecimalText } from './numbers';

/*
 * JSON text parsed with its numbers kept exact. JSON.parse reads every number as a double, so 12345678901234567891
 * became 12345678901234567000 and 0.12345678901234567891 became 0.12345678901234568: a json/jsonb value was written
 * to SharePoint with other digits than Postgres held, and a pull of any edit of the document wrote them back over
 * the row. Postgres keeps json numbers exactly (jsonb as numeric), and a SharePoint note holds text, so nothing on
 * either side rounds them: the canonical form must not either (I2).
 */

/** A json number a double cannot hold, as plain decimal text ('12345678901234567891'); stableStringify writes it. */
export class JsonNumberText {
  constructor(readonly text: string) {}
}

/**
 * Texts that may hold a number a double rounds: 16 or more digits in a row (a point may sit between them), or an
 * exponent. Anything else parses exactly with JSON.parse, which is the common case and stays on its fast path.
 */
const MAYBE_INEXACT = /\d(?:\.?\d){15}|\d[eE]/;

/** JSON.parse, except that numbers a double cannot hold exactly are JsonNumberText. Throws SyntaxError as it does. */
export function parseJsonExactNumbers(text: string): unknown {
  if (!MAYBE_INEXACT.test(text)) return JSON.parse(text);
  const value: unknown = JSON.parse(text);
  if (!hasInexactNumber(text)) return value;
  try {
    return new ExactParser(text).document();
  } catch (error) {
    // Nested deeper than the reader goes: JSON.parse's reading, which canonical json refuses for its depth.
    if (error instanceof TooDeep) return value;
    throw error;
  }
}

class TooDeep extends Error {}

/**
 * Whether a number token's double reads back as another decimal. A token of at most 15 significant digits and no
 * exponent always reads back as itself (a double holds 15 decimal digits); others are compared as exact decimals.
 */
function isInexact(token: string): boolean {
  let digits = 0;
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    if (code === 101 || code === 69) return exactText(token) !== exactOfDouble(token);
    if (code >= 48 && code <= 57) digits++;
  }
  return digits > 15 && exactText(token) !== exactOfDouble(token);
}

function exactText(token: string): string | undefined {
  return normalizeDecimalText(token);
}

function exactOfDouble(token: string): string | undefined {
  const double = Number(token);
  return Number.isFinite(double) ? normalizeDecimalText(String(double)) : undefined;
}

const NUMBER_TOKEN = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Whether valid JSON `text` holds a number token (outside strings) that JSON.parse rounds. */
function hasInexactNumber(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 34 /* " */) i = endOfString(text, i);
    else if (code === 45 /* - */ || (code >= 48 && code <= 57)) {
      NUMBER_TOKEN.lastIndex = i;
      const match = NUMBER_TOKEN.exec(text);
      if (match === null) return false;
      if (isInexact(match[0])) return true;
      i += match[0].length - 1;
    }
  }
  return false;
}

/** The index of the quote closing the string that opens at `start`. */
function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === 92 /* \ */) i += 2;
    else if (code === 34) return i;
    else i++;
  }
  return i;
}

/** Deeper nesting is refused by the reader (canonical json refuses more than MAX_JSON_DEPTH levels anyway). */
const MAX_PARSE_DEPTH = 1024;

/**
 * A strict JSON reader for the rare text holding inexact numbers (already checked valid by JSON.parse): strings
 * are decoded by JSON.parse, numbers kept as JsonNumberText where a double cannot hold them. Recursive, bounded
 * by MAX_PARSE_DEPTH.
 */
class ExactParser {
  private at = 0;

  constructor(private readonly text: string) {}

  document(): unknown {
    const value = this.value(0);
    this.skipSpace();
    if (this.at !== this.text.length) this.fail();
    return value;
  }

  private value(depth: number): unknown {
    if (depth > MAX_PARSE_DEPTH) throw new TooDeep();
    this.skipSpace();
    const code = this.text.charCodeAt(this.at);
    if (code === 123 /* { */) return this.object(depth);
    if (code === 91 /* [ */) return this.array(depth);
    if (code === 34) return this.string();
    if (code === 45 || (code >= 48 && code <= 57)) return this.number();
    for (const [word, literal] of LITERALS) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return literal;
      }
    }
    return this.fail();
  }

  private object(depth: number): Record<string, unknown> {
    const record: Record<string, unknown> = {};
    this.at++;
    this.skipSpace();
    if (this.text.charCodeAt(this.at) === 125 /* } */) {
      this.at++;
      return record;
    }
    for (;;) {
      this.skipSpace();
      if (this.text.charCodeAt(this.at) !== 34) this.fail();
      const key = this.string();
      this.skipSpace();
      if (this.text.charCodeAt(this.at) !== 58 /* : */) this.fail();
      this.at++;
      // Defined, not assigned: a "__proto__" member is a member, as JSON.parse makes it.
      Object.defineProperty(record, key, {
        value: this.value(depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.skipSpace();
      const next = this.text.charCodeAt(this.at++);
      if (next === 125) return record;
      if (next !== 44 /* , */) this.fail();
    }
  }

  private array(depth: number): unknown[] {
    const items: unknown[] = [];
    this.at++;
    this.skipSpace();
    if (this.text.charCodeAt(this.at) === 93 /* ] */) {
      this.at++;
      return items;
    }
    for (;;) {
      items.push(this.value(depth + 1));
      this.skipSpace();
      const next = this.text.charCodeAt(this.at++);
      if (next === 93) return items;
      if (next !== 44) this.fail();
    }
  }

  private string(): string {
    const end = endOfString(this.text, this.at);
    const decoded = JSON.parse(this.text.slice(this.at, end + 1)) as string;
    this.at = end + 1;
    return decoded;
  }

  private number(): number | JsonNumberText {
    NUMBER_TOKEN.lastIndex = this.at;
    const match = NUMBER_TOKEN.exec(this.text);
    if (match === null) return this.fail();
    const token = match[0];
    this.at += token.length;
    const exact = isInexact(token) ? exactText(token) : undefined;
    // An exponent beyond ±10,000 has no plain decimal kept here: read as a double, as JSON.parse reads it.
    return exact === undefined ? Number(token) : new JsonNumberText(exact);
  }

  private skipSpace(): void {
    for (;;) {
      const code = this.text.charCodeAt(this.at);
      if (code !== 32 && code !== 9 && code !== 10 && code !== 13) return;
      this.at++;
    }
  }

  private fail(): never {
    throw new SyntaxError(`Unexpected token in JSON at position ${this.at}`);
  }
}

const LITERALS: readonly [string, unknown][] = [
  ['true', true],
  ['false', false],
  ['null', null],
];

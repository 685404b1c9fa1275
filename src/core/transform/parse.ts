/**
 * The pipeline grammar of `fields[].transform` and `fields[].pullTransform` (docs/cli.md, "Transform pipelines"):
 *
 *   pipeline := step ( "|" step )*
 *   step     := NAME [ "(" args ")" ]            NAME: letters, digits and "_", case-insensitive
 *   args     := arg ( "," arg )*                 arg: 'quoted' | "quoted" | bare text | key "=>" value (MAP)
 *   REGEX    := "REGEX(" "s" DELIM pattern DELIM replacement DELIM flags ")"   (DELIM: usually "/")
 *
 * A small hand-written scanner: no eval, no regular expression over the whole text, positions kept for errors.
 */

export interface ParsedArg {
  /** The argument's text, quotes removed and escapes resolved. */
  text: string;
  /** Written in quotes: kept verbatim (spaces included), never read as a column name or keyword. */
  quoted: boolean;
  /** MAP entries: `key => value`. */
  value?: { text: string; quoted: boolean };
}

export interface ParsedStep {
  /** Upper-case name as written (aliases not yet resolved). */
  name: string;
  args: ParsedArg[];
  /** REGEX only: the s/pattern/replacement/flags literal. */
  regex?: { pattern: string; replacement: string; flags: string };
  /** 1-based position of the step in the pipeline. */
  position: number;
  /** 0-based character offset of the step's name in the pipeline text. */
  offset: number;
}

/** A pipeline that cannot be read; `step`/`position` are set when the fault lies inside a step. */
export class PipelineSyntaxError extends Error {
  constructor(
    readonly detail: string,
    readonly offset: number,
    readonly step?: string,
    readonly position?: number,
  ) {
    super(detail);
    this.name = 'PipelineSyntaxError';
  }
}

class Scanner {
  i = 0;
  constructor(readonly text: string) {}

  skipSpace(): void {
    while (this.i < this.text.length && /\s/.test(this.text[this.i])) this.i++;
  }
  peek(): string | undefined {
    return this.text[this.i];
  }
  atEnd(): boolean {
    return this.i >= this.text.length;
  }
}

function readName(s: Scanner): string {
  const start = s.i;
  while (!s.atEnd() && /[A-Za-z0-9_]/.test(s.text[s.i])) s.i++;
  return s.text.slice(start, s.i);
}

function readQuoted(s: Scanner, fail: (msg: string) => never): string {
  const quote = s.text[s.i];
  s.i++;
  let out = '';
  while (!s.atEnd()) {
    const c = s.text[s.i];
    if (c === '\\' && s.i + 1 < s.text.length) {
      out += s.text[s.i + 1];
      s.i += 2;
      continue;
    }
    if (c === quote) {
      s.i++;
      return out;
    }
    out += c;
    s.i++;
  }
  return fail(`a string opened with ${quote} is not closed`);
}

/** Bare text up to a top-level "," ")" or "=>" (trimmed). */
function readBare(s: Scanner): string {
  const start = s.i;
  while (!s.atEnd()) {
    const c = s.text[s.i];
    if (c === ',' || c === ')' || (c === '=' && s.text[s.i + 1] === '>')) break;
    if (c === '(' || c === '|' || c === "'" || c === '"') break;
    s.i++;
  }
  return s.text.slice(start, s.i).trim();
}

function readAtom(s: Scanner, fail: (msg: string) => never): { text: string; quoted: boolean } {
  s.skipSpace();
  const c = s.peek();
  if (c === "'" || c === '"') {
    const text = readQuoted(s, fail);
    s.skipSpace();
    return { text, quoted: true };
  }
  const text = readBare(s);
  const next = s.peek();
  if (next === '(' || next === '|' || next === "'" || next === '"')
    fail(`unexpected "${next}" in an argument: quote arguments that contain ( | ' or "`);
  return { text, quoted: false };
}

function readArgs(s: Scanner, fail: (msg: string) => never): ParsedArg[] {
  const args: ParsedArg[] = [];
  s.skipSpace();
  if (s.peek() === ')') {
    s.i++;
    return args;
  }
  for (;;) {
    const key = readAtom(s, fail);
    let arg: ParsedArg = key;
    if (s.peek() === '=' && s.text[s.i + 1] === '>') {
      s.i += 2;
      arg = { ...key, value: readAtom(s, fail) };
    }
    args.push(arg);
    s.skipSpace();
    const c = s.peek();
    if (c === ',') {
      s.i++;
      continue;
    }
    if (c === ')') {
      s.i++;
      return args;
    }
    return fail(c === undefined ? 'missing ")"' : `expected "," or ")" but found "${c}"`);
  }
}

/** `s/pattern/replacement/flags`: the delimiter is the character after "s"; a backslash escapes it. */
function readRegex(
  s: Scanner,
  fail: (msg: string) => never,
): { pattern: string; replacement: string; flags: string } {
  s.skipSpace();
  if (s.peek() !== 's') fail('expects s/pattern/replacement/flags, e.g. REGEX(s/Project/Initiative/g)');
  s.i++;
  const delim = s.peek();
  if (delim === undefined || /[\s\w\\]/.test(delim))
    fail('expects a delimiter after "s", e.g. REGEX(s/Project/Initiative/g)');
  s.i++;
  const part = (what: string): string => {
    let out = '';
    while (!s.atEnd()) {
      const c = s.text[s.i];
      if (c === '\\' && s.text[s.i + 1] === delim) {
        out += delim;
        s.i += 2;
        continue;
      }
      if (c === '\\' && s.i + 1 < s.text.length) {
        out += c + s.text[s.i + 1];
        s.i += 2;
        continue;
      }
      if (c === delim) {
        s.i++;
        return out;
      }
      out += c;
      s.i++;
    }
    return fail(`the ${what} is not closed with "${delim}"`);
  };
  const pattern = part('pattern');
  const replacement = part('replacement');
  const flags = readName(s);
  s.skipSpace();
  if (s.peek() !== ')') fail(`expected ")" after the flags of s${delim}…${delim}…${delim}`);
  s.i++;
  return { pattern, replacement, flags };
}

/** Reads one pipeline text into its steps; throws PipelineSyntaxError naming the step and the character. */
export function parsePipelineText(text: string, firstPosition = 1): ParsedStep[] {
  const s = new Scanner(text);
  const steps: ParsedStep[] = [];
  s.skipSpace();
  if (s.atEnd()) throw new PipelineSyntaxError('is empty: name at least one step, e.g. "TRIM"', 0);
  for (let position = firstPosition; ; position++) {
    s.skipSpace();
    const offset = s.i;
    const written = readName(s);
    if (written === '') {
      const c = s.peek();
      throw new PipelineSyntaxError(
        c === undefined
          ? `step ${position} is missing after "|"`
          : `step ${position}: expected a step name but found "${c}"`,
        offset,
        undefined,
        position,
      );
    }
    const name = written.toUpperCase();
    const fail = (msg: string): never => {
      throw new PipelineSyntaxError(`${msg} (at character ${s.i + 1})`, s.i, name, position);
    };
    const step: ParsedStep = { name, args: [], position, offset };
    s.skipSpace();
    if (s.peek() === '(') {
      s.i++;
      if (name === 'REGEX') step.regex = readRegex(s, fail);
      else step.args = readArgs(s, fail);
    }
    steps.push(step);
    s.skipSpace();
    if (s.atEnd()) return steps;
    if (s.peek() !== '|') fail(`expected "|" between steps but found "${s.peek()}"`);
    s.i++;
  }
}

/**
 * The steps a transform pipeline is made of: what each accepts and returns, how it runs, and whether it can be
 * undone (docs/cli.md, "Transform pipelines"). Values are canonical (I2): text is a string (empty text is null),
 * numbers are doubles, instants are ISO text in UTC with `Z`, dates are `YYYY-MM-DD`.
 */
import type { ParsedArg, ParsedStep } from './parse';
import { compileSafeRegex, MAX_REGEX_INPUT } from './safeRegex';

/** The type of a value flowing through a pipeline; `other` is any type no step but the null steps accepts. */
export type PipelineType = 'text' | 'number' | 'dateTime' | 'date' | 'other';

export type PipelineValue = string | number | boolean | null | string[] | number[];

/**
 * How a step relates its output to its input, which decides whether the pull side can be derived:
 * - `projection`: applying it to its own output changes nothing (UPPER, TRIM, ROUND…): SharePoint's value is
 *   written to Postgres as it is, and pushing it back gives the same value.
 * - `bijection`: undone exactly by its inverse (PREFIX, SCALE, a MAP with distinct values, TZ).
 * - `lossy`: neither (REGEX, DATE, CONCAT): a field with such a push pipeline is push-only.
 */
export type StepClass = 'projection' | 'bijection' | 'lossy';

/** Other columns of the row, for CONCAT. */
export type RowValues = Record<string, unknown>;

/**
 * A value the step refuses (a value too long for REGEX, SharePoint text without the PREFIX to strip…). `field`: the
 * SharePoint field whose pipeline it is, once the engine named it (engine/transform.ts), with the message saying so.
 */
export class StepValueError extends Error {
  constructor(
    readonly step: string,
    readonly position: number,
    readonly detail: string,
    readonly field?: string,
    message?: string,
  ) {
    super(message ?? `step ${position} ${step}: ${detail}`);
    this.name = 'StepValueError';
  }
}

/** A step written wrongly: unknown name, wrong arguments, an unsafe regex. */
export class StepDefinitionError extends Error {
  constructor(
    readonly step: string,
    readonly position: number,
    readonly detail: string,
  ) {
    super(`step ${position} ${step}: ${detail}`);
    this.name = 'StepDefinitionError';
  }
}

export interface Step {
  /** Canonical name (aliases resolved). */
  name: string;
  position: number;
  offset: number;
  stepClass: StepClass;
  /** Types it accepts; 'any' for the null steps. */
  accepts: PipelineType[] | 'any';
  output(input: PipelineType): PipelineType;
  apply(value: PipelineValue, row: RowValues): PipelineValue;
  /** Bijections only. */
  invert?(value: PipelineValue): PipelineValue;
  /** Columns read besides the field's own (CONCAT). */
  columns: string[];
  /** NULL_TO: its replacement must parse as the type it meets. */
  literal?: string;
  /** NULL_TO: the type of the values it meets, set by typeCheck. */
  meets?: PipelineType;
  /**
   * PREFIX, SUFFIX, MAP: the texts its inverse recognises its output by (the affix, the mapped values); a projection
   * after it must leave them as they are, or its output can no longer be undone (pipeline.ts classOf).
   */
  markers?: string[];
}

const ALIASES: Record<string, string> = {
  UPPERCASE: 'UPPER',
  LOWERCASE: 'LOWER',
  EMPTYTONULL: 'EMPTY_TO_NULL',
  NULLTO: 'NULL_TO',
  COLLAPSE_WHITESPACE: 'COLLAPSE',
};

export const STEP_NAMES = [
  'UPPER',
  'LOWER',
  'TRIM',
  'COLLAPSE',
  'REGEX',
  'PREFIX',
  'SUFFIX',
  'TRUNCATE',
  'PAD',
  'ROUND',
  'SCALE',
  'TZ',
  'DATE',
  'EMPTY_TO_NULL',
  'NULL_TO',
  'MAP',
  'CONCAT',
] as const;

const same = (t: PipelineType): PipelineType => t;

function text(
  p: ParsedStep,
  name: string,
  stepClass: StepClass,
  fn: (s: string) => string | null,
  invert?: (s: string) => string | null,
): Step {
  const onText =
    (f: (s: string) => string | null) =>
    (v: PipelineValue): PipelineValue =>
      typeof v === 'string' ? f(v) : v;
  return {
    name,
    position: p.position,
    offset: p.offset,
    stepClass,
    accepts: ['text'],
    output: same,
    apply: onText(fn),
    invert: invert ? onText(invert) : undefined,
    columns: [],
  };
}

function arity(p: ParsedStep, name: string, min: number, max: number, usage: string): ParsedArg[] {
  if (p.args.length < min || p.args.length > max)
    throw new StepDefinitionError(
      name,
      p.position,
      `takes ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'}, got ${p.args.length}: ${usage}`,
    );
  for (const a of p.args)
    if (a.value && name !== 'MAP')
      throw new StepDefinitionError(name, p.position, `"=>" belongs in MAP only: ${usage}`);
  return p.args;
}

function integerArg(p: ParsedStep, name: string, arg: ParsedArg, min: number, max: number): number {
  const n = Number(arg.text);
  if (!/^-?\d+$/.test(arg.text) || n < min || n > max)
    throw new StepDefinitionError(
      name,
      p.position,
      `"${arg.text}" must be a whole number from ${min} to ${max}`,
    );
  return n;
}

const codePoints = (s: string) => Array.from(s);
const emptyIsNull = (s: string): string | null => (s === '' ? null : s);

function regexStep(p: ParsedStep): Step {
  const usage = 'REGEX(s/pattern/replacement/flags), e.g. REGEX(s/Project/Initiative/g)';
  if (!p.regex) throw new StepDefinitionError('REGEX', p.position, `expects ${usage}`);
  const compiled = compileSafeRegex(p.regex.pattern, p.regex.flags);
  if (typeof compiled === 'string') throw new StepDefinitionError('REGEX', p.position, compiled);
  const { replacement } = p.regex;
  return text(p, 'REGEX', 'lossy', (s) => {
    if (s.length > MAX_REGEX_INPUT)
      throw new StepValueError(
        'REGEX',
        p.position,
        `a value of ${s.length} characters is longer than the ${MAX_REGEX_INPUT} a regex step reads`,
      );
    compiled.lastIndex = 0;
    return emptyIsNull(s.replace(compiled, replacement));
  });
}

function affixStep(p: ParsedStep, name: 'PREFIX' | 'SUFFIX'): Step {
  const [arg] = arity(p, name, 1, 1, `${name}(text), e.g. ${name}('PRJ-')`);
  const affix = arg.text;
  if (affix === '') throw new StepDefinitionError(name, p.position, 'needs a non-empty text');
  const has = (s: string) => (name === 'PREFIX' ? s.startsWith(affix) : s.endsWith(affix));
  return {
    ...text(
      p,
      name,
      'bijection',
      (s) => (name === 'PREFIX' ? affix + s : s + affix),
      (s) => {
        if (!has(s))
          throw new StepValueError(name, p.position, `${JSON.stringify(s)} does not carry "${affix}"`);
        return emptyIsNull(name === 'PREFIX' ? s.slice(affix.length) : s.slice(0, s.length - affix.length));
      },
    ),
    markers: [affix],
  };
}

function padStep(p: ParsedStep): Step {
  const usage = "PAD(length[, char[, left|right]]), e.g. PAD(6, '0', left)";
  const args = arity(p, 'PAD', 1, 3, usage);
  const length = integerArg(p, 'PAD', args[0], 1, 255);
  const fill = args[1]?.text ?? ' ';
  if (codePoints(fill).length !== 1)
    throw new StepDefinitionError('PAD', p.position, `the pad character must be one character: ${usage}`);
  const side = (args[2]?.text ?? 'right').toLowerCase();
  if (side !== 'left' && side !== 'right')
    throw new StepDefinitionError('PAD', p.position, `the side must be left or right, got "${side}"`);
  return text(p, 'PAD', 'projection', (s) => {
    const missing = length - codePoints(s).length;
    if (missing <= 0) return s;
    return side === 'left' ? fill.repeat(missing) + s : s + fill.repeat(missing);
  });
}

function mapStep(p: ParsedStep): Step {
  const usage = 'MAP(A=>Alpha, B=>Beta)';
  if (p.args.length === 0) throw new StepDefinitionError('MAP', p.position, `needs entries: ${usage}`);
  const forward = new Map<string, string>();
  for (const a of p.args) {
    if (!a.value)
      throw new StepDefinitionError('MAP', p.position, `"${a.text}" is not "key=>value": ${usage}`);
    if (forward.has(a.text)) throw new StepDefinitionError('MAP', p.position, `maps "${a.text}" twice`);
    forward.set(a.text, a.value.text);
  }
  const backward = new Map<string, string>();
  let distinct = true;
  for (const [k, v] of forward) {
    if (backward.has(v)) distinct = false;
    backward.set(v, k);
  }
  // A value that is also another entry's key would be read back as that key: not reversible.
  for (const [k, v] of forward) if (forward.has(v) && v !== k) distinct = false;
  // A value mapped to nothing (A=>'') becomes null, which reads back as null, not as the value.
  for (const v of forward.values()) if (v === '') distinct = false;
  return {
    ...text(
      p,
      'MAP',
      distinct ? 'bijection' : 'lossy',
      (s) => emptyIsNull(forward.get(s) ?? s),
      distinct ? (s) => emptyIsNull(backward.get(s) ?? s) : undefined,
    ),
    markers: [...forward.values()],
  };
}

/** Canonical number arithmetic keeps 15 significant digits, so SCALE(0.1) and its inverse meet again. */
function tidy(n: number): number {
  const r = Number(n.toPrecision(15));
  return r === 0 ? 0 : r;
}

function numberStep(
  p: ParsedStep,
  name: string,
  stepClass: StepClass,
  fn: (n: number) => number,
  inv?: (n: number) => number,
): Step {
  const onNumber =
    (f: (n: number) => number) =>
    (v: PipelineValue): PipelineValue =>
      typeof v === 'number' ? f(v) : v;
  return {
    name,
    position: p.position,
    offset: p.offset,
    stepClass,
    accepts: ['number'],
    output: same,
    apply: onNumber(fn),
    invert: inv ? onNumber(inv) : undefined,
    columns: [],
  };
}

function offsetOf(zone: string, at: Date): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(at);
  const get = (t: string) => Number(parts.find((x) => x.type === t)?.value);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return Math.round((wall - Math.floor(at.getTime() / 1000) * 1000) / 60000);
}

/** An instant rendered in `zone` with its offset: 2026-12-06T08:00:00+01:00 (reversible: the offset is kept). */
export function instantInZone(iso: string, zone: string): string {
  const at = new Date(iso);
  const offset = offsetOf(zone, at);
  const local = new Date(at.getTime() + offset * 60000).toISOString().slice(0, 19);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function tzStep(p: ParsedStep): Step {
  const [arg] = arity(p, 'TZ', 1, 1, 'TZ(zone), e.g. TZ(Europe/Paris)');
  const zone = arg.text;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new StepDefinitionError('TZ', p.position, `"${zone}" is not a time zone (e.g. Europe/Paris, UTC)`);
  }
  return {
    name: 'TZ',
    position: p.position,
    offset: p.offset,
    stepClass: 'bijection',
    accepts: ['dateTime'],
    output: () => 'text',
    apply: (v) => (typeof v === 'string' ? instantInZone(v, zone) : v),
    invert: (v) => {
      if (typeof v !== 'string') return v;
      const ms = Date.parse(v);
      if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$/.test(v) || Number.isNaN(ms))
        throw new StepValueError('TZ', p.position, `${JSON.stringify(v)} is not a time with an offset`);
      return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    },
    columns: [],
  };
}

function dateStep(p: ParsedStep): Step {
  arity(p, 'DATE', 0, 0, 'DATE');
  return {
    name: 'DATE',
    position: p.position,
    offset: p.offset,
    stepClass: 'lossy',
    accepts: ['dateTime', 'text', 'date'],
    output: () => 'date',
    apply: (v) => {
      if (typeof v !== 'string') return v;
      // An instant is taken by its UTC day; text from TZ(zone) by its local day.
      const m = /^(\d{4}-\d{2}-\d{2})/.exec(v);
      if (!m) throw new StepValueError('DATE', p.position, `${JSON.stringify(v)} does not start with a date`);
      return m[1];
    },
    columns: [],
  };
}

function concatStep(p: ParsedStep): Step {
  const usage = "CONCAT(separator, column, …), e.g. CONCAT(' ', last_name)";
  if (p.args.length < 2)
    throw new StepDefinitionError(
      'CONCAT',
      p.position,
      `needs a separator and at least one column: ${usage}`,
    );
  const [sep, ...cols] = arity(p, 'CONCAT', 2, 32, usage);
  for (const c of cols)
    if (c.quoted || !/^[A-Za-z_][A-Za-z0-9_$]*$/.test(c.text))
      throw new StepDefinitionError(
        'CONCAT',
        p.position,
        `"${c.text}" is not a column name (write it unquoted)`,
      );
  const columns = cols.map((c) => c.text);
  const render = (v: unknown): string | null => {
    if (v === null || v === undefined || v === '') return null;
    if (typeof v === 'string') return v;
    if (v instanceof Date) return v.toISOString();
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
    return JSON.stringify(v);
  };
  return {
    name: 'CONCAT',
    position: p.position,
    offset: p.offset,
    stepClass: 'lossy',
    accepts: ['text', 'number', 'date', 'dateTime'],
    output: () => 'text',
    apply: (v, row) => {
      const parts = [render(v), ...columns.map((c) => render(row[c]))].filter((x): x is string => x !== null);
      return emptyIsNull(parts.join(sep.text));
    },
    columns,
  };
}

/** Builds one step from its parsed form; throws StepDefinitionError naming it and its position. */
export function buildStep(p: ParsedStep): Step {
  const name = ALIASES[p.name] ?? p.name;
  const none = (usage: string) => arity(p, name, 0, 0, usage);
  switch (name) {
    case 'UPPER':
      none('UPPER');
      return text(p, name, 'projection', (s) => s.toUpperCase());
    case 'LOWER':
      none('LOWER');
      return text(p, name, 'projection', (s) => s.toLowerCase());
    case 'TRIM':
      none('TRIM');
      return text(p, name, 'projection', (s) => emptyIsNull(s.trim()));
    case 'COLLAPSE':
      none('COLLAPSE');
      return text(p, name, 'projection', (s) => emptyIsNull(s.replace(/\s+/g, ' ').trim()));
    case 'REGEX':
      return regexStep(p);
    case 'PREFIX':
    case 'SUFFIX':
      return affixStep(p, name);
    case 'TRUNCATE': {
      const [n] = arity(p, name, 1, 1, 'TRUNCATE(length), e.g. TRUNCATE(255)');
      const length = integerArg(p, name, n, 1, 1_000_000);
      return text(p, name, 'projection', (s) => {
        const cps = codePoints(s);
        return cps.length <= length ? s : cps.slice(0, length).join('');
      });
    }
    case 'PAD':
      return padStep(p);
    case 'ROUND': {
      const args = arity(p, name, 0, 1, 'ROUND(digits), e.g. ROUND(2)');
      const digits = args[0] ? integerArg(p, name, args[0], 0, 15) : 0;
      const factor = 10 ** digits;
      return numberStep(p, name, 'projection', (n) => tidy(Math.round(n * factor) / factor));
    }
    case 'SCALE': {
      const [arg] = arity(p, name, 1, 1, 'SCALE(factor), e.g. SCALE(100)');
      const factor = Number(arg.text);
      if (arg.text === '' || !Number.isFinite(factor) || factor === 0)
        throw new StepDefinitionError(name, p.position, `"${arg.text}" must be a finite number other than 0`);
      return numberStep(
        p,
        name,
        'bijection',
        (n) => tidy(n * factor),
        (n) => tidy(n / factor),
      );
    }
    case 'TZ':
      return tzStep(p);
    case 'DATE':
      return dateStep(p);
    case 'EMPTY_TO_NULL':
      none('EMPTY_TO_NULL');
      return text(p, name, 'projection', (s) => emptyIsNull(s));
    case 'NULL_TO': {
      const [arg] = arity(p, name, 1, 1, "NULL_TO(value), e.g. NULL_TO('n/a') or NULL_TO(0)");
      const literal = arg.text;
      const step: Step = {
        name,
        position: p.position,
        offset: p.offset,
        stepClass: 'projection',
        accepts: 'any',
        output: same,
        apply: (v) => (v !== null ? v : step.meets === 'number' ? Number(literal) : literal),
        columns: [],
        literal,
      };
      return step;
    }
    case 'MAP':
      return mapStep(p);
    case 'CONCAT':
      return concatStep(p);
    default:
      throw new StepDefinitionError(
        p.name,
        p.position,
        `is not a step; steps are ${STEP_NAMES.join(', ')} (array form also: trim, lowercase, uppercase, emptyToNull)`,
      );
  }
}

/**
 * A field's transform pipeline: parsed once from its definition (string or legacy array form), type-checked
 * against the columns it joins, run on canonical values, and inverted where its steps allow.
 */
import type { FieldKind } from '../canonical';
import { parsePipelineText, PipelineSyntaxError, type ParsedStep } from './parse';
import {
  buildStep,
  StepDefinitionError,
  StepValueError,
  type PipelineType,
  type PipelineValue,
  type RowValues,
  type Step,
  type StepClass,
} from './steps';

export type TransformSpec = string | string[];

/** The four transforms of the array form before pipelines; an array of only these keeps its old meaning. */
export const LEGACY_STEPS = ['trim', 'lowercase', 'uppercase', 'emptyToNull'] as const;

export interface Pipeline {
  /** The pipeline as written, for messages. */
  text: string;
  steps: Step[];
  /** Array form of legacy steps only: on a non-text column it passes values through (as it always did). */
  legacy: boolean;
  /** Columns read besides the field's own (CONCAT). */
  columns: string[];
  /** lossy when any step is; else bijection when any step is; else projection. */
  reversibility: StepClass;
  /** Lossy: what cannot be undone ("step 2 REGEX", or the steps that do not hold together), for messages. */
  lossyBecause?: string;
}

/** A pipeline that cannot be used; `step` and `position` name the step at fault when there is one. */
export class PipelineError extends Error {
  constructor(
    readonly detail: string,
    readonly step?: string,
    readonly position?: number,
  ) {
    super(step && position ? `step ${position} ${step}: ${detail}` : detail);
    this.name = 'PipelineError';
  }
}

/** Steps that trim or collapse white space. */
const WHITESPACE = new Set(['TRIM', 'COLLAPSE']);

/** Projection steps that can turn a value into null (white space only, or empty, becomes null). */
const NULLING = new Set(['TRIM', 'COLLAPSE', 'EMPTY_TO_NULL']);

/**
 * Each projection step is a fixed point of its own output, but a chain of them is not always one: PAD then TRIM
 * pads a value the next run trims and pads again ("*****" becomes "******"), and a TRUNCATE after white space
 * was trimmed can leave a trailing space the next run trims. Such chains are taken as lossy (their field is
 * one-way), which is safe; the property test in test/core/transform/pipeline.test.ts checks what is left.
 */
function chainIsProjection(steps: Step[]): boolean {
  const names = steps.map((s) => s.name);
  // NULL_TO's value must come out of the steps before it unchanged: the next run reads it through them.
  for (const [i, step] of steps.entries()) {
    if (step.name !== 'NULL_TO' || step.literal === undefined) continue;
    const value: PipelineValue = step.meets === 'number' ? Number(step.literal) : step.literal;
    if (steps.slice(0, i).reduce<PipelineValue>((v, s) => s.apply(v, {}), value) !== value) return false;
    // A null made after it ("NULL_TO('-') | COLLAPSE" on " ") becomes the literal on the next run.
    if (steps.slice(i + 1).some((s) => NULLING.has(s.name))) return false;
  }
  if (names.includes('PAD') && names.some((n) => n === 'TRUNCATE' || WHITESPACE.has(n))) return false;
  const lastTruncate = names.lastIndexOf('TRUNCATE');
  if (lastTruncate < 0) return true;
  const trimmedBefore = names.slice(0, lastTruncate).some((n) => WHITESPACE.has(n));
  const trimmedAfter = names.slice(lastTruncate + 1).some((n) => WHITESPACE.has(n));
  // Case mapping can lengthen a value ("ß" → "SS"), so after a TRUNCATE it can undo the cut.
  const caseAfter = names.slice(lastTruncate + 1).some((n) => n === 'UPPER' || n === 'LOWER');
  return (!trimmedBefore || trimmedAfter) && !caseAfter;
}

/**
 * A bijection's inverse recognises its output by its markers (PREFIX's and SUFFIX's affix, MAP's values): a
 * projection after it that changes them makes its output impossible to undo. "PREFIX('prj-') | UPPER" gives
 * "PRJ-ABC", which carries no "prj-"; "MAP(a=>Alpha) | UPPER" gives "ALPHA", which reads back as itself. Such
 * chains are lossy (their field is one-way); a projection that leaves the markers alone ("PREFIX('PRJ-') | UPPER")
 * keeps the chain a bijection. (A TRUNCATE that cuts a SUFFIX off values of ordinary length is found by the sample
 * values below; one that cuts only very long values leaves those parked, as any value the chain cannot undo.)
 */
function markerChangedBy(steps: Step[]): { step: Step; by: Step } | null {
  for (const [i, step] of steps.entries()) {
    if (!step.markers) continue;
    const after = steps.slice(i + 1).filter((s) => s.stepClass === 'projection');
    for (const marker of step.markers) {
      let value: PipelineValue = marker;
      for (const s of after) {
        value = s.apply(value, {});
        if (value !== marker) return { step, by: s };
      }
    }
  }
  return null;
}

const named = (s: Step) => `step ${s.position} ${s.name}`;

function classOf(steps: Step[]): { reversibility: StepClass; lossyBecause?: string } {
  const lossy = steps.find((s) => s.stepClass === 'lossy');
  if (lossy) return { reversibility: 'lossy', lossyBecause: named(lossy) };
  // The projection steps among bijections must hold together too ("NULL_TO('-') | COLLAPSE | PREFIX('x')").
  if (!chainIsProjection(steps))
    return {
      reversibility: 'lossy',
      lossyBecause: `the steps ${steps.map((s) => s.name).join(', ')} together`,
    };
  const changed = markerChangedBy(steps);
  if (changed)
    return {
      reversibility: 'lossy',
      lossyBecause: `${named(changed.step)} followed by ${named(changed.by)}, which changes what ${changed.step.name} adds`,
    };
  const unreadable = sampleNotUndone(steps);
  if (unreadable) return { reversibility: 'lossy', lossyBecause: unreadable };
  return { reversibility: steps.some((s) => s.stepClass === 'bijection') ? 'bijection' : 'projection' };
}

/**
 * The markers cover one step at a time; steps together can still cut what bijections add ("PREFIX('prj-') |
 * PREFIX('prj-') | TRUNCATE(6)" gives "prj-pr"). A chain with a projection after a bijection is also run on sample
 * values, and each output must read back to a value the chain turns into it again; the first that does not is
 * named. (The property test in test/core/transform/pipeline.test.ts searches the chains further.)
 */
function sampleNotUndone(steps: Step[]): string | null {
  const firstBijection = steps.findIndex((s) => s.stepClass === 'bijection');
  if (firstBijection < 0 || !steps.slice(firstBijection + 1).some((s) => s.stepClass === 'projection'))
    return null;
  const run = (v: PipelineValue) => steps.reduce<PipelineValue>((out, s) => s.apply(out, {}), v);
  const undo = (v: PipelineValue) =>
    [...steps].reverse().reduce<PipelineValue>((out, s) => (s.invert ? s.invert(out) : out), v);
  const markers = steps.flatMap((s) => s.markers ?? []);
  const samples: PipelineValue[] = [
    ' ',
    'a',
    'abc',
    ' a  b ',
    'Hello World',
    'ß',
    'x'.repeat(40),
    ...markers.flatMap((m) => [m, `${m}a`, `a${m}`]),
    0,
    1.5,
    -2.25,
    123456.789,
  ];
  for (const sample of samples) {
    let out: PipelineValue;
    try {
      out = run(sample);
    } catch {
      continue; // a value of another type than the chain takes
    }
    let readable: boolean;
    try {
      readable = sameValue(run(undo(out)), out);
    } catch {
      readable = false;
    }
    if (!readable)
      return `the steps ${steps.map((s) => s.name).join(', ')} together (${JSON.stringify(sample)} gives ${JSON.stringify(out)}, which cannot be read back)`;
  }
  return null;
}

function parsedSteps(spec: TransformSpec): ParsedStep[] {
  if (typeof spec === 'string') return parsePipelineText(spec);
  if (spec.length === 0) throw new PipelineSyntaxError('is empty: name at least one step, e.g. ["trim"]', 0);
  return spec.map((element, i) => {
    const steps = parsePipelineText(element, i + 1);
    if (steps.length !== 1)
      throw new PipelineSyntaxError(
        `element ${i + 1} holds ${steps.length} steps: write one step per array element, or the whole pipeline as one string`,
        0,
        steps[0]?.name,
        i + 1,
      );
    return steps[0];
  });
}

/** Parses a pipeline and builds its steps; throws PipelineError naming the step and its position. */
export function parsePipeline(spec: TransformSpec): Pipeline {
  let steps: Step[];
  try {
    steps = parsedSteps(spec).map(buildStep);
  } catch (err) {
    if (err instanceof PipelineSyntaxError || err instanceof StepDefinitionError)
      throw new PipelineError(err.detail, err.step, err.position);
    throw err;
  }
  const legacy = Array.isArray(spec) && spec.every((s) => (LEGACY_STEPS as readonly string[]).includes(s));
  return {
    text: typeof spec === 'string' ? spec : JSON.stringify(spec),
    steps,
    legacy,
    columns: [...new Set(steps.flatMap((s) => s.columns))],
    ...classOf(steps),
  };
}

/** The pipeline type of a field kind: what steps can act on a value of that kind. */
export function pipelineTypeOf(kind: FieldKind): PipelineType {
  switch (kind) {
    case 'text':
    case 'note':
    case 'choice':
      return 'text';
    case 'number':
    case 'integer':
      return 'number';
    case 'dateTime':
      return 'dateTime';
    case 'dateOnly':
      return 'date';
    default:
      return 'other';
  }
}

export interface TypeCheck {
  /** The type the pipeline hands on. */
  output: PipelineType;
  errors: PipelineError[];
  /** Steps that have no effect (a legacy text step on a non-text column). */
  warnings: PipelineError[];
}

/**
 * Checks every step meets a type it accepts, starting from `input`; `expected` (when known) is the type the
 * other side stores. NULL_TO learns here which type its replacement must be.
 */
export function typeCheck(p: Pipeline, input: PipelineType, expected?: PipelineType): TypeCheck {
  const errors: PipelineError[] = [];
  const warnings: PipelineError[] = [];
  let type = input;
  for (const step of p.steps) {
    if (step.name === 'NULL_TO' && step.literal !== undefined) {
      if (type === 'number' && !Number.isFinite(Number(step.literal)))
        errors.push(
          new PipelineError(
            `"${step.literal}" is not a number, and the value here is a number`,
            step.name,
            step.position,
          ),
        );
      if (type === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(step.literal))
        errors.push(
          new PipelineError(`"${step.literal}" is not a date (YYYY-MM-DD)`, step.name, step.position),
        );
      if (type === 'dateTime' && Number.isNaN(Date.parse(step.literal)))
        errors.push(
          new PipelineError(`"${step.literal}" is not a time (ISO 8601)`, step.name, step.position),
        );
      if (type === 'other')
        errors.push(
          new PipelineError('NULL_TO works on text, number, date and time values', step.name, step.position),
        );
      step.meets = type;
    }
    if (step.accepts !== 'any' && !step.accepts.includes(type)) {
      const problem = new PipelineError(
        `takes ${step.accepts.join(' or ')} values, but the value here is ${describe(type)}`,
        step.name,
        step.position,
      );
      if (p.legacy) {
        warnings.push(
          new PipelineError(`has no effect: the value is ${describe(type)}`, step.name, step.position),
        );
        continue;
      }
      errors.push(problem);
      continue;
    }
    type = step.output(type);
  }
  if (
    expected !== undefined &&
    errors.length === 0 &&
    !p.legacy &&
    type !== expected &&
    !(type === 'text' && expected === 'other')
  )
    errors.push(
      new PipelineError(
        `the pipeline ends with ${describe(type)}, but the column it writes holds ${describe(expected)}`,
      ),
    );
  return { output: type, errors, warnings };
}

function describe(t: PipelineType): string {
  return t === 'other'
    ? 'a value no text, number or date step takes'
    : t === 'dateTime'
      ? 'a date and time'
      : `a ${t}`;
}

/** Runs the pipeline on a canonical value; `row` supplies CONCAT's columns. */
export function runPipeline(p: Pipeline, value: PipelineValue, row: RowValues = {}): PipelineValue {
  let out = value;
  for (const step of p.steps) out = step.apply(out, row);
  return out;
}

function sameValue(a: PipelineValue, b: PipelineValue): boolean {
  if (Array.isArray(a) || Array.isArray(b)) return JSON.stringify(a) === JSON.stringify(b);
  return a === b;
}

/**
 * The value the pipeline turns into `value`, when there is one: bijections undone in reverse order, projections
 * kept as they are (their output is already a fixed point). A step that cannot undo the value (no PREFIX to
 * strip) throws. With `strict`, the result is also checked by running the pipeline on it again, so a value the
 * pipeline can never produce (`abc` under UPPER) is refused; without, it is returned as the best preimage.
 */
export function invertPipeline(p: Pipeline, value: PipelineValue, strict = true): PipelineValue {
  if (p.reversibility === 'lossy') {
    const step = p.steps.find((s) => s.stepClass === 'lossy');
    if (step) throw new StepValueError(step.name, step.position, 'cannot be undone');
    const last = p.steps[p.steps.length - 1];
    throw new StepValueError(last.name, last.position, `cannot be undone: ${p.lossyBecause ?? 'lossy'}`);
  }
  let out = value;
  for (const step of [...p.steps].reverse()) if (step.invert) out = step.invert(out);
  if (!strict) return out;
  const again = runPipeline(p, out);
  if (!sameValue(again, value)) {
    throw new StepValueError(
      p.steps[p.steps.length - 1].name,
      p.steps[p.steps.length - 1].position,
      `${JSON.stringify(value)} is not a value the pipeline "${p.text}" produces (reading it back gives ${JSON.stringify(again)})`,
    );
  }
  return out;
}

/**
 * What `validate` says about a field's pipelines: syntax (from the schema alone), types against the Postgres
 * column, and which direction a pipeline that cannot be undone leaves the field.
 */
import {
  parsePipeline,
  PipelineError,
  pipelineTypeOf,
  typeCheck,
  type Pipeline,
  type TransformSpec,
} from './pipeline';
import type { PipelineType } from './steps';
import type { FieldKind } from '../canonical';

/** A syntax or step problem of one pipeline, or null; a pull pipeline cannot read other columns (CONCAT). */
export function pipelineSyntaxProblem(spec: TransformSpec, pull: boolean): string | null {
  try {
    const p = parsePipeline(spec);
    const concat = p.steps.find((s) => s.name === 'CONCAT');
    if (pull && concat)
      return `step ${concat.position} CONCAT: a pull pipeline has one SharePoint value to work on; CONCAT belongs in transform`;
    return null;
  } catch (err) {
    if (err instanceof PipelineError) return err.message;
    throw err;
  }
}

/** The direction lossy pipelines leave a field in, or null when both pipelines (or none) can be undone. */
export function oneWayDirection(
  push: Pipeline | null,
  pull: Pipeline | null,
): 'PUSH_ONLY' | 'PULL_ONLY' | null {
  if (push && !pull && push.reversibility === 'lossy') return 'PUSH_ONLY';
  if (pull && !push && pull.reversibility === 'lossy') return 'PULL_ONLY';
  return null;
}

export interface PipelineProblem {
  path: string;
  message: string;
}

function lossyStep(p: Pipeline): string {
  return p.lossyBecause ?? 'a step';
}

/**
 * Checks a field's pipelines against its Postgres column (the SharePoint column is checked when a run resolves
 * the list): every step meets a type it accepts, CONCAT names existing columns, and a pipeline that cannot be
 * undone is reported as making the field one-way.
 */
export function checkFieldPipelines(
  field: {
    source: string;
    target: string;
    direction: string;
    transform?: TransformSpec;
    pullTransform?: TransformSpec;
  },
  index: number,
  sourceKind: FieldKind | null,
  columnExists: (name: string) => boolean,
): { errors: PipelineProblem[]; warnings: PipelineProblem[] } {
  const errors: PipelineProblem[] = [];
  const warnings: PipelineProblem[] = [];
  const parse = (spec: TransformSpec | undefined): Pipeline | null => {
    if (spec === undefined) return null;
    try {
      return parsePipeline(spec);
    } catch {
      return null; // reported by the schema check
    }
  };
  const push = parse(field.transform);
  const pull = parse(field.pullTransform);
  const pgType = sourceKind ? pipelineTypeOf(sourceKind) : null;
  if (push && pgType) {
    const path = `fields[${index}].transform`;
    const checked = typeCheck(push, pgType);
    for (const e of checked.errors) errors.push({ path, message: e.message });
    for (const w of checked.warnings) warnings.push({ path, message: w.message });
    for (const s of push.steps)
      for (const c of s.columns)
        if (!columnExists(c))
          errors.push({
            path,
            message: `step ${s.position} ${s.name}: column "${c}" does not exist in the source table`,
          });
    if (pull) {
      const back = typeCheck(pull, checked.output, pgType);
      for (const e of back.errors)
        errors.push({ path: `fields[${index}].pullTransform`, message: e.message });
    }
  } else if (pull && pgType) {
    // Without a push pipeline SharePoint holds the Postgres column's type.
    const back = typeCheck(pull, pgType, pgType);
    for (const e of back.errors) errors.push({ path: `fields[${index}].pullTransform`, message: e.message });
  }
  const oneWay = oneWayDirection(push, pull);
  if (oneWay === 'PUSH_ONLY' && push && field.direction === 'BIDIRECTIONAL')
    warnings.push({
      path: `fields[${index}].transform`,
      message:
        `${lossyStep(push)} cannot be undone, so "${field.target}" is push-only: pull never writes it, and an edit ` +
        'of it in SharePoint is recorded as a conflict and overwritten from Postgres. Add a pullTransform to sync it ' +
        'both ways, or declare the field PUSH_ONLY to silence this warning',
    });
  if (oneWay === 'PULL_ONLY' && pull && field.direction === 'BIDIRECTIONAL')
    warnings.push({
      path: `fields[${index}].pullTransform`,
      message:
        `${lossyStep(pull)} cannot be undone, so "${field.target}" is pull-only: push never writes it. Add a ` +
        'transform to sync it both ways, or declare the field PULL_ONLY to silence this warning',
    });
  return { errors, warnings };
}

/**
 * What a field's push pipeline hands SharePoint, from the Postgres column's kind: the type `provision` creates
 * the column with. `changed` is false without a push pipeline or when the type stays the Postgres column's;
 * `error` names the first step that does not type-check.
 */
export function pushPipelineOutput(
  transform: TransformSpec | undefined,
  sourceKind: FieldKind,
): { type: PipelineType; changed: boolean; error: string | null } {
  const input = pipelineTypeOf(sourceKind);
  if (transform === undefined) return { type: input, changed: false, error: null };
  let pipeline: Pipeline;
  try {
    pipeline = parsePipeline(transform);
  } catch (err) {
    if (err instanceof PipelineError) return { type: input, changed: false, error: err.message };
    throw err;
  }
  const checked = typeCheck(pipeline, input);
  return {
    type: checked.output,
    changed: checked.output !== input,
    error: checked.errors[0]?.message ?? null,
  };
}

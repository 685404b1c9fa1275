/**
 * Value mapping of a field with transform pipelines: Postgres value → SharePoint value (push) and back (pull).
 * The pipelines themselves live in src/core/transform; this module decides which one runs in which direction
 * and keeps the ledger's record of what each side held (migration 013), so that an echo is recognised
 * whatever a pipeline does (I3, I4).
 */
import {
  canonicalEquals,
  contentHash,
  stableStringify,
  toCanonical,
  type CanonicalRecord,
  type CanonicalValue,
  type FieldKind,
} from '../canonical';
import { createHash } from 'node:crypto';
import type { FieldMapping } from '../definition/schema';
import type { SourcePair, SourcePairs } from '../store/ledger';
import { oneWayDirection } from '../transform/check';
import {
  invertPipeline,
  parsePipeline,
  runPipeline,
  type Pipeline,
  type TransformSpec,
} from '../transform/pipeline';
import { StepValueError, type PipelineValue } from '../transform/steps';

export interface FieldTransforms {
  /** `transform`: Postgres → SharePoint. */
  push: Pipeline | null;
  /** `pullTransform`: SharePoint → Postgres. */
  pull: Pipeline | null;
  /** The direction a pipeline that cannot be undone leaves the field in (docs/cli.md, reversibility). */
  oneWay: 'PUSH_ONLY' | 'PULL_ONLY' | null;
  /** What each direction runs, as the ledger's pairs record it (I14). */
  stamps: PipelineStamps;
}

/**
 * Short fingerprints of the pipeline each direction runs: push runs `transform`, or `pullTransform` undone; pull
 * runs `pullTransform`, or `transform` undone. A pair stamped otherwise was made under a pipeline since changed.
 */
export interface PipelineStamps {
  push: string;
  pull: string;
}

export type PipelineDirection = keyof PipelineStamps;

function stampOf(own: Pipeline | null, undone: Pipeline | null): string {
  const text = own
    ? `run:${own.legacy ? 'array:' : ''}${own.text}`
    : undone
      ? `undo:${undone.legacy ? 'array:' : ''}${undone.text}`
      : 'none';
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export function pipelineStamps(push: Pipeline | null, pull: Pipeline | null): PipelineStamps {
  return { push: stampOf(push, pull), pull: stampOf(pull, push) };
}

/** A field with no pipeline: each side holds what the other does. */
export const NO_PIPELINES: FieldTransforms = Object.freeze({
  push: null,
  pull: null,
  oneWay: null,
  stamps: pipelineStamps(null, null),
});

/**
 * The pipelines an entry's field is read through: its own; or, for a field with none whose entry still holds a
 * pair (its transform or pullTransform was removed since, I14), none as a pipeline of its own, so that the pair
 * keeps saying what each side held (the sides differ until a sync or backfill writes one of them) and a backfill
 * re-derives it.
 */
export function pipelinesOf(
  f: TransformedField,
  pairs: SourcePairs | null | undefined,
): FieldTransforms | null {
  if (f.transforms) return f.transforms;
  return pairs?.[f.target] ? NO_PIPELINES : null;
}

/** `f` with the pipelines its entry reads it through (pipelinesOf), or null when it has none. */
export function withPipelines<F extends TransformedField>(
  f: F,
  pairs: SourcePairs | null | undefined,
): F | null {
  const t = pipelinesOf(f, pairs);
  if (!t) return null;
  return t === f.transforms ? f : { ...f, transforms: t };
}

/** A field's pipelines, or null when it has none. The definition was validated: specs parse. */
export function fieldTransforms(
  f: Pick<FieldMapping, 'transform' | 'pullTransform'>,
): FieldTransforms | null {
  if (f.transform === undefined && f.pullTransform === undefined) return null;
  const push = f.transform === undefined ? null : parsePipeline(f.transform);
  const pull = f.pullTransform === undefined ? null : parsePipeline(f.pullTransform);
  return { push, pull, oneWay: oneWayDirection(push, pull), stamps: pipelineStamps(push, pull) };
}

/**
 * Postgres value (canonical) → the value SharePoint holds: the push pipeline, or the pull pipeline undone. A
 * value the pull pipeline would not produce as it is (`ABC` under LOWER) is sent as its best preimage.
 */
export function toSharePointValue(
  t: FieldTransforms,
  value: PipelineValue,
  row: Record<string, unknown>,
): PipelineValue {
  if (t.push) return runPipeline(t.push, value, row);
  if (t.pull) return invertPipeline(t.pull, value, false);
  return value;
}

/**
 * SharePoint value (canonical) → the value Postgres holds: the pull pipeline, or the push pipeline undone. A
 * value the push pipeline would not produce as it is (` abc ` under TRIM) is written as it is, as the array form
 * always did; the next push then writes the pipeline's value back (no pair is recorded for it, see sourcePairs).
 */
export function toPostgresValue(t: FieldTransforms, value: PipelineValue): PipelineValue {
  if (t.pull) return runPipeline(t.pull, value);
  if (t.push) return invertPipeline(t.push, value, false);
  return value;
}

/**
 * A step's refusal of one value (I12) as the row's or item's parked failure shows it: the field, the pipeline the
 * step belongs to and the next step; any other error as it is.
 */
function refusedIn(
  err: unknown,
  f: TransformedField,
  t: FieldTransforms,
  direction: PipelineDirection,
): unknown {
  if (!(err instanceof StepValueError) || err.field !== undefined) return err;
  const own = direction === 'push' ? t.push : t.pull;
  const ownName = direction === 'push' ? 'transform' : 'pullTransform';
  const otherName = direction === 'push' ? 'pullTransform' : 'transform';
  const pipeline = own ? ownName : `${otherName} undone`;
  const value =
    direction === 'push'
      ? `column ${f.source} of the row in Postgres`
      : `${f.target} of the item in SharePoint`;
  const next = own
    ? `change ${value} to a value the ${ownName} takes, or change the field's ${ownName}`
    : `change ${value} to a value the ${otherName} gives, or give the field a ${ownName}`;
  return new StepValueError(
    err.step,
    err.position,
    err.detail,
    f.target,
    `field ${f.target} (column ${f.source}), ${pipeline} step ${err.position} ${err.step}: ${err.detail}. ` +
      `Next step: ${next}`,
  );
}

/** The mapped field as the value mapping needs it (a PlannedField satisfies it). */
export interface TransformedField {
  source: string;
  target: string;
  kind: FieldKind;
  /** The Postgres side's kind; differs from `kind` when a pipeline changes the type (TZ, DATE, CONCAT…). */
  sourceKind: FieldKind;
  transforms: FieldTransforms | null;
}

/** JSON-safe form of a column value CONCAT reads, for the ledger. */
function plain(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return v.toString();
  return v ?? null;
}

/** What the push pipeline reads from a row: the field's canonical value, plus CONCAT's columns. */
export function sourceInput(f: TransformedField, values: Record<string, unknown>): unknown {
  const own = toCanonical(f.sourceKind, values[f.source]);
  const columns = f.transforms?.push?.columns ?? [];
  return columns.length === 0 ? own : [own, ...columns.map((c) => plain(values[c]))];
}

/** A recorded pair still describes the synced state: its SharePoint side is the entry's synced value. */
function validPair(
  pairs: SourcePairs | null | undefined,
  synced: CanonicalRecord | null,
  target: string,
): SourcePair | null {
  const pair = pairs?.[target];
  if (!pair || !synced || !(target in synced)) return null;
  return canonicalEquals(pair.sp, synced[target]) ? pair : null;
}

/**
 * The stamps of a pair `producer` made: the producing direction's pipeline; and, when that direction ran the
 * other one's pipeline undone (a field with only `pullTransform` pushed, or only `transform` pulled), the other
 * direction's too, since that one pipeline then relates both sides (I14). A value a direction did not write (one a
 * user typed on the side it reads) carries no stamp of it, so a backfill of that direction never rewrites it.
 */
export function producedStamps(t: FieldTransforms, producer: PipelineDirection): Partial<PipelineStamps> {
  const ranOtherUndone = producer === 'push' ? t.push === null : t.pull === null;
  if (!ranOtherUndone) return { [producer]: t.stamps[producer] };
  return { push: t.stamps.push, pull: t.stamps.pull };
}

/**
 * A pair saved before the stamps existed (no stamp at all), judged by its values. On a field with `transform`
 * alone, every pair's SharePoint value is what the push pipeline of its day made of its Postgres input (pull
 * pairs only a value that pushes back to it, sourcePairs): a current push pipeline that gives another value has
 * changed since. On a field with `pullTransform` alone, every pair holds either what the pull pipeline of its day
 * made of SharePoint's value (pulled) or what it undone made of Postgres's (pushed): when the current one gives
 * neither, it has changed since. Both pipelines, CONCAT's other columns, or a pipeline that cannot be undone:
 * the pair cannot tell, and counts as made under the current one.
 */
function unstampedUnderOld(
  t: FieldTransforms,
  f: TransformedField,
  pair: SourcePair,
  direction: PipelineDirection,
): boolean {
  // A pair on a field with no pipeline now was made under one it had: whatever it made differs from its input.
  if (t === NO_PIPELINES) return stableStringify(pair.pg) !== stableStringify(pair.sp);
  try {
    if (direction === 'push') {
      if (!t.push || t.pull || t.push.columns.length > 0) return false;
      return !canonicalEquals(
        toCanonical(f.kind, runPipeline(t.push, pair.pg as PipelineValue, {})),
        pair.sp,
      );
    }
    if (!t.pull || t.push) return false;
    const pushed = toCanonical(f.kind, invertPipeline(t.pull, pair.pg as PipelineValue, false));
    const pulled = toCanonical(f.sourceKind, runPipeline(t.pull, pair.sp as PipelineValue));
    return !canonicalEquals(pushed, pair.sp) && stableStringify(pulled) !== stableStringify(pair.pg);
  } catch {
    return false;
  }
}

/**
 * Whether the field's pair stands for the row as it is (Postgres unchanged since the last sync) and its value on
 * the side `direction` writes was made by a `direction` pipeline the definition has changed since (I14). The next
 * push and pull still read the field through it (a changed pipeline rewrites nothing by itself); a backfill
 * re-derives it through the current one. A pair the other direction made (a value a user typed where
 * `direction` reads) carries no `direction` stamp and is left.
 */
export function madeUnderOldPipeline(
  f: TransformedField,
  values: Record<string, unknown>,
  ledger: { syncedValues: CanonicalRecord | null; sourceValues?: SourcePairs | null },
  direction: PipelineDirection,
): boolean {
  const t = pipelinesOf(f, ledger.sourceValues);
  if (!t) return false;
  const pair = validPair(ledger.sourceValues, ledger.syncedValues, f.target);
  if (!pair) return false;
  try {
    if (stableStringify(pair.pg) !== stableStringify(sourceInput(f, values))) return false;
  } catch {
    return false; // a row value with no canonical form: the pair does not stand for it
  }
  return stampedOlder(t, f, pair, direction);
}

/** Whether `pair`'s value on the side `direction` writes was made by an older `direction` pipeline. */
function stampedOlder(
  t: FieldTransforms,
  f: TransformedField,
  pair: SourcePair,
  direction: PipelineDirection,
): boolean {
  if (pair.push === undefined && pair.pull === undefined) return unstampedUnderOld(t, f, pair, direction);
  const stamp = pair[direction];
  return stamp !== undefined && stamp !== t.stamps[direction];
}

/**
 * The ledger's view of a pair as an interrupted backfill would have left it (I6): a backfill writes one side
 * through the current pipeline, then commits the ledger; stopped in between, the side it wrote looks edited to
 * the next run. A field whose pair was made under an older pipeline while the sides now agree under the current
 * one — SharePoint holds what the current push pipeline makes of the paired Postgres input, or Postgres holds what
 * the current pull pipeline makes of the synced SharePoint value — is in sync: it is re-paired with the current
 * stamps, and no run writes it. So is a field whose sides hold the pair the backfill recorded as `next` before its
 * write (SourcePair.next), with that pair's stamps: the pipeline may have changed again since the backfill stopped,
 * and the value it wrote is then neither the synced one nor the current pipeline's, which the next pull would take
 * for a SharePoint edit (or the next push for a Postgres one) and write to the other side through the new pipeline.
 * `sp` is SharePoint as read, or null when not read (only the Postgres case). Returns null when no field needs it.
 */
export function agreedUnderCurrentPipelines(
  fields: readonly TransformedField[],
  ledger: { syncedValues: CanonicalRecord | null; sourceValues?: SourcePairs | null },
  values: Record<string, unknown>,
  sp: CanonicalRecord | null,
): { syncedValues: CanonicalRecord; sourceValues: SourcePairs } | null {
  const synced = ledger.syncedValues;
  if (!synced) return null;
  let out: { syncedValues: CanonicalRecord; sourceValues: SourcePairs } | null = null;
  for (const f of fields) {
    const t = pipelinesOf(f, ledger.sourceValues);
    const pair = t ? validPair(ledger.sourceValues, synced, f.target) : null;
    if (!t || !pair) continue;
    let healed: { sp: CanonicalValue; pg: unknown; stamps: Partial<PipelineStamps> } | null = null;
    try {
      const input = sourceInput(f, values);
      const samePg = stableStringify(pair.pg) === stableStringify(input);
      const spNow = sp && f.target in sp ? (sp[f.target] ?? null) : undefined;
      const spUnchanged = spNow === undefined || canonicalEquals(spNow, synced[f.target] ?? null);
      // What a stopped backfill was writing, found on both sides: its pair, whatever pipeline is current now.
      const next = pair.next;
      if (
        next &&
        stableStringify(next.pg) === stableStringify(input) &&
        (samePg
          ? spNow !== undefined && !spUnchanged && canonicalEquals(next.sp, spNow)
          : spUnchanged && canonicalEquals(next.sp, synced[f.target] ?? null))
      ) {
        const { push, pull } = next;
        healed = {
          sp: next.sp,
          pg: input,
          stamps: { ...(push === undefined ? {} : { push }), ...(pull === undefined ? {} : { pull }) },
        };
      } else if (
        samePg &&
        sp &&
        f.target in sp &&
        t.oneWay !== 'PULL_ONLY' &&
        stampedOlder(t, f, pair, 'push') &&
        !canonicalEquals(sp[f.target], synced[f.target])
      ) {
        const own = toCanonical(f.sourceKind, values[f.source]) as PipelineValue;
        const now = toCanonical(f.kind, toSharePointValue(t, own, values));
        if (canonicalEquals(now, sp[f.target]))
          healed = { sp: now, pg: input, stamps: producedStamps(t, 'push') };
      } else if (
        !samePg &&
        t.oneWay !== 'PUSH_ONLY' &&
        // SharePoint changed too: both sides changed the field since the last sync, a conflict (I7), not this.
        (sp === null || canonicalEquals(sp[f.target] ?? null, synced[f.target] ?? null)) &&
        stampedOlder(t, f, pair, 'pull') &&
        canonicalEquals(pulledValue(f, synced[f.target] ?? null), toCanonical(f.sourceKind, values[f.source]))
      )
        healed = { sp: synced[f.target] ?? null, pg: input, stamps: producedStamps(t, 'pull') };
    } catch {
      healed = null; // a value with no canonical form, or one the pipeline cannot read: nothing agreed
    }
    if (!healed) continue;
    out ??= { syncedValues: { ...synced }, sourceValues: { ...(ledger.sourceValues ?? {}) } };
    out.syncedValues[f.target] = healed.sp;
    out.sourceValues[f.target] = { sp: healed.sp, pg: healed.pg, ...healed.stamps };
  }
  return out;
}

/**
 * A transformed field's value in SharePoint terms. When the ledger recorded that Postgres held this very input
 * at the last sync, the field is unchanged on the Postgres side and its synced value stands, whatever the
 * pipelines would make of it (an explicit pullTransform need not be the inverse of transform).
 */
export function transformedToCanonical(
  f: TransformedField,
  values: Record<string, unknown>,
  ledger?: { syncedValues: CanonicalRecord | null; sourceValues?: SourcePairs | null },
): CanonicalValue {
  const t = f.transforms as FieldTransforms;
  const pair = ledger ? validPair(ledger.sourceValues, ledger.syncedValues, f.target) : null;
  if (pair && stableStringify(pair.pg) === stableStringify(sourceInput(f, values)))
    return (ledger?.syncedValues?.[f.target] ?? null) as CanonicalValue;
  const input = toCanonical(f.sourceKind, values[f.source]) as PipelineValue;
  if (t.oneWay === 'PULL_ONLY') {
    // Push never writes it; the value only tells pull whether Postgres already holds what it would write.
    try {
      return toCanonical(f.kind, input);
    } catch {
      return null;
    }
  }
  try {
    return toCanonical(f.kind, toSharePointValue(t, input, values));
  } catch (err) {
    throw refusedIn(err, f, t, 'push');
  }
}

/** The canonical Postgres value pull writes for a SharePoint value of a transformed field. */
export function pulledValue(f: TransformedField, value: CanonicalValue): CanonicalValue {
  if (!f.transforms) return value;
  if (f.transforms.oneWay === 'PUSH_ONLY') {
    // Only a new item's row reaches here: its value is kept as it is rather than lost (the pipeline cannot be
    // undone); the next push writes the pipeline's value when that differs.
    try {
      return toCanonical(f.sourceKind, value);
    } catch {
      return null;
    }
  }
  try {
    return toCanonical(f.sourceKind, toPostgresValue(f.transforms, value as PipelineValue));
  } catch (err) {
    throw refusedIn(err, f, f.transforms, 'pull');
  }
}

/**
 * A new pair, stamped with the pipelines that made it: a pair that repeats the previous one (the field did not
 * change on either side) keeps its stamps (none, for one saved before the stamps), since its values still come
 * from what made them; a new one takes the stamps of `producer`, the direction that wrote it (producedStamps).
 */
function stamped(
  f: TransformedField,
  pair: { sp: CanonicalValue; pg: unknown },
  previous: SourcePair | undefined,
  producer: PipelineDirection,
): SourcePair {
  const same =
    previous !== undefined &&
    canonicalEquals(previous.sp, pair.sp) &&
    stableStringify(previous.pg) === stableStringify(pair.pg);
  if (same) {
    const { push, pull } = previous;
    return { ...pair, ...(push === undefined ? {} : { push }), ...(pull === undefined ? {} : { pull }) };
  }
  return { ...pair, ...producedStamps(f.transforms as FieldTransforms, producer) };
}

function pushesBackTo(f: TransformedField, written: CanonicalValue, sp: CanonicalValue): boolean {
  try {
    const t = f.transforms as FieldTransforms;
    return canonicalEquals(toCanonical(f.kind, toSharePointValue(t, written as PipelineValue, {})), sp);
  } catch {
    return false;
  }
}

/**
 * The ledger's pairs for transformed fields after a sync: a field Postgres was written for pairs the synced
 * value with what was written; a field whose row value maps to the synced value pairs it with the row's input.
 * A field neither covers gets no pair (the next read compares through the pipelines). `previous` (the entry's
 * pairs before this sync) carries the stamps of pairs that did not change; a new pair is stamped as made by the
 * direction that wrote it: `pull` where Postgres was written, otherwise `producer` (the run's direction).
 */
export function sourcePairs(
  fields: readonly TransformedField[],
  synced: CanonicalRecord | null,
  row: { values: Record<string, unknown>; canonical: CanonicalRecord } | null,
  written: Record<string, CanonicalValue>,
  previous: SourcePairs | null,
  producer: PipelineDirection,
): SourcePairs | null {
  if (!synced) return null;
  const out: SourcePairs = {};
  for (const field of fields) {
    // A field whose pipeline was removed keeps its pair while the sides still differ (pipelinesOf).
    const f = withPipelines(field, previous);
    if (!f?.transforms || !(f.target in synced)) continue;
    const sp = synced[f.target] ?? null;
    if (f.target in written) {
      // Pull wrote the push pipeline undone: paired only when pushing it back gives SharePoint's value, so
      // that a value SharePoint holds un-normalised (` abc ` under TRIM) is normalised by the next push.
      if (f.transforms.pull || pushesBackTo(f, written[f.target], sp))
        out[f.target] = stamped(f, { sp, pg: written[f.target] }, previous?.[f.target], 'pull');
    } else if (row && canonicalEquals(row.canonical[f.target], sp)) {
      try {
        const pg = sourceInput(f, row.values);
        // Without a pipeline, a Postgres value equal to SharePoint's needs no pair.
        if (!field.transforms && stableStringify(pg) === stableStringify(sp)) continue;
        out[f.target] = stamped(f, { sp, pg }, previous?.[f.target], producer);
      } catch {
        // A row value with no canonical form has no pair.
      }
    }
  }
  return Object.keys(out).length > 0 ? out : null;
}

/** Columns the push pipelines read besides the mapped ones (CONCAT): a run must read them too. */
export function pipelineColumns(fields: readonly Pick<FieldMapping, 'transform'>[]): string[] {
  return fields.flatMap((f) => (f.transform === undefined ? [] : parsePipeline(f.transform).columns));
}

/** Runs a pipeline on a value outside the engine (kept for callers of the array form). */
export function applyTransforms(spec: TransformSpec, value: unknown): unknown {
  return runPipeline(parsePipeline(spec), value as PipelineValue);
}

/** `entry` with the pairs its sides agree on under the current pipelines (agreedUnderCurrentPipelines). */
export function agreedEntry<
  E extends { syncedValues: CanonicalRecord | null; sourceValues?: SourcePairs | null },
>(
  fields: readonly TransformedField[],
  entry: E,
  values: Record<string, unknown>,
  sp: CanonicalRecord | null,
): E {
  const agreed = agreedUnderCurrentPipelines(fields, entry, values, sp);
  if (!agreed) return entry;
  return { ...entry, ...agreed, contentHash: contentHash(agreed.syncedValues) };
}

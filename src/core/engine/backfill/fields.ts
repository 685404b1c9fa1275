/** Which mapped fields a backfill re-syncs: names given by the user, checked against the definition. */
import type { SyncDefinition } from '../../definition/schema';
import type { ErrorKind } from '../../errors/kind';
import type { BackfillDirection, BackfillSpec, StoredBackfill } from '../../store/backfills';
import type { FieldPlan } from '../plan';
import { fieldTransforms, NO_PIPELINES } from '../transform';

/** A backfill asked for a field the definition does not map, or for none. */
export class UnknownBackfillFieldError extends Error {
  override readonly name = 'UnknownBackfillFieldError';
  readonly errorKind: ErrorKind = 'invalid_input';
  readonly hint: string;

  constructor(
    readonly definition: string,
    readonly field: string | null,
    readonly valid: string[],
  ) {
    super(
      field === null
        ? `Definition "${definition}": a backfill needs at least one field`
        : `Definition "${definition}" maps no field "${field}": name a SharePoint field or a source column of the definition`,
    );
    this.hint = `valid fields: ${valid.join(', ')}`;
  }
}

/** A field that does not flow in the backfill's direction (I9, and key fields are push-only, I13). */
export class BackfillDirectionError extends Error {
  override readonly name = 'BackfillDirectionError';
  readonly errorKind: ErrorKind = 'invalid_input';
  readonly hint: string;

  constructor(
    readonly definition: string,
    readonly field: string,
    readonly direction: BackfillDirection,
    why: string,
  ) {
    super(`Definition "${definition}": field "${field}" cannot be backfilled by ${direction}: ${why}`);
    const other = direction === 'push' ? 'pull' : 'push';
    this.hint = `leave "${field}" out, or backfill it with --direction ${other} if it flows that way`;
  }
}

/** A backfill of other fields (or another strategy or direction) is unfinished: it would lose its place. */
export class BackfillInProgressError extends Error {
  override readonly name = 'BackfillInProgressError';
  readonly errorKind: ErrorKind = 'invalid_input';
  readonly hint: string;

  constructor(
    readonly definition: string,
    readonly unfinished: StoredBackfill,
  ) {
    const u = unfinished;
    super(
      `Definition "${definition}" has an unfinished backfill of ${u.fields.join(', ')} (${u.strategy}, ` +
        `${u.direction}; ${u.counts.examined} ledger rows examined so far` +
        (u.waiting.length > 0
          ? `; ${u.waiting.length} row(s) wait for their conflicts to be resolved)`
          : ')'),
    );
    this.hint =
      `finish it with "arcore-sync backfill ${definition} --fields ${u.fields.join(',')} --strategy ${u.strategy} ` +
      `--direction ${u.direction}", or start this one over it with --restart`;
  }
}

/** `source (target)` for every mapped field, as error hints list them. */
function validNames(def: SyncDefinition): string[] {
  return def.fields.map((f) => `${f.target} (column ${f.source})`);
}

/**
 * The fields a name asks for: the field with that target (internal name); else every field mapping that source
 * column (a column may feed several targets: each is backfilled); an exact match wins over a case-insensitive
 * one, which must name one target or one column.
 */
function fieldsNamed(def: SyncDefinition, name: string): SyncDefinition['fields'] {
  const byTarget = def.fields.filter((f) => f.target === name);
  if (byTarget.length > 0) return byTarget;
  const bySource = def.fields.filter((f) => f.source === name);
  if (bySource.length > 0) return bySource;
  const lower = name.toLowerCase();
  const looseTargets = def.fields.filter((f) => f.target.toLowerCase() === lower);
  const looseSources = def.fields.filter((f) => f.source.toLowerCase() === lower);
  if (looseTargets.length === 1 && looseSources.every((f) => f === looseTargets[0])) return looseTargets;
  if (looseTargets.length === 0 && new Set(looseSources.map((f) => f.source)).size === 1) return looseSources;
  return [];
}

/**
 * The SharePoint internal names of the fields asked for, in definition order and without repeats. Each name
 * may be a field's target (internal name) or its source column (fieldsNamed). Fields that do not flow in the
 * direction asked are refused here, before anything runs.
 */
export function resolveBackfillFields(
  def: SyncDefinition,
  names: string[],
  direction: BackfillDirection,
): string[] {
  const wanted = names.map((n) => n.trim()).filter((n) => n.length > 0);
  if (wanted.length === 0) throw new UnknownBackfillFieldError(def.name, null, validNames(def));
  const chosen = new Set<string>();
  for (const name of wanted) {
    const named = fieldsNamed(def, name);
    if (named.length === 0) throw new UnknownBackfillFieldError(def.name, name, validNames(def));
    for (const field of named) {
      if (direction === 'push' && field.direction === 'PULL_ONLY')
        throw new BackfillDirectionError(def.name, field.target, direction, 'it is PULL_ONLY');
      if (direction === 'pull' && field.direction === 'PUSH_ONLY')
        throw new BackfillDirectionError(def.name, field.target, direction, 'it is PUSH_ONLY');
      // A pipeline that cannot be undone leaves a two-way field one way (engine/plan.ts): said before the run.
      const t = field.direction === 'BIDIRECTIONAL' ? fieldTransforms(field) : null;
      if (t?.oneWay === (direction === 'pull' ? 'PUSH_ONLY' : 'PULL_ONLY')) {
        const [name, lossy, from] =
          direction === 'pull' ? ['transform', t.push, 'Postgres'] : ['pullTransform', t.pull, 'SharePoint'];
        throw new BackfillDirectionError(
          def.name,
          field.target,
          direction,
          `its ${name} cannot be undone (${lossy?.lossyBecause ?? 'a step'}), so it flows from ${from} only`,
        );
      }
      if (direction === 'pull' && def.source.key.includes(field.source))
        throw new BackfillDirectionError(
          def.name,
          field.target,
          direction,
          `it maps key column "${field.source}", which flows from Postgres only`,
        );
      chosen.add(field.target);
    }
  }
  return def.fields.filter((f) => chosen.has(f.target)).map((f) => f.target);
}

/** The live check: SharePoint system and read-only columns are never written (I9), whatever the mapping says. */
export function assertFlowsInPlan(
  def: SyncDefinition,
  plan: FieldPlan,
  fields: string[],
  direction: BackfillDirection,
): void {
  for (const target of fields) {
    const f = plan.byTarget.get(target);
    if (!f) continue;
    if (direction === 'push' && !f.pushable)
      throw new BackfillDirectionError(
        def.name,
        target,
        direction,
        'SharePoint reports it as a system or read-only column',
      );
    if (direction === 'pull' && !f.pullable)
      throw new BackfillDirectionError(def.name, target, direction, 'it flows from Postgres only');
  }
}

/** Same fields (in any order), strategy and direction: a rerun continues the stored backfill. */
export function sameSpec(a: BackfillSpec, b: BackfillSpec): boolean {
  const fa = [...a.fields].sort();
  const fb = [...b.fields].sort();
  return (
    a.strategy === b.strategy &&
    a.direction === b.direction &&
    fa.length === fb.length &&
    fa.every((f, i) => f === fb[i])
  );
}

/** Per chosen field, the stamp of the pipeline the backfill's direction runs (none: NO_PIPELINES's). */
export function backfillPipelines(plan: FieldPlan, spec: BackfillSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const target of spec.fields) {
    const f = plan.byTarget.get(target);
    if (f) out[target] = (f.transforms ?? NO_PIPELINES).stamps[spec.direction];
  }
  return out;
}

/**
 * The chosen fields whose pipeline (in the backfill's direction) is not the one the stored backfill started
 * under: the rows it did so far were written under another, so running it again starts over (I14). A backfill
 * stored before the pipelines were recorded counts as started under none.
 */
export function changedPipelines(
  stored: Record<string, string> | null,
  now: Record<string, string>,
): string[] {
  return Object.keys(now).filter((f) => (stored?.[f] ?? NO_PIPELINES.stamps.push) !== now[f]);
}

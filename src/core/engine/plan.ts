import type { ErrorKind } from '../errors/kind';
import {
  CanonicalValueError,
  canonicalEquals,
  DEFAULT_SITE_TIME_ZONE,
  fieldKindFor,
  isWritableSharePointField,
  missingEnumChoices,
  toCanonical,
  type CanonicalRecord,
  type CanonicalValue,
  type FieldKind,
  type MappedColumn,
  type SpColumnInfo,
} from '../canonical';
import type { Direction, SyncDefinition } from '../definition/schema';
import type { SourceColumn } from '../definition/validateLive';
import { targetListLabel } from '../routing/lists';
import { appendOnlyProblem } from './appendOnly';
import type { SourcePairs } from '../store/ledger';
import { pipelineTypeOf, typeCheck } from '../transform/pipeline';
import type { PipelineType } from '../transform/steps';
import { fieldTransforms, transformedToCanonical, withPipelines, type FieldTransforms } from './transform';

/** One mapped field, resolved against both sides' live columns. */
export interface PlannedField {
  source: string;
  target: string;
  direction: Direction;
  kind: FieldKind;
  pg: SourceColumn;
  sp: SpColumnInfo;
  /** Push writes it: not PULL_ONLY and a writable SharePoint column (I9). */
  pushable: boolean;
  /** Pull writes it into Postgres: not PUSH_ONLY and not a key field (I9). */
  pullable: boolean;
  /** Maps a key column (`source.key`): push-only, an edit in SharePoint is a conflict (see buildFieldPlan). */
  key: boolean;
  /**
   * A row inserted for a new SharePoint item takes it from the item: pullable, a key field not declared PUSH_ONLY,
   * or a field push-only only because its pipeline cannot be undone (taken as it is rather than lost).
   */
  pulledOnInsert: boolean;
  transform: SyncDefinition['fields'][number]['transform'];
  pullTransform: SyncDefinition['fields'][number]['pullTransform'];
  /** Parsed pipelines; null when the field has none (its value maps as it is). */
  transforms: FieldTransforms | null;
  /** The Postgres side's kind: `kind` unless a pipeline changes the type (TZ, DATE, CONCAT…). */
  sourceKind: FieldKind;
  /** Push-only because its push pipeline cannot be undone: a SharePoint edit of it is a conflict Postgres wins. */
  oneWay: boolean;
  /** Push-only because Postgres cannot write the column (SourceColumn.updatable): an edit is a conflict Postgres wins. */
  computed: boolean;
}

export interface FieldPlan {
  fields: PlannedField[];
  byTarget: Map<string, PlannedField>;
  /** Target name → kind (and column), for toGraphFields / fromGraphFields. */
  columns: Map<string, MappedColumn>;
  /** Fields flowing both ways: where conflicts live. */
  shared: string[];
  /** Fields flowing Postgres → SharePoint (shared + push-only). */
  toSharePoint: string[];
  /** Fields flowing SharePoint → Postgres (shared + pull-only). */
  toPostgres: string[];
  /** Push-only because they map key columns: a SharePoint edit of one is a conflict Postgres wins (I13). */
  keyFields: string[];
  /** Push-only because their push pipeline cannot be undone: a SharePoint edit of one is a conflict Postgres wins. */
  oneWayFields: string[];
  /** Push-only because Postgres cannot write their columns (a view's computed column, a generated column). */
  computedFields: string[];
  keyKinds: Record<string, FieldKind>;
  /** Graph field names a delta or item read must select. */
  select: string[];
  warnings: string[];
}

export class MappingError extends Error {
  readonly errorKind: ErrorKind = 'invalid_definition';

  constructor(
    readonly definition: string,
    /** The problem without the definition's name (for a caller that lists several). */
    readonly detail: string,
  ) {
    super(`Definition "${definition}": ${detail}`);
    this.name = 'MappingError';
  }
}

/** The kinds of the key columns (FieldPlan.keyKinds): how a key is rendered into its identity hash. */
export function keyKindsOf(
  def: SyncDefinition,
  pgByName: ReadonlyMap<string, SourceColumn>,
): Record<string, FieldKind> {
  const keyKinds: Record<string, FieldKind> = {};
  for (const k of def.source.key) {
    const col = pgByName.get(k);
    if (!col) throw new MappingError(def.name, `source.key: column "${k}" does not exist`);
    try {
      keyKinds[k] = fieldKindFor(col, undefined);
    } catch {
      // A key of a type we do not sync as a field is still a key: rendered by its JS type.
    }
  }
  return keyKinds;
}

export function buildFieldPlan(
  def: SyncDefinition,
  pgColumns: SourceColumn[],
  spColumns: SpColumnInfo[],
  /** The list the columns are of, for messages (default: every list of the definition). */
  listName: string = targetListLabel(def),
): FieldPlan {
  const pgByName = new Map(pgColumns.map((c) => [c.name, c]));
  const spByName = new Map(spColumns.map((c) => [c.name, c]));
  const warnings: string[] = [];
  const fields: PlannedField[] = def.fields.map((f, i) => {
    const pg = pgByName.get(f.source);
    if (!pg)
      throw new MappingError(
        def.name,
        `fields[${i}].source: column "${f.source}" does not exist in ${def.source.schema}.${def.source.table}`,
      );
    const sp = spByName.get(f.target);
    if (!sp) {
      const byDisplay = spColumns.find((c) => c.displayName.toLowerCase() === f.target.toLowerCase());
      throw new MappingError(
        def.name,
        `fields[${i}].target: list "${listName}" has no column with internal name "${f.target}"` +
          (byDisplay
            ? ` (a column displayed as "${byDisplay.displayName}" has internal name "${byDisplay.name}")`
            : ''),
      );
    }
    const appendOnly = appendOnlyProblem(f, i, sp, listName);
    if (appendOnly) throw new MappingError(def.name, appendOnly);
    const transforms = fieldTransforms(f);
    for (const c of transforms?.push?.columns ?? [])
      if (!pgByName.has(c))
        throw new MappingError(
          def.name,
          `fields[${i}].transform: CONCAT reads column "${c}", which does not exist in ${def.source.schema}.${def.source.table}`,
        );
    const { kind, sourceKind } = transforms
      ? pipelineKinds(def.name, i, transforms, pg, sp)
      : { kind: fieldKindFor(pg, sp), sourceKind: fieldKindFor(pg, sp) };
    const missingChoices = missingEnumChoices(pg, sp);
    if (missingChoices) warnings.push(`fields[${i}]: ${missingChoices}`);
    const writable = isWritableSharePointField(f.target, kind, sp);
    if (f.direction !== 'PULL_ONLY' && !writable) {
      warnings.push(
        `fields[${i}]: "${f.target}" is a SharePoint system or read-only field; it is treated as PULL_ONLY and never written`,
      );
    }
    // A key column identifies the row: an edit of it in SharePoint would re-identify the row (or, applied, move
    // the pair to another row), so it flows from Postgres only. A column SharePoint never lets anyone write
    // (ID, a calculated column) cannot be edited there, so it keeps its pull-only direction.
    const key = writable && def.source.key.includes(f.source);
    if (key && f.direction !== 'PUSH_ONLY') {
      warnings.push(
        `fields[${i}]: "${f.target}" maps key column "${f.source}" and is treated as PUSH_ONLY (declared ${f.direction}): ` +
          'an edit of it in SharePoint is recorded as a conflict and Postgres keeps its value; declare it PUSH_ONLY ' +
          'to silence this warning',
      );
    }
    let direction: Direction = key ? 'PUSH_ONLY' : writable ? f.direction : 'PULL_ONLY';
    // A column Postgres cannot write (a view's computed column, a generated column): a SharePoint edit of it could
    // never be applied and would hold back every field edited with it. It flows from Postgres only: an edit of it in
    // SharePoint is a conflict Postgres wins, as for a key field; declared PULL_ONLY, it is not synced at all.
    const computed = !key && pg.updatable === false;
    if (computed && direction !== 'PUSH_ONLY')
      warnings.push(
        `fields[${i}]: "${f.source}" is a column Postgres cannot write (computed in the view, or generated)` +
          (direction === 'PULL_ONLY'
            ? ': declared PULL_ONLY, it is never synced; map it PUSH_ONLY or remove it'
            : `, so "${f.target}" is treated as PUSH_ONLY (declared ${f.direction}): an edit of it in SharePoint is ` +
              "recorded as a conflict and Postgres's value is written back; declare it PUSH_ONLY to silence this warning"),
      );
    if (computed && direction === 'BIDIRECTIONAL') direction = 'PUSH_ONLY';
    // A pipeline that cannot be undone leaves the field one way (validate warns about it).
    const oneWay = direction === 'BIDIRECTIONAL' && transforms?.oneWay === 'PUSH_ONLY';
    if (direction === 'BIDIRECTIONAL' && transforms?.oneWay) direction = transforms.oneWay;
    return {
      source: f.source,
      target: f.target,
      direction,
      kind,
      pg,
      sp,
      pushable: writable && direction !== 'PULL_ONLY',
      pullable: direction !== 'PUSH_ONLY' && !computed,
      key,
      pulledOnInsert:
        !computed && (direction !== 'PUSH_ONLY' || (key && f.direction !== 'PUSH_ONLY') || oneWay),
      computed: computed && writable && direction !== 'PULL_ONLY',
      transform: f.transform,
      pullTransform: f.pullTransform,
      transforms,
      sourceKind,
      oneWay,
    };
  });
  const keyKinds = keyKindsOf(def, pgByName);
  const select = new Set<string>();
  for (const f of fields)
    select.add(f.kind === 'lookupId' || f.kind === 'multiLookupId' ? `${f.target}LookupId` : f.target);
  select.add(def.target.keyColumn);
  const zone = def.target.siteTimeZone ?? DEFAULT_SITE_TIME_ZONE;
  return {
    fields,
    byTarget: new Map(fields.map((f) => [f.target, f])),
    columns: new Map<string, MappedColumn>(
      fields.map((f) => [
        f.target,
        f.kind === 'dateOnly' ? { kind: f.kind, sp: f.sp, siteTimeZone: zone } : { kind: f.kind, sp: f.sp },
      ]),
    ),
    shared: fields.filter((f) => f.pushable && f.pullable).map((f) => f.target),
    toSharePoint: fields.filter((f) => f.pushable).map((f) => f.target),
    toPostgres: fields.filter((f) => f.pullable).map((f) => f.target),
    keyFields: fields.filter((f) => f.key).map((f) => f.target),
    oneWayFields: fields.filter((f) => f.oneWay).map((f) => f.target),
    computedFields: fields.filter((f) => f.computed).map((f) => f.target),
    keyKinds,
    select: [...select],
    warnings,
  };
}

/**
 * Canonical values of a source row for every mapped field, keyed by target name (push pipelines applied). With
 * the pair's ledger entry, a transformed field whose Postgres input is the one recorded at the last sync keeps
 * its synced value (see transformedToCanonical).
 */
export function rowToCanonical(
  plan: FieldPlan,
  values: Record<string, unknown>,
  ledger?: { syncedValues: CanonicalRecord | null; sourceValues?: SourcePairs | null },
): CanonicalRecord {
  const out: CanonicalRecord = {};
  for (const f of plan.fields) {
    try {
      // A field whose pipeline was removed is read through its entry's pair too (transform.ts pipelinesOf).
      const through = ledger ? withPipelines(f, ledger.sourceValues) : f.transforms ? f : null;
      out[f.target] = through
        ? transformedToCanonical(through, values, ledger)
        : toCanonical(f.kind, values[f.source]);
    } catch (err) {
      throw err instanceof CanonicalValueError ? err.inField(f.source) : err;
    }
  }
  return out;
}

/** The type a SharePoint column holds, for a pipeline that changes the type. */
function spPipelineKind(sp: SpColumnInfo, type: PipelineType): FieldKind | null {
  if (type === 'text' && (sp.type === 'text' || sp.type === 'note' || sp.type === 'choice')) return sp.type;
  if (type === 'number' && (sp.type === 'number' || sp.type === 'currency')) return 'number';
  if (type === 'date' && sp.type === 'dateTime') return 'dateOnly';
  if (type === 'dateTime' && sp.type === 'dateTime') return sp.dateOnly === true ? 'dateOnly' : 'dateTime';
  return null;
}

/**
 * Kinds of both sides of a field with pipelines, type-checked against both columns: the push pipeline must end
 * with what the SharePoint column holds, the pull pipeline with what the Postgres column holds.
 */
export function pipelineKinds(
  definition: string,
  index: number,
  t: FieldTransforms,
  pg: SourceColumn,
  sp: SpColumnInfo,
): { kind: FieldKind; sourceKind: FieldKind } {
  let direct: FieldKind | null = null;
  try {
    direct = fieldKindFor(pg, sp);
  } catch {
    // The columns differ in type: only a pipeline that converts between them can map the field.
  }
  const sourceKind = direct ?? fieldKindFor(pg, undefined);
  const pgType = pipelineTypeOf(sourceKind);
  const fail = (path: string, message: string): never => {
    throw new MappingError(definition, `fields[${index}].${path}: ${message}`);
  };
  let spType = pgType;
  if (t.push) {
    const checked = typeCheck(t.push, pgType);
    if (checked.errors.length) fail('transform', checked.errors[0].message);
    spType = checked.output;
  }
  const kind = direct !== null && pipelineTypeOf(direct) === spType ? direct : spPipelineKind(sp, spType);
  if (kind === null) {
    return fail(
      t.push ? 'transform' : 'source',
      `the value ends as ${spType === 'other' ? 'a value of another type' : `a ${spType}`}, which SharePoint ${sp.type} ` +
        `column "${sp.name}" cannot hold`,
    );
  }
  if (t.pull) {
    const checked = typeCheck(t.pull, pipelineTypeOf(kind), pgType);
    if (checked.errors.length) fail('pullTransform', checked.errors[0].message);
  }
  return { kind, sourceKind };
}

export function pick(values: CanonicalRecord | null, fields: string[]): CanonicalRecord {
  const out: CanonicalRecord = {};
  for (const f of fields) out[f] = values?.[f] ?? null;
  return out;
}

export function differs(a: CanonicalRecord | null, b: CanonicalRecord | null, fields: string[]): string[] {
  return fields.filter(
    (f) => !canonicalEquals((a?.[f] ?? null) as CanonicalValue, (b?.[f] ?? null) as CanonicalValue),
  );
}

export function keyOf(def: SyncDefinition, values: Record<string, unknown>): unknown[] {
  return def.source.key.map((k) => values[k]);
}

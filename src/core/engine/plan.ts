import type { ErrorKind } from '../errors/kind';
import {
  CanonicalValueError,
  canonicalEquals,
  fieldKindFor,
  isWritableSharePointField,
  toCanonical,
  type CanonicalRecord,
  type CanonicalValue,
  type FieldKind,
  type MappedColumn,
  type SpColumnInfo,
} from '../canonical';
import type { Direction, SyncDefinition } from '../definition/schema';
import type { SourceColumn } from '../definition/validateLive';
import { applyTransforms } from './transform';

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
  /** Pull writes it into Postgres: not PUSH_ONLY (I9). */
  pullable: boolean;
  transform: SyncDefinition['fields'][number]['transform'];
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
  keyKinds: Record<string, FieldKind>;
  /** Graph field names a delta or item read must select. */
  select: string[];
  warnings: string[];
}

export class MappingError extends Error {
  readonly errorKind: ErrorKind = 'invalid_definition';

  constructor(
    readonly definition: string,
    message: string,
  ) {
    super(`Definition "${definition}": ${message}`);
    this.name = 'MappingError';
  }
}

export function buildFieldPlan(
  def: SyncDefinition,
  pgColumns: SourceColumn[],
  spColumns: SpColumnInfo[],
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
        `fields[${i}].target: list "${def.target.list}" has no column with internal name "${f.target}"` +
          (byDisplay
            ? ` (a column displayed as "${byDisplay.displayName}" has internal name "${byDisplay.name}")`
            : ''),
      );
    }
    const kind = fieldKindFor(pg, sp);
    const writable = isWritableSharePointField(f.target, kind, sp);
    if (f.direction !== 'PULL_ONLY' && !writable) {
      warnings.push(
        `fields[${i}]: "${f.target}" is a SharePoint system or read-only field; it is treated as PULL_ONLY and never written`,
      );
    }
    return {
      source: f.source,
      target: f.target,
      direction: writable ? f.direction : 'PULL_ONLY',
      kind,
      pg,
      sp,
      pushable: writable && f.direction !== 'PULL_ONLY',
      pullable: f.direction !== 'PUSH_ONLY',
      transform: f.transform,
    };
  });
  const keyKinds: Record<string, FieldKind> = {};
  for (const k of def.source.key) {
    const col = pgByName.get(k);
    if (!col) throw new MappingError(def.name, `source.key: column "${k}" does not exist`);
    try {
      keyKinds[k] = fieldKindFor(col, undefined);
    } catch {
      // A key of a type we do not sync as a field (e.g. an enum) is still a key: rendered by its JS type.
    }
  }
  const select = new Set<string>();
  for (const f of fields)
    select.add(f.kind === 'lookupId' || f.kind === 'multiLookupId' ? `${f.target}LookupId` : f.target);
  select.add(def.target.keyColumn);
  return {
    fields,
    byTarget: new Map(fields.map((f) => [f.target, f])),
    columns: new Map(fields.map((f) => [f.target, { kind: f.kind, sp: f.sp }])),
    shared: fields.filter((f) => f.pushable && f.pullable).map((f) => f.target),
    toSharePoint: fields.filter((f) => f.pushable).map((f) => f.target),
    toPostgres: fields.filter((f) => f.pullable).map((f) => f.target),
    keyKinds,
    select: [...select],
    warnings,
  };
}

/** Canonical values of a source row for every mapped field, keyed by target name (push transforms applied). */
export function rowToCanonical(plan: FieldPlan, values: Record<string, unknown>): CanonicalRecord {
  const out: CanonicalRecord = {};
  for (const f of plan.fields) {
    const raw = values[f.source];
    try {
      out[f.target] = toCanonical(f.kind, f.transform ? applyTransforms(f.transform, raw) : raw);
    } catch (err) {
      throw err instanceof CanonicalValueError ? err.inField(f.source) : err;
    }
  }
  return out;
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

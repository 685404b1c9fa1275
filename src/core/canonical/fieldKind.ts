import { UnsupportedMappingError } from './errors';
import type { FieldKind, PgColumnInfo, SpColumnInfo } from './types';

/*
 * Which Postgres types we sync, by information_schema udt_name. Arrays are '_' + element type.
 *   int8 maps to a SharePoint number, which is an IEEE double: integers beyond ±2^53 (9,007,199,254,740,992)
 *   lose precision there and come back rounded, so canonical values of int8 columns are doubles (I2).
 *   numeric likewise keeps only ~15–17 significant digits.
 */
const TEXT_TYPES: ReadonlySet<string> = new Set(['text', 'varchar']);
const SMALL_INTEGER_TYPES: ReadonlySet<string> = new Set(['int2', 'int4']);
const DOUBLE_TYPES: ReadonlySet<string> = new Set(['int8', 'numeric', 'float4', 'float8']);
const INTEGER_TYPES: ReadonlySet<string> = new Set(['int2', 'int4', 'int8']);
const TIMESTAMP_TYPES: ReadonlySet<string> = new Set(['timestamp', 'timestamptz']);
const JSON_TYPES: ReadonlySet<string> = new Set(['json', 'jsonb']);
const TEXT_ARRAY_TYPES: ReadonlySet<string> = new Set(['_text', '_varchar']);
const INTEGER_ARRAY_TYPES: ReadonlySet<string> = new Set(['_int2', '_int4', '_int8']);

/** The Postgres type as information_schema names it for errors: 'integer (int4)', 'ARRAY (_text)'. */
export function describePgType(pg: PgColumnInfo): string {
  return pg.dataType.toLowerCase() === pg.udtName.toLowerCase()
    ? pg.udtName
    : `${pg.dataType} (${pg.udtName})`;
}

function udtOf(pg: PgColumnInfo): string {
  return pg.udtName.toLowerCase();
}

function unsupported(pg: PgColumnInfo, sp: SpColumnInfo | undefined, reason: string): never {
  throw new UnsupportedMappingError(pg.name, describePgType(pg), sp?.name, reason);
}

function isEnumArray(pg: PgColumnInfo): boolean {
  return pg.enum !== undefined && pg.dataType.toUpperCase() === 'ARRAY';
}

/** The kind a column has when its SharePoint column is provisioned from the Postgres type. */
function provisionedKind(pg: PgColumnInfo): FieldKind {
  if (pg.enum) return isEnumArray(pg) ? 'multiChoice' : 'choice';
  const udt = udtOf(pg);
  if (TEXT_TYPES.has(udt)) return 'text';
  if (SMALL_INTEGER_TYPES.has(udt)) return 'integer';
  if (DOUBLE_TYPES.has(udt)) return 'number';
  if (udt === 'bool') return 'boolean';
  if (udt === 'date') return 'dateOnly';
  if (TIMESTAMP_TYPES.has(udt)) return 'dateTime';
  if (udt === 'uuid') return 'uuid';
  if (JSON_TYPES.has(udt)) return 'json';
  if (TEXT_ARRAY_TYPES.has(udt)) return 'multiChoice';
  if (INTEGER_ARRAY_TYPES.has(udt)) {
    return unsupported(
      pg,
      undefined,
      'an integer array maps only to an existing multi-value lookup or person column',
    );
  }
  return unsupported(pg, undefined, 'this Postgres type is not supported');
}

/**
 * The FieldKind of a mapped pair. `sp` undefined means the list column will be provisioned from the Postgres
 * type (see spColumnTypeForProvisioning). With `sp` given, the SharePoint column type decides where it
 * matters (choice vs text, note vs text, lookups, date-only), and combinations we cannot round-trip throw
 * UnsupportedMappingError.
 */
export function fieldKindFor(pg: PgColumnInfo, sp: SpColumnInfo | undefined): FieldKind {
  if (sp === undefined) return provisionedKind(pg);
  if (pg.enum) return enumKindFor(pg, sp);
  const udt = udtOf(pg);
  const mismatch = (expected: string): never =>
    unsupported(pg, sp, `a SharePoint ${sp.type} column needs a Postgres ${expected} column`);
  switch (sp.type) {
    case 'text':
      if (TEXT_TYPES.has(udt)) return 'text';
      if (udt === 'uuid') return 'uuid';
      if (JSON_TYPES.has(udt)) return 'json';
      return mismatch('text, varchar, uuid or json');
    case 'note':
      if (TEXT_TYPES.has(udt)) return 'note';
      if (JSON_TYPES.has(udt)) return 'json';
      return mismatch('text, varchar or json');
    case 'number':
    case 'currency':
      if (SMALL_INTEGER_TYPES.has(udt)) return 'integer';
      if (DOUBLE_TYPES.has(udt)) return 'number';
      return mismatch('smallint, integer, bigint, numeric, real or double precision');
    case 'boolean':
      if (udt === 'bool') return 'boolean';
      return mismatch('boolean');
    case 'dateTime':
      if (udt === 'date') return 'dateOnly';
      if (TIMESTAMP_TYPES.has(udt)) return sp.dateOnly === true ? 'dateOnly' : 'dateTime';
      return mismatch('date, timestamp or timestamptz');
    case 'choice':
      if (sp.allowMultiple === true) {
        if (TEXT_ARRAY_TYPES.has(udt)) return 'multiChoice';
        return mismatch('text[] or varchar[]');
      }
      if (TEXT_TYPES.has(udt)) return 'choice';
      return mismatch('text or varchar');
    case 'multiChoice':
      if (TEXT_ARRAY_TYPES.has(udt)) return 'multiChoice';
      return mismatch('text[] or varchar[]');
    case 'lookup':
    case 'person':
      if (sp.allowMultiple === true) {
        if (INTEGER_ARRAY_TYPES.has(udt)) return 'multiLookupId';
        return mismatch('smallint[], integer[] or bigint[] (item ids)');
      }
      if (INTEGER_TYPES.has(udt)) return 'lookupId';
      return mismatch('smallint, integer or bigint (an item id)');
    case 'calculated':
      return unsupported(pg, sp, 'calculated columns are read-only and their output type is not known here');
    case 'hyperlink':
      return unsupported(pg, sp, 'hyperlink columns cannot be written through Graph');
    case 'unknown':
      return unsupported(pg, sp, 'the SharePoint column type is not one we know how to sync');
    default: {
      const unknownType: never = sp.type;
      return unsupported(pg, sp, `unknown SharePoint column type ${String(unknownType)}`);
    }
  }
}

/** An enum goes into a choice column (its labels as choices) or a text column; an enum array into multi-choice. */
function enumKindFor(pg: PgColumnInfo, sp: SpColumnInfo): FieldKind {
  const multi = sp.type === 'multiChoice' || (sp.type === 'choice' && sp.allowMultiple === true);
  if (isEnumArray(pg)) {
    if (multi) return 'multiChoice';
    return unsupported(pg, sp, `an enum array needs a multi-choice SharePoint column, not ${sp.type}`);
  }
  if (sp.type === 'choice' && !multi) return 'choice';
  if (sp.type === 'text') return 'text';
  return unsupported(pg, sp, `an enum needs a single-choice or text SharePoint column, not ${sp.type}`);
}

/**
 * For an enum column mapped to an existing choice column: the enum labels the column does not offer, as a
 * message (a push of such a value would be refused by SharePoint), or null when every label is a choice.
 */
export function missingEnumChoices(pg: PgColumnInfo, sp: SpColumnInfo): string | null {
  if (!pg.enum || (sp.type !== 'choice' && sp.type !== 'multiChoice')) return null;
  const offered = new Set(sp.choices ?? []);
  const missing = pg.enum.labels.filter((l) => !offered.has(l));
  if (missing.length === 0) return null;
  return (
    `SharePoint column "${sp.name}" lacks the choice${missing.length === 1 ? '' : 's'} ${missing.map((m) => `"${m}"`).join(', ')} ` +
    `of enum ${pg.enum.schema}.${pg.enum.name}: add ${missing.length === 1 ? 'it' : 'them'} to the column's choices, ` +
    'or rows holding them are refused by SharePoint and parked'
  );
}

/** The type facet of a Graph columnDefinition, e.g. `{ "dateTime": { "format": "dateOnly" } }`. */
export type ProvisioningFacet =
  | { text: { allowMultipleLines?: boolean } }
  | { number: Record<string, never> }
  | { boolean: Record<string, never> }
  | { dateTime: { format: 'dateOnly' | 'dateTime' } }
  | {
      choice: {
        allowTextEntry: boolean;
        choices: string[];
        displayAs: 'checkBoxes' | 'dropDownMenu';
      };
    };

/**
 * The Graph columnDefinition facet that creates a SharePoint column matching a Postgres column, so that
 * fieldKindFor(pg, <the created column>) equals fieldKindFor(pg, undefined). uuid is kept in a text column,
 * json in a multi-line (note) column, text[] in a multi-select choice column that accepts any value, an enum in
 * a choice column offering exactly its labels in order (an enum array: the multi-select form of it).
 */
export function spColumnTypeForProvisioning(pg: PgColumnInfo): ProvisioningFacet {
  if (pg.enum) {
    return {
      choice: {
        allowTextEntry: false,
        choices: [...pg.enum.labels],
        displayAs: isEnumArray(pg) ? 'checkBoxes' : 'dropDownMenu',
      },
    };
  }
  const kind = provisionedKind(pg);
  switch (kind) {
    case 'text':
    case 'uuid':
      return { text: {} };
    case 'json':
      return { text: { allowMultipleLines: true } };
    case 'integer':
    case 'number':
      return { number: {} };
    case 'boolean':
      return { boolean: {} };
    case 'dateOnly':
      return { dateTime: { format: 'dateOnly' } };
    case 'dateTime':
      return { dateTime: { format: 'dateTime' } };
    case 'multiChoice':
      return { choice: { allowTextEntry: true, choices: [], displayAs: 'checkBoxes' } };
    default:
      return unsupported(pg, undefined, `no SharePoint column can be provisioned for kind ${kind}`);
  }
}

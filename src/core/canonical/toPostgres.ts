import { CanonicalValueError, UnsupportedMappingError } from './errors';
import { describePgType } from './fieldKind';
import { normalizeDecimalText } from './numbers';
import type { CanonicalValue, FieldKind, PgColumnInfo, PgEnumInfo } from './types';

/** SQL names for the casts of supported udt_names; arrays are '_' + element udt_name. */
const SQL_TYPE_NAMES: Readonly<Record<string, string>> = {
  text: 'text',
  varchar: 'varchar',
  int2: 'smallint',
  int4: 'integer',
  int8: 'bigint',
  numeric: 'numeric',
  float4: 'real',
  float8: 'double precision',
  bool: 'boolean',
  date: 'date',
  timestamp: 'timestamp',
  timestamptz: 'timestamptz',
  uuid: 'uuid',
  json: 'json',
  jsonb: 'jsonb',
};

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."enum"`: the enum type as a cast names it, wherever its schema is. */
export function enumTypeName(e: PgEnumInfo): string {
  return `${quoteIdent(e.schema)}.${quoteIdent(e.name)}`;
}

/** Integer ranges of Postgres integer types, checked here so the error names the value (I12). */
const INTEGER_RANGES: Readonly<Record<string, { min: bigint; max: bigint }>> = {
  int2: { min: -32768n, max: 32767n },
  int4: { min: -2147483648n, max: 2147483647n },
  int8: { min: -9223372036854775808n, max: 9223372036854775807n },
};

/** Which Postgres types (udt_name) each kind may be written into. */
const WRITABLE_TYPES: Readonly<Record<FieldKind, ReadonlySet<string>>> = {
  text: new Set(['text', 'varchar']),
  note: new Set(['text', 'varchar']),
  choice: new Set(['text', 'varchar']),
  number: new Set(['int2', 'int4', 'int8', 'numeric', 'float4', 'float8']),
  integer: new Set(['int2', 'int4', 'int8', 'numeric', 'float4', 'float8']),
  boolean: new Set(['bool']),
  dateTime: new Set(['timestamp', 'timestamptz']),
  dateOnly: new Set(['date', 'timestamp', 'timestamptz']),
  uuid: new Set(['uuid', 'text', 'varchar']),
  json: new Set(['json', 'jsonb']),
  multiChoice: new Set(['_text', '_varchar']),
  lookupId: new Set(['int2', 'int4', 'int8']),
  multiLookupId: new Set(['_int2', '_int4', '_int8']),
};

/**
 * The SQL cast a caller appends to `$n` so Postgres reads the parameter as the column's type
 * (`::timestamptz`, `::text[]`, `::double precision`). Varchar is cast without a length: assignment to the
 * column still enforces it.
 */
export function pgCastFor(pg: PgColumnInfo): string {
  const udt = pg.udtName.toLowerCase();
  const isArray = udt.startsWith('_');
  if (pg.enum) return `::${enumTypeName(pg.enum)}${pg.dataType.toUpperCase() === 'ARRAY' ? '[]' : ''}`;
  const sqlName = SQL_TYPE_NAMES[isArray ? udt.slice(1) : udt];
  if (sqlName === undefined) {
    throw new UnsupportedMappingError(
      pg.name,
      describePgType(pg),
      undefined,
      'this Postgres type is not supported',
    );
  }
  return `::${sqlName}${isArray ? '[]' : ''}`;
}

function integerText(kind: FieldKind, value: number, udt: string, column: string): string {
  if (!Number.isInteger(value)) {
    throw new CanonicalValueError(kind, value, `column ${column} (${udt}) holds only integers`);
  }
  const range = INTEGER_RANGES[udt];
  let exact = BigInt(value);
  // 2^63 is the double nearest to every int8 above 2^63 − 512: it is how SharePoint holds bigint's top
  // values, and the largest int8 reads back as exactly that double again.
  if (udt === 'int8' && exact === range.max + 1n) exact = range.max;
  if (exact < range.min || exact > range.max) {
    throw new CanonicalValueError(kind, value, `out of range for column ${column} (${udt})`);
  }
  return exact.toString();
}

/*
 * What Postgres refuses with no column named ("value too long for type character varying(5)", "numeric field
 * overflow") is checked here, so a parked row's message names the column and the value (I12).
 */

/**
 * varchar(n): a text of more than n characters (code points, as Postgres counts them) is refused, unless the excess
 * is spaces, which Postgres cuts off on assignment (the next read then holds the shorter text).
 */
function assertFitsLength(kind: FieldKind, value: CanonicalValue, text: string, pg: PgColumnInfo): void {
  const max = pg.maxLength;
  if (max === undefined || max === null || text.length <= max) return;
  const characters = [...text];
  if (characters.length <= max || characters.slice(max).every((c) => c === ' ')) return;
  throw new CanonicalValueError(
    kind,
    value,
    `${characters.length} characters, more than column ${pg.name} (varchar(${max})) holds`,
  );
}

/**
 * numeric(p, s): the value rounded to s decimals (halves away from zero, as Postgres rounds) must have fewer than
 * 10^p units of 10^-s, i.e. at most p - s digits before the point.
 */
function assertFitsNumeric(kind: FieldKind, value: number, pg: PgColumnInfo): void {
  const precision = pg.numericPrecision;
  const scale = pg.numericScale;
  if (precision === undefined || precision === null || scale === null || scale > precision) return;
  const decimal = normalizeDecimalText(String(Math.abs(value)));
  if (decimal === undefined) return;
  const [whole, fraction = ''] = decimal.split('.');
  const kept = `${whole}${fraction.slice(0, scale).padEnd(scale, '0')}`;
  const units = BigInt(kept) + (fraction.charCodeAt(scale) >= 53 /* 5 */ ? 1n : 0n);
  if (units < 10n ** BigInt(precision)) return;
  throw new CanonicalValueError(
    kind,
    value,
    `out of range for column ${pg.name} (numeric(${precision},${scale})): it holds at most ${precision - scale} ` +
      `digit${precision - scale === 1 ? '' : 's'} before the point`,
  );
}

/**
 * The parameter for a canonical null (I2: '' is null, [] is null): NULL, except in a NOT NULL column, which is
 * given the empty value null stands for, '' in a text column and '{}' in an array column, so that a field cleared
 * in SharePoint can reach a `text NOT NULL DEFAULT ''` column. Both read back as null, so the ledger, the next push
 * and the next pull see no change. Any other NOT NULL column has no empty value: Postgres refuses the NULL and the
 * row is parked with its message (I12).
 */
export function nullParam(pg: PgColumnInfo): unknown {
  if (pg.isNullable) return null;
  const udt = pg.udtName.toLowerCase();
  if (udt.startsWith('_') || pg.dataType.toUpperCase() === 'ARRAY') return [];
  if (udt === 'text' || udt === 'varchar') return '';
  return null;
}

/**
 * The parameter to bind when writing a canonical value into a Postgres column (used with pgCastFor):
 * dates as 'YYYY-MM-DD'; timestamps as ISO text ('…Z' for timestamptz; for timestamp without time zone the
 * UTC wall-clock time, matching how toCanonical reads it); json as its text; arrays as JS arrays; integers
 * as exact decimal text (bigint columns exceed JS precision); numbers into numeric as the shortest decimal
 * text that reads back as the same double. Postgres rounds a numeric beyond the column's scale, and real
 * keeps about 7 digits: the next read then canonicalises to the rounded value.
 */
export function toPgParam(kind: FieldKind, value: CanonicalValue, pg: PgColumnInfo): unknown {
  if (value === null) return nullParam(pg);
  if (pg.enum) return enumParam(kind, value, pg, pg.enum);
  const udt = pg.udtName.toLowerCase();
  if (!WRITABLE_TYPES[kind].has(udt)) {
    throw new UnsupportedMappingError(
      pg.name,
      describePgType(pg),
      undefined,
      `a ${kind} value cannot be written here`,
    );
  }
  const wrongShape = (expected: string): never => {
    throw new CanonicalValueError(kind, value, `expected a canonical ${expected} for column ${pg.name}`);
  };
  switch (kind) {
    case 'text':
    case 'note':
    case 'choice':
    case 'uuid':
    case 'json':
      if (typeof value !== 'string') return wrongShape('string');
      assertFitsLength(kind, value, value, pg);
      return value;
    case 'boolean':
      return typeof value === 'boolean' ? value : wrongShape('boolean');
    case 'number':
    case 'integer':
    case 'lookupId':
      if (typeof value !== 'number' || !Number.isFinite(value)) return wrongShape('finite number');
      if (udt in INTEGER_RANGES) return integerText(kind, value as number, udt, pg.name);
      if (udt === 'numeric') {
        assertFitsNumeric(kind, value as number, pg);
        return String(value);
      }
      return value;
    case 'dateTime':
      if (typeof value !== 'string') return wrongShape('timestamp string');
      return udt === 'timestamp' ? (value as string).replace('T', ' ').replace(/Z$/, '') : value;
    case 'dateOnly':
      return typeof value === 'string' ? value : wrongShape('YYYY-MM-DD string');
    case 'multiChoice':
      if (!Array.isArray(value) || !value.every((choice) => typeof choice === 'string'))
        return wrongShape('string array');
      for (const choice of value as string[]) assertFitsLength(kind, value, choice, pg);
      return [...value];
    case 'multiLookupId':
      if (!Array.isArray(value)) return wrongShape('array of item ids');
      return (value as unknown[]).map((id) =>
        typeof id === 'number'
          ? integerText(kind, id, udt.slice(1), pg.name)
          : wrongShape('array of item ids'),
      );
    default: {
      const unknownKind: never = kind;
      throw new TypeError(`unknown field kind ${String(unknownKind)}`);
    }
  }
}

/**
 * An enum (or enum array) parameter: every value must be one of the enum's labels, checked here so the parked
 * row's message names the allowed labels rather than Postgres's bare "invalid input value for enum".
 */
function enumParam(kind: FieldKind, value: CanonicalValue, pg: PgColumnInfo, e: PgEnumInfo): unknown {
  const isArray = pg.dataType.toUpperCase() === 'ARRAY';
  const fits = isArray ? kind === 'multiChoice' : kind === 'choice' || kind === 'text';
  if (!fits) {
    throw new UnsupportedMappingError(
      pg.name,
      describePgType(pg),
      undefined,
      `a ${kind} value cannot be written into enum${isArray ? ' array' : ''} ${e.schema}.${e.name}`,
    );
  }
  const values = isArray ? value : [value];
  if (!Array.isArray(values) || !values.every((v): v is string => typeof v === 'string')) {
    throw new CanonicalValueError(
      kind,
      value,
      `expected a canonical ${isArray ? 'string array' : 'string'} for column ${pg.name}`,
    );
  }
  const outside = values.filter((v) => !e.labels.includes(v));
  if (outside.length > 0) {
    throw new CanonicalValueError(
      kind,
      value,
      `${outside.map((v) => JSON.stringify(v)).join(', ')} is not a label of enum ${e.schema}.${e.name} ` +
        `(column ${pg.name}); allowed: ${e.labels.join(', ')}`,
    );
  }
  return isArray ? [...values] : values[0];
}

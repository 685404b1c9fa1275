import { z } from 'zod';
import { CanonicalValueError, MalformedGraphFieldsError, UnmappedFieldError } from './errors';
import { canonicalEquals } from './equality';
import { daysInMonth, fourDigitsAt, SHAREPOINT_MAX_YEAR, SHAREPOINT_MIN_YEAR, twoDigitsAt } from './temporal';
import { DEFAULT_SITE_TIME_ZONE, siteNoonOf } from './siteTimeZone';
import { fromGraphValue, isRememberedCanonicalJson, toCanonical, type GraphDayReading } from './toCanonical';
import type { CanonicalRecord, CanonicalValue, FieldKind, MappedColumn, SpColumnInfo } from './types';

/** Fields SharePoint maintains itself: never written, whatever a mapping says (I9). */
export const SHAREPOINT_SYSTEM_FIELDS: ReadonlySet<string> = new Set([
  'id',
  'ID',
  'ContentType',
  'Created',
  'Modified',
  'Author',
  'Editor',
  'AuthorLookupId',
  'EditorLookupId',
  '_UIVersionString',
  'Attachments',
  'Edit',
  'LinkTitle',
  'LinkTitleNoMenu',
  'ItemChildCount',
  'FolderChildCount',
  '_ComplianceFlags',
  '_ComplianceTag',
  '_ComplianceTagWrittenTime',
  '_ComplianceTagUserId',
  'AppAuthorLookupId',
  'AppEditorLookupId',
  '@odata.etag',
]);

// Compared without case: Graph matches field names case-insensitively, so 'created' is still Created.
const SYSTEM_FIELDS_LOWERCASE: ReadonlySet<string> = new Set(
  [...SHAREPOINT_SYSTEM_FIELDS].map((field) => field.toLowerCase()),
);

/** SharePoint column types Graph cannot write (calculated by definition; hyperlink writes fail, reported). */
const UNWRITABLE_COLUMN_TYPES: ReadonlySet<SpColumnInfo['type']> = new Set(['calculated', 'hyperlink']);

/** The key under which a field's value travels in Graph `fields`: lookups use `<name>LookupId`. */
export function graphFieldKey(name: string, kind: FieldKind): string {
  return kind === 'lookupId' || kind === 'multiLookupId' ? `${name}LookupId` : name;
}

/** I9: whether push may write this column at all. */
export function isWritableSharePointField(name: string, kind: FieldKind, sp?: SpColumnInfo): boolean {
  if (sp !== undefined && (sp.readOnly || sp.isSystem || UNWRITABLE_COLUMN_TYPES.has(sp.type))) return false;
  return (
    !SYSTEM_FIELDS_LOWERCASE.has(name.toLowerCase()) &&
    !SYSTEM_FIELDS_LOWERCASE.has(graphFieldKey(name, kind).toLowerCase())
  );
}

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/*
 * `YYYY-MM-DD` and `YYYY-MM-DDTHH:MM:SSZ` are checked by character, not by a pattern with groups: the matches were a
 * visible share of what a push allocates (issue 23.3). plainlyCanonical.test.ts holds them to the full check.
 */

/** `YYYY-MM-DD` at the start of `text` names a real calendar day inside SharePoint's years (1900–8900). */
function isStorableDayAt(text: string): boolean {
  if (text.charCodeAt(4) !== 45 /* - */ || text.charCodeAt(7) !== 45) return false;
  const year = fourDigitsAt(text, 0);
  const month = twoDigitsAt(text, 5);
  const day = twoDigitsAt(text, 8);
  if (year < SHAREPOINT_MIN_YEAR || year > SHAREPOINT_MAX_YEAR || month < 1 || month > 12 || day < 1)
    return false;
  return day <= daysInMonth(year, month);
}

function isCanonicalDateTime(text: string): boolean {
  if (text.length !== 20 || text.charCodeAt(10) !== 84 /* T */ || text.charCodeAt(19) !== 90 /* Z */)
    return false;
  if (text.charCodeAt(13) !== 58 /* : */ || text.charCodeAt(16) !== 58) return false;
  const hour = twoDigitsAt(text, 11);
  const minute = twoDigitsAt(text, 14);
  const second = twoDigitsAt(text, 17);
  return (
    hour >= 0 &&
    hour <= 23 &&
    minute >= 0 &&
    minute <= 59 &&
    second >= 0 &&
    second <= 59 &&
    isStorableDayAt(text)
  );
}

/** A choice SharePoint can store in a multi-choice field: a non-empty string without its delimiter `;#`. */
function isStorableChoice(choice: unknown): boolean {
  return typeof choice === 'string' && choice !== '' && !choice.includes(';#');
}

/**
 * Whether a value is plainly in canonical form, decided without canonicalising it again: `toGraphFields`
 * checks every value of every row it writes, and the full check (parse, re-render, compare) was a visible
 * share of a push's CPU. Only ever true where the full check accepts (a property test holds it to that);
 * false sends the value to the full check, which accepts it or gives its error.
 */
export function plainlyCanonical(kind: FieldKind, value: CanonicalValue): boolean {
  if (value === null || value === undefined) return true;
  switch (kind) {
    case 'text':
    case 'note':
    case 'choice':
      return typeof value === 'string' && value !== '';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return Number.isSafeInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'dateTime':
      return typeof value === 'string' && isCanonicalDateTime(value);
    case 'dateOnly':
      return typeof value === 'string' && value.length === 10 && isStorableDayAt(value);
    case 'uuid':
      return typeof value === 'string' && CANONICAL_UUID.test(value);
    case 'multiChoice':
      return Array.isArray(value) && value.length > 0 && value.every(isStorableChoice);
    case 'json':
      return typeof value === 'string' && isRememberedCanonicalJson(value);
    default:
      return false;
  }
}

/** Fails unless `value` is the canonical form of itself for `kind` (what `toCanonical` returns). */
export function assertCanonical(field: string, kind: FieldKind, value: CanonicalValue): void {
  if (plainlyCanonical(kind, value)) return;
  let normalised: CanonicalValue;
  try {
    normalised = toCanonical(kind, value);
  } catch (error) {
    if (error instanceof CanonicalValueError) throw error.inField(field);
    throw error;
  }
  if (!canonicalEquals(normalised, value)) {
    throw new CanonicalValueError(kind, value, 'not in canonical form (call toCanonical first)', field);
  }
}

/** Whether each column may be written, decided once per column object instead of once per row. */
const writableByColumn = new WeakMap<
  MappedColumn,
  { field: string; kind: FieldKind; sp?: SpColumnInfo; writable: boolean }
>();

function isWritableColumn(field: string, column: MappedColumn): boolean {
  const known = writableByColumn.get(column);
  if (known !== undefined && known.field === field && known.kind === column.kind && known.sp === column.sp) {
    return known.writable;
  }
  const writable = isWritableSharePointField(field, column.kind, column.sp);
  writableByColumn.set(column, { field, kind: column.kind, sp: column.sp, writable });
  return writable;
}

/**
 * The `fields` body of a Graph create (POST) or update (PATCH) for canonical values. Read-only and system
 * fields are left out (I9). Scalars: null clears the field. Multi-valued fields always carry their
 * `@odata.type` annotation (Graph rejects collection writes without it); null is written as [] so the
 * annotation stays valid, and [] is what null means for them canonically.
 */
export function toGraphFields(
  values: CanonicalRecord,
  columns: ReadonlyMap<string, MappedColumn>,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  // Keys, not entries: an entry pair per value was a visible share of what a push allocates (issue 23.3).
  for (const field of Object.keys(values)) {
    const value = values[field];
    const column = columns.get(field);
    if (column === undefined) throw new UnmappedFieldError(field);
    const { kind } = column;
    if (!isWritableColumn(field, column)) continue;
    assertCanonical(field, kind, value);
    const key = graphFieldKey(field, kind);
    switch (kind) {
      case 'dateOnly':
        // Noon of the day in the site's zone: SharePoint keeps the date of the instant in that zone (siteTimeZone.ts).
        body[key] =
          value === null ? null : siteNoonOf(value as string, column.siteTimeZone ?? DEFAULT_SITE_TIME_ZONE);
        break;
      case 'multiChoice':
        body[`${key}@odata.type`] = 'Collection(Edm.String)';
        body[key] = value ?? [];
        break;
      case 'multiLookupId':
        body[`${key}@odata.type`] = 'Collection(Edm.Int32)';
        body[key] = value ?? [];
        break;
      default:
        body[key] = value;
    }
  }
  return body;
}

/** Graph's `fields` object: a JSON object; anything else is a malformed response (I12). */
const graphFieldsSchema = z.record(z.string(), z.unknown());

/*
 * A plain object (what JSON.parse builds) is what the schema accepts: it skips the schema's per-key copy, which
 * showed in CPU profiles of pushes and pulls (every created or pulled item). Anything else goes through the
 * schema for its error.
 */
function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function parseFields(fields: unknown): Record<string, unknown> {
  const parsed = graphFieldsSchema.safeParse(fields);
  if (!parsed.success) throw new MalformedGraphFieldsError(parsed.error.message);
  return parsed.data;
}

function readMultiLookup(fields: Record<string, unknown>, name: string): unknown {
  // `XLookupId` when ids were selected; the expanded `X: [{LookupId, LookupValue}]` when the column was.
  const ids = fields[`${name}LookupId`];
  return ids !== undefined ? ids : fields[name];
}

/**
 * A date mapped to a date-and-time column (not date-only) is read as the day its instant falls on: SharePoint keeps
 * the instant written (noon) or picked, not a midnight (toCanonical.ts GraphDayReading).
 */
function dayReadingOf(kind: FieldKind, sp: SpColumnInfo | undefined): GraphDayReading {
  return kind === 'dateOnly' && sp?.type === 'dateTime' && sp.dateOnly !== true ? 'instant' : 'midnight';
}

/**
 * Canonical values of every column in `columns`, read from an item's Graph `fields`. A field absent from
 * `fields` is null: SharePoint omits empty values.
 */
export function fromGraphFields(
  fields: Record<string, unknown>,
  columns: ReadonlyMap<string, MappedColumn>,
): CanonicalRecord {
  const record = isPlainRecord(fields) ? fields : parseFields(fields);
  const values: CanonicalRecord = {};
  for (const [field, { kind, siteTimeZone, sp }] of columns) {
    const raw =
      kind === 'multiLookupId' ? readMultiLookup(record, field) : record[graphFieldKey(field, kind)];
    try {
      values[field] = fromGraphValue(kind, raw, siteTimeZone, dayReadingOf(kind, sp));
    } catch (error) {
      if (error instanceof CanonicalValueError) throw error.inField(field);
      throw error;
    }
  }
  return values;
}

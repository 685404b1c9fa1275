import { z } from 'zod';
import { CanonicalValueError, MalformedGraphFieldsError, UnmappedFieldError } from './errors';
import { canonicalEquals } from './equality';
import { fromGraphValue, toCanonical } from './toCanonical';
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

function assertCanonical(field: string, kind: FieldKind, value: CanonicalValue): void {
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
  for (const [field, value] of Object.entries(values)) {
    const column = columns.get(field);
    if (column === undefined) throw new UnmappedFieldError(field);
    const { kind, sp } = column;
    if (!isWritableSharePointField(field, kind, sp)) continue;
    assertCanonical(field, kind, value);
    const key = graphFieldKey(field, kind);
    switch (kind) {
      case 'dateOnly':
        // Noon UTC falls on the same calendar day in every site time zone from UTC−12 to UTC+11:59, so
        // SharePoint, which keeps the date of the instant in the site's zone, stores the intended day.
        body[key] = value === null ? null : `${value as string}T12:00:00Z`;
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
 * Canonical values of every column in `columns`, read from an item's Graph `fields`. A field absent from
 * `fields` is null: SharePoint omits empty values.
 */
export function fromGraphFields(
  fields: Record<string, unknown>,
  columns: ReadonlyMap<string, MappedColumn>,
): CanonicalRecord {
  const record = isPlainRecord(fields) ? fields : parseFields(fields);
  const values: CanonicalRecord = {};
  for (const [field, { kind }] of columns) {
    const raw =
      kind === 'multiLookupId' ? readMultiLookup(record, field) : record[graphFieldKey(field, kind)];
    try {
      values[field] = fromGraphValue(kind, raw);
    } catch (error) {
      if (error instanceof CanonicalValueError) throw error.inField(field);
      throw error;
    }
  }
  return values;
}

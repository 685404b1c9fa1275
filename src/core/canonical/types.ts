import { z } from 'zod';

export type CanonicalScalar = string | number | boolean;
export type CanonicalValue = null | CanonicalScalar | string[] | number[];
/** Keyed by target (SharePoint internal) name. */
export type CanonicalRecord = Record<string, CanonicalValue>;

/** How a mapped field's value is represented; decided from the Postgres column type and the SharePoint column. */
export type FieldKind =
  | 'text'
  | 'note'
  | 'number'
  | 'integer'
  | 'boolean'
  | 'dateTime'
  | 'dateOnly'
  | 'choice'
  | 'multiChoice'
  | 'uuid'
  | 'json'
  | 'lookupId'
  | 'multiLookupId';

export const FIELD_KINDS: readonly FieldKind[] = [
  'text',
  'note',
  'number',
  'integer',
  'boolean',
  'dateTime',
  'dateOnly',
  'choice',
  'multiChoice',
  'uuid',
  'json',
  'lookupId',
  'multiLookupId',
];

/** A Postgres enum type: where it lives (for casts) and its labels in their declared order. */
export interface PgEnumInfo {
  schema: string;
  name: string;
  labels: string[];
}

/** One row of information_schema.columns: data_type ('ARRAY', 'integer'…), udt_name ('int4', '_text'…). */
export interface PgColumnInfo {
  name: string;
  dataType: string;
  udtName: string;
  isNullable: boolean;
  numericScale: number | null;
  /** varchar(n) (or varchar(n)[]): n, the most characters a value holds; absent or null without a limit. */
  maxLength?: number | null;
  /** numeric(p, s): p, the most digits a value holds; absent or null for an unconstrained numeric. */
  numericPrecision?: number | null;
  /** The column's type, or its array element type, is this enum. */
  enum?: PgEnumInfo;
}

export type SpColumnType =
  | 'text'
  | 'note'
  | 'number'
  | 'currency'
  | 'dateTime'
  | 'boolean'
  | 'choice'
  | 'multiChoice'
  | 'lookup'
  | 'person'
  | 'calculated'
  | 'hyperlink'
  | 'unknown';

export interface SpColumnInfo {
  name: string;
  displayName: string;
  type: SpColumnType;
  readOnly: boolean;
  hidden: boolean;
  indexed: boolean;
  isSystem: boolean;
  choices?: string[];
  /**
   * Choice columns: whether values outside `choices` are taken (choiceColumn.allowTextEntry); undefined when Graph
   * did not say, which push takes as "maybe" (refusals.ts).
   */
  allowTextEntry?: boolean;
  dateOnly?: boolean;
  allowMultiple?: boolean;
  /** Single-line text: the most characters the column holds (SharePoint's default is 255). */
  maxLength?: number;
  /**
   * Multi-line text with "Append changes to existing text" (textColumn.appendChangesToExistingText): each write
   * adds an entry to the item's version history and the field reads empty (engine/appendOnly.ts).
   */
  appendOnly?: boolean;
}

/** What a caller knows about one mapped field when converting to or from Graph `fields`. */
export interface MappedColumn {
  kind: FieldKind;
  sp?: SpColumnInfo;
  /** dateOnly: the site's time zone its values are written and read in (`target.siteTimeZone`; default UTC). */
  siteTimeZone?: string;
}

/** Validates column metadata read from information_schema (outside data) before it decides a FieldKind. */
export const pgColumnInfoSchema: z.ZodType<PgColumnInfo> = z.object({
  name: z.string().min(1),
  dataType: z.string().min(1),
  udtName: z.string().min(1),
  isNullable: z.boolean(),
  numericScale: z.number().int().nonnegative().nullable(),
  maxLength: z.number().int().positive().nullable().optional(),
  numericPrecision: z.number().int().positive().nullable().optional(),
  enum: z
    .object({ schema: z.string().min(1), name: z.string().min(1), labels: z.array(z.string()) })
    .optional(),
});

export const spColumnTypeSchema: z.ZodType<SpColumnType> = z.enum([
  'text',
  'note',
  'number',
  'currency',
  'dateTime',
  'boolean',
  'choice',
  'multiChoice',
  'lookup',
  'person',
  'calculated',
  'hyperlink',
  'unknown',
]);

/** Validates SharePoint column metadata after the Graph adapter has mapped a columnDefinition onto it. */
export const spColumnInfoSchema: z.ZodType<SpColumnInfo> = z.object({
  name: z.string().min(1),
  displayName: z.string(),
  type: spColumnTypeSchema,
  readOnly: z.boolean(),
  hidden: z.boolean(),
  indexed: z.boolean(),
  isSystem: z.boolean(),
  choices: z.array(z.string()).optional(),
  allowTextEntry: z.boolean().optional(),
  dateOnly: z.boolean().optional(),
  allowMultiple: z.boolean().optional(),
  maxLength: z.number().int().positive().optional(),
});

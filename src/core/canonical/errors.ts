import type { ErrorKind } from '../errors/kind';
import type { FieldKind } from './types';

const PREVIEW_LIMIT = 80;

/** A short, printable rendering of an offending value for error messages (values can be large or binary). */
export function previewValue(value: unknown): string {
  let rendered: string;
  if (value === undefined) rendered = 'undefined';
  else if (typeof value === 'bigint') rendered = `${value}n`;
  else if (value instanceof Date)
    rendered = `Date(${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()})`;
  else if (typeof value === 'number') rendered = String(value);
  else {
    try {
      rendered = JSON.stringify(value) ?? String(value);
    } catch {
      rendered = String(value);
    }
  }
  return rendered.length > PREVIEW_LIMIT ? `${rendered.slice(0, PREVIEW_LIMIT)}…` : rendered;
}

/** A value that has no canonical form for its field kind (I2, I12): names the kind, the value and why. */
export class CanonicalValueError extends Error {
  override readonly name = 'CanonicalValueError';
  readonly errorKind: ErrorKind = 'data';
  readonly valuePreview: string;

  constructor(
    readonly kind: FieldKind,
    readonly value: unknown,
    readonly reason: string,
    readonly field?: string,
    /** Set when the value was refused for a Postgres column (`field` then names that column too). */
    readonly pgColumn?: string,
  ) {
    const preview = previewValue(value);
    super(`${field === undefined ? '' : `field ${field}: `}invalid ${kind} value ${preview}: ${reason}`);
    this.valuePreview = preview;
  }

  /** The same error, now naming the field it was found in. */
  inField(field: string): CanonicalValueError {
    return new CanonicalValueError(this.kind, this.value, this.reason, field);
  }

  /** The same error, now naming the Postgres column that cannot hold the value. */
  inPgColumn(column: string): CanonicalValueError {
    return new CanonicalValueError(this.kind, this.value, this.reason, column, column);
  }
}

/** A Postgres column and SharePoint column that cannot be synced as a pair (or a type we cannot handle). */
export class UnsupportedMappingError extends Error {
  override readonly name = 'UnsupportedMappingError';
  readonly errorKind: ErrorKind = 'invalid_definition';

  constructor(
    readonly pgColumn: string,
    readonly pgType: string,
    readonly spColumn: string | undefined,
    readonly reason: string,
  ) {
    super(
      `cannot map Postgres column ${pgColumn} (${pgType}) to ${
        spColumn === undefined ? 'a provisioned SharePoint column' : `SharePoint column ${spColumn}`
      }: ${reason}`,
    );
  }
}

/** A canonical record names a field the caller gave no column description for. */
export class UnmappedFieldError extends Error {
  override readonly name = 'UnmappedFieldError';

  constructor(readonly field: string) {
    super(`field ${field} has a value but no column mapping: refusing to guess how to serialise it`);
  }
}

/** A key column of a row is missing or has a value that cannot identify the row (I1). */
export class IdentityKeyError extends Error {
  override readonly name = 'IdentityKeyError';
  readonly errorKind: ErrorKind = 'data';

  constructor(
    readonly column: string,
    readonly valuePreview: string,
    readonly reason: string,
  ) {
    super(`key column ${column} value ${valuePreview}: ${reason}`);
  }
}

/** Graph returned an item whose `fields` is not a JSON object (I12). */
export class MalformedGraphFieldsError extends Error {
  override readonly name = 'MalformedGraphFieldsError';

  constructor(readonly detail: string) {
    super(`Graph item fields must be a JSON object: ${detail}`);
  }
}

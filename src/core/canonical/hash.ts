import { hash } from 'node:crypto';
import { IdentityKeyError, previewValue } from './errors';
import { JsonNumberText } from './jsonNumbers';
import { exactDecimalOfNumber, normalizeDecimalText } from './numbers';
import { formatInstantExact, instantOfDate, parseCalendarDate, parseInstant, type Fail } from './temporal';
import type { CanonicalRecord, FieldKind } from './types';

/**
 * JSON with object keys sorted (by UTF-16 code units) at every depth, so equal data always gives equal text.
 * Follows JSON.stringify otherwise (toJSON is honoured, undefined object members are left out, undefined
 * array elements become null) but refuses what JSON cannot represent faithfully: NaN, ±Infinity, bigint,
 * and a top-level undefined.
 */
export function stableStringify(value: unknown): string {
  const text = writeStable(value, '');
  if (text === undefined) throw new TypeError('stableStringify: the value has no JSON form (undefined)');
  return text;
}

/*
 * Built by string concatenation, with primitives tested before the toJSON lookup: it runs for every row a push
 * hashes, and map/join allocations showed in CPU profiles. Same output as before, byte for byte.
 */
function writeStable(value: unknown, key: string): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`stableStringify: ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'bigint':
      throw new TypeError('stableStringify: bigint has no JSON form');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      break;
  }
  if (value === null) return 'null';
  // A json number a double cannot hold (jsonNumbers.ts): its exact decimal text.
  if (value instanceof JsonNumberText) return value.text;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return writeStable((value as { toJSON: (key: string) => unknown }).toJSON(key), key);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let index = 0; index < value.length; index++) {
      if (index > 0) out += ',';
      out += writeStable(value[index], String(index)) ?? 'null';
    }
    return `${out}]`;
  }
  return writeMembers(value as Record<string, unknown>, false);
}

/**
 * Keys in UTF-16 code unit order, as Array.prototype.sort orders strings, sorted in place. Records hold a few
 * keys, where insertion sort needs no working copy: sort()'s copies were an eighth of what a push allocated
 * (issue 23.3). Larger key sets go to sort().
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 24) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i];
    let j = i - 1;
    while (j >= 0 && keys[j] > key) {
      keys[j + 1] = keys[j];
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

/** An object's members in sorted key order; with `skipNull`, members holding null are left out too. */
function writeMembers(record: Record<string, unknown>, skipNull: boolean): string {
  const keys = sortKeys(Object.keys(record));
  let out = '{';
  let first = true;
  for (const member of keys) {
    const item = record[member];
    if (skipNull && item === null) continue;
    const written = writeStable(item, member);
    if (written === undefined) continue;
    out += first ? '' : ',';
    out += quotedMember(member);
    out += written;
    first = false;
  }
  return `${out}}`;
}

/*
 * A member's `"key":`, rendered once per key: every row of a push hashes the same field names (issue 23.3). Bounded,
 * since json values bring keys of their own; past the bound the cache starts over.
 */
const quotedMembers = new Map<string, string>();
const QUOTED_MEMBERS_MAX = 4096;

function quotedMember(member: string): string {
  let quoted = quotedMembers.get(member);
  if (quoted === undefined) {
    if (quotedMembers.size >= QUOTED_MEMBERS_MAX) quotedMembers.clear();
    quoted = `${JSON.stringify(member)}:`;
    quotedMembers.set(member, quoted);
  }
  return quoted;
}

/**
 * SHA-256 (hex) over the stable JSON of a canonical record. Key order does not matter, and a field holding
 * null hashes like an absent field: SharePoint omits empty values, so "missing" and "null" are one state (I2).
 */
export function contentHash(values: CanonicalRecord): string {
  return sha256Hex(writeMembers(values, true));
}

/** One-shot `crypto.hash` (Node 20.12+): about twice as fast as a Hash object for texts of this size (issue 23.3). */
function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

/**
 * I1: a row's identity is its key values in definition order, rendered as a JSON array and hashed with
 * SHA-256. Unlike canonical values, key values are rendered *exactly*: a bigint key beyond 2^53 or a
 * timestamp key with microseconds must not collide with its neighbour. With `kinds` (by column name), values
 * of integer and number columns are normalised so 1, '1', '1.0' and 1n are one key, uuids are lowercased and
 * timestamps are rendered in UTC; without a kind, the JS type decides (so the number 1 and the string '1'
 * differ).
 */
export function identityOf(
  keyColumns: string[],
  row: Record<string, unknown>,
  kinds?: Readonly<Partial<Record<string, FieldKind>>>,
): { identity: string; hash: string } {
  if (keyColumns.length === 0) throw new IdentityKeyError('(none)', '', 'a key needs at least one column');
  const parts = keyColumns.map((column) => {
    if (!Object.prototype.hasOwnProperty.call(row, column)) {
      throw new IdentityKeyError(column, 'undefined', 'the row has no such column');
    }
    return renderKeyValue(column, row[column], kinds?.[column]);
  });
  const identity = `[${parts.join(',')}]`;
  return { identity, hash: sha256Hex(identity) };
}

function renderKeyValue(column: string, value: unknown, kind: FieldKind | undefined): string {
  const fail: Fail = (reason) => {
    throw new IdentityKeyError(column, previewValue(value), reason);
  };
  if (value === null || value === undefined) fail('a key value cannot be null');
  switch (kind) {
    case 'integer':
    case 'number':
    case 'lookupId':
      return renderNumericKey(value, fail);
    case 'uuid':
      if (typeof value !== 'string') fail('expected a uuid string');
      return JSON.stringify((value as string).toLowerCase());
    case 'dateTime':
      if (value instanceof Date) return JSON.stringify(formatInstantExact(instantOfDate(value, fail)));
      if (typeof value !== 'string') fail('expected a timestamp');
      return JSON.stringify(formatInstantExact(parseInstant(value as string, fail)));
    case 'dateOnly':
      if (typeof value !== 'string') fail('expected a YYYY-MM-DD date string');
      return JSON.stringify(parseCalendarDate(value as string, fail, true).text);
    case 'boolean':
      if (typeof value !== 'boolean') fail('expected a boolean');
      return String(value);
    default:
      return renderUntypedKey(value, fail);
  }
}

function renderNumericKey(value: unknown, fail: Fail): string {
  let decimal: string | undefined;
  if (typeof value === 'number') decimal = exactDecimalOfNumber(value);
  else if (typeof value === 'bigint') decimal = value.toString();
  else if (typeof value === 'string') decimal = normalizeDecimalText(value);
  if (decimal === undefined) return fail('expected a finite number or decimal text');
  return decimal;
}

function renderUntypedKey(value: unknown, fail: Fail): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
    case 'bigint':
      return renderNumericKey(value, fail);
    case 'boolean':
      return String(value);
    default:
      if (value instanceof Date) return JSON.stringify(formatInstantExact(instantOfDate(value, fail)));
      return fail('a key value must be a string, number, bigint, boolean or Date');
  }
}

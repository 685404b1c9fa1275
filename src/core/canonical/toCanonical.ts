import { z } from 'zod';
import { CanonicalValueError } from './errors';
import { stableStringify } from './hash';
import { JsonNumberText, parseJsonExactNumbers } from './jsonNumbers';
import { isDecimalText } from './numbers';
import { DEFAULT_SITE_TIME_ZONE, nearestSiteDay, siteDayOf } from './siteTimeZone';
import {
  assertSharePointRange,
  formatUtcSeconds,
  instantOfDate,
  isBareDate,
  parseCalendarDate,
  parseInstant,
  type CalendarDate,
  type Fail,
} from './temporal';
import type { CanonicalValue, FieldKind } from './types';

/*
 * I2: the one canonical form of every mapped value, whichever side it was read from. It is what SharePoint can
 * actually store, so a value written to SharePoint and read back canonicalises to the same thing.
 *
 * | kind          | canonical            | rules                                                       |
 * |---------------|----------------------|-------------------------------------------------------------|
 * | any           | null                 | null and undefined (a field SharePoint omitted) are null    |
 * | text, note,   | string               | '' → null: SharePoint returns no value for empty text.      |
 * | choice        |                      | Whitespace is kept as is; nothing is trimmed.               |
 * | number        | finite double        | numeric/int8 text → Number(), as SharePoint stores doubles: |
 * |               |                      | '12345678901234567890.123456' → 12345678901234567000;       |
 * |               |                      | bigints beyond 2^53 → the nearest double; -0 → 0;           |
 * |               |                      | NaN and ±Infinity rejected.                                 |
 * | integer       | safe integer         | '42' and 42 alike; a fraction is rejected; -0 → 0.          |
 * | boolean       | boolean              | also 't'/'f'/'true'/'false' in any case.                    |
 * | dateTime      | YYYY-MM-DDTHH:MM:SSZ | UTC, sub-seconds truncated (SharePoint keeps whole          |
 * |               |                      | seconds). Text without an offset (timestamp without time    |
 * |               |                      | zone) is read as UTC. Years outside 1900–8900 rejected.     |
 * | dateOnly      | YYYY-MM-DD           | From Postgres: the calendar date as written, never shifted  |
 * |               |                      | (a timestamp mapped to a date-only column keeps its date    |
 * |               |                      | part; a JS Date, which node-pg's default parser builds at   |
 * |               |                      | local midnight, gives its local date). From Graph: the      |
 * |               |                      | instant rounded to the nearest midnight of the site's time  |
 * |               |                      | zone (`target.siteTimeZone`, default UTC), ties to the      |
 * |               |                      | later day: SharePoint stores local midnight of the site's   |
 * |               |                      | zone, so an Auckland site reads 11:00Z the day before       |
 * |               |                      | (siteTimeZone.ts). A date in a date-and-time column is read |
 * |               |                      | as the day its instant falls on in that zone instead (the   |
 * |               |                      | noon written, or any hour a user picks, is that day).       |
 * |               |                      | Years outside 1900–8900 rejected.                           |
 * | uuid          | lowercase 8-4-4-4-12 | braces removed; '' → null (uuids live in a text column).    |
 * | json          | stable JSON text     | keys sorted at every depth, no whitespace; numbers exact    |
 * |               |                      | (one a double cannot hold is kept as plain decimal text,    |
 * |               |                      | jsonNumbers.ts). JSON null →                                |
 * |               |                      | null (SharePoint has one empty). A string is JSON text      |
 * |               |                      | (Graph notes; Postgres via pgTypeParsers); a string that    |
 * |               |                      | is not JSON, from Postgres, is a top-level JSON string as   |
 * |               |                      | node-pg's default parser delivers it; from Graph it is an   |
 * |               |                      | error. Other values are parsed JSON.                        |
 * | multiChoice   | string[], in order   | [] → null; null, '' and ';#' (SharePoint's delimiter)       |
 * |               |                      | elements rejected.                                          |
 * | lookupId      | positive integer     | "13" (Graph) and 13 alike.                                  |
 * | multiLookupId | number[], in order   | [{LookupId, LookupValue}], numbers or digit strings;        |
 * |               |                      | [] → null.                                                  |
 */

type Side = 'postgres' | 'graph';

/** A value as node-pg returns it (with or without pgTypeParsers) → its canonical form (I2). */
export function toCanonical(kind: FieldKind, value: unknown): CanonicalValue {
  return canonicalize(kind, value, 'postgres');
}

/**
 * How a dateOnly value read from Graph becomes a day: `midnight`, a date-only column's value (SharePoint's midnight
 * of the site's zone: the nearest midnight); `instant`, a date-and-time column's (the day the instant falls on).
 */
export type GraphDayReading = 'midnight' | 'instant';

/**
 * A value as Graph returns it inside an item's `fields` → its canonical form (I2). `siteTimeZone`: the zone a
 * date-only value is read in (siteTimeZone.ts); `dayReading`: how (GraphDayReading).
 */
export function fromGraphValue(
  kind: FieldKind,
  value: unknown,
  siteTimeZone: string = DEFAULT_SITE_TIME_ZONE,
  dayReading: GraphDayReading = 'midnight',
): CanonicalValue {
  return canonicalize(kind, value, 'graph', siteTimeZone, dayReading);
}

/** Why a helper refused a value; `canonicalize` turns it into the CanonicalValueError of the value it was given. */
class Refusal extends Error {}

/*
 * One `fail` for every value: a closure per value (capturing kind and value for the error) was a visible share of
 * what a push allocates, and a value is refused rarely (issue 23.3).
 */
const fail: Fail = (reason) => {
  throw new Refusal(reason);
};

function canonicalize(
  kind: FieldKind,
  value: unknown,
  side: Side,
  siteTimeZone: string = DEFAULT_SITE_TIME_ZONE,
  dayReading: GraphDayReading = 'midnight',
): CanonicalValue {
  if (value === null || value === undefined) return null;
  try {
    return canonicalValue(kind, value, side, siteTimeZone, dayReading);
  } catch (error) {
    if (error instanceof Refusal) throw new CanonicalValueError(kind, value, error.message);
    throw error;
  }
}

function canonicalValue(
  kind: FieldKind,
  value: unknown,
  side: Side,
  siteTimeZone: string,
  dayReading: GraphDayReading,
): CanonicalValue {
  switch (kind) {
    case 'text':
    case 'note':
    case 'choice':
      return canonicalText(value, fail);
    case 'number':
      return canonicalDouble(value, fail);
    case 'integer':
      return canonicalInteger(value, fail);
    case 'boolean':
      return canonicalBoolean(value, fail);
    case 'dateTime':
      return canonicalDateTime(value, fail);
    case 'dateOnly':
      return side === 'graph'
        ? dateOnlyFromGraph(value, siteTimeZone, dayReading, fail)
        : dateOnlyFromPostgres(value, fail);
    case 'uuid':
      return canonicalUuid(value, fail);
    case 'json':
      return canonicalJson(value, side, fail);
    case 'multiChoice':
      return canonicalChoices(value, fail);
    case 'lookupId':
      return canonicalLookupId(value, fail);
    case 'multiLookupId':
      return canonicalLookupIds(value, fail);
    default: {
      const unknownKind: never = kind;
      throw new TypeError(`unknown field kind ${String(unknownKind)}`);
    }
  }
}

function canonicalText(value: unknown, fail: Fail): string | null {
  if (typeof value !== 'string') fail('expected a string');
  return value === '' ? null : (value as string);
}

function canonicalDouble(value: unknown, fail: Fail): number {
  let result: number;
  if (typeof value === 'number') result = value;
  else if (typeof value === 'bigint') result = Number(value);
  else if (typeof value === 'string') {
    if (!isDecimalText(value)) fail('not a decimal number (NaN and Infinity cannot be stored)');
    result = Number(value);
  } else return fail('expected a number or decimal text');
  if (!Number.isFinite(result)) fail('SharePoint stores only finite numbers');
  return result === 0 ? 0 : result;
}

function canonicalInteger(value: unknown, fail: Fail): number {
  const result = canonicalDouble(value, fail);
  if (!Number.isSafeInteger(result)) fail('not an integer within ±2^53');
  return result;
}

function canonicalBoolean(value: unknown, fail: Fail): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const lowered = value.toLowerCase();
    if (lowered === 't' || lowered === 'true') return true;
    if (lowered === 'f' || lowered === 'false') return false;
  }
  return fail("expected a boolean or 't'/'f'/'true'/'false'");
}

function canonicalDateTime(value: unknown, fail: Fail): string {
  let epochSeconds: number;
  if (value instanceof Date) epochSeconds = instantOfDate(value, fail).epochSeconds;
  else if (typeof value === 'string') epochSeconds = parseInstant(value, fail).epochSeconds;
  else return fail('expected a timestamp string or Date');
  assertSharePointRange(epochSeconds, fail);
  return formatUtcSeconds(epochSeconds);
}

function dateOnlyFromPostgres(value: unknown, fail: Fail): string {
  let date: CalendarDate;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) fail('invalid Date');
    const year = String(value.getFullYear()).padStart(4, '0');
    const month = String(value.getMonth() + 1).padStart(2, '0');
    const day = String(value.getDate()).padStart(2, '0');
    date = parseCalendarDate(`${year}-${month}-${day}`, fail, false);
  } else if (typeof value === 'string') date = parseCalendarDate(value, fail, true);
  else return fail('expected a YYYY-MM-DD string or Date');
  assertSharePointRange(date.epochSeconds, fail);
  return date.text;
}

function dateOnlyFromGraph(
  value: unknown,
  siteTimeZone: string,
  dayReading: GraphDayReading,
  fail: Fail,
): string {
  if (typeof value !== 'string') fail('expected an ISO date-time string');
  const text = value as string;
  const dayOf = dayReading === 'instant' ? siteDayOf : nearestSiteDay;
  const epochSeconds = isBareDate(text)
    ? parseCalendarDate(text, fail, false).epochSeconds
    : dayOf(parseInstant(text, fail).epochSeconds, siteTimeZone, fail);
  assertSharePointRange(epochSeconds, fail);
  return formatUtcSeconds(epochSeconds).slice(0, 10);
}

const UUID_PATTERN =
  /^(?:\{([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))$/i;

function canonicalUuid(value: unknown, fail: Fail): string | null {
  if (typeof value !== 'string') fail('expected a uuid string');
  if (value === '') return null;
  const match = UUID_PATTERN.exec(value as string);
  if (match === null) return fail('not a uuid (expected 8-4-4-4-12 hexadecimal digits)');
  return (match[1] ?? match[2]).toLowerCase();
}

/**
 * The deepest json value synced. Canonical text, hashing and comparison recurse once per level, and real
 * documents stay far below this; a deeper value is refused (its row is parked) instead of overflowing the stack.
 */
export const MAX_JSON_DEPTH = 512;

/**
 * True when `value` nests arrays or objects more than `limit` levels. Recursive, but never deeper than `limit` + 1
 * calls, so any input is safe; without the work list of the iterative version, which allocated an entry per node
 * of every json value a push reads (issue 23.3).
 */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  return deeperThan(value, 0, limit);
}

function deeperThan(node: unknown, depth: number, limit: number): boolean {
  if (node === null || typeof node !== 'object' || node instanceof JsonNumberText) return false;
  if (depth + 1 > limit) return true;
  if (Array.isArray(node)) {
    for (const child of node) if (deeperThan(child, depth + 1, limit)) return true;
    return false;
  }
  const record = node as Record<string, unknown>;
  for (const key in record)
    if (Object.prototype.hasOwnProperty.call(record, key) && deeperThan(record[key], depth + 1, limit))
      return true;
  return false;
}

function canonicalJson(value: unknown, side: Side, fail: Fail): string | null {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = parseJsonExactNumbers(value);
    } catch {
      // node-pg's default json parser (without pgTypeParsers) hands over a top-level JSON string as a plain JS
      // string; text that is not JSON can only be that. A SharePoint note holding non-JSON is an error (I12).
      if (side === 'graph') fail('not valid JSON text');
      parsed = value;
    }
  }
  if (parsed === null) return null;
  if (nestedDeeperThan(parsed, MAX_JSON_DEPTH)) {
    fail(`nested more than ${MAX_JSON_DEPTH} levels deep (the limit for json values); refused`);
  }
  let text: string;
  try {
    text = stableStringify(parsed);
  } catch (error) {
    return fail(`not representable as JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  // 'null' (a value whose JSON form is null) is not the canonical form of the text 'null' (that is null).
  if (text !== 'null') rememberCanonicalJson(text);
  return text;
}

/*
 * Json texts this process produced as canonical, so that toGraphFields' check of a value it is about to write
 * (plainlyCanonical) need not parse and render it again: a push canonicalises a row's json, then checks it a
 * moment later (issue 23.3). Canonical json text is canonical of itself (rendering is idempotent), so a text
 * found here is canonical whoever asks. Bounded by characters held; long texts are not kept.
 */
const REMEMBERED_JSON_CHARS = 4_000_000;
/** Many tiny texts cost more in the set than in characters: the count is bounded too. */
const REMEMBERED_JSON_TEXTS = 20_000;
const LONGEST_REMEMBERED_JSON = 65_536;
const rememberedJson = new Set<string>();
let rememberedJsonChars = 0;

function rememberCanonicalJson(text: string): void {
  if (text.length > LONGEST_REMEMBERED_JSON || rememberedJson.has(text)) return;
  if (
    rememberedJsonChars + text.length > REMEMBERED_JSON_CHARS ||
    rememberedJson.size >= REMEMBERED_JSON_TEXTS
  ) {
    rememberedJson.clear();
    rememberedJsonChars = 0;
  }
  rememberedJson.add(text);
  rememberedJsonChars += text.length;
}

/** True when `text` is a json text canonicalJson produced lately (so canonical); false says nothing. */
export function isRememberedCanonicalJson(text: string): boolean {
  return rememberedJson.has(text);
}

function canonicalChoices(value: unknown, fail: Fail): string[] | null {
  if (!Array.isArray(value)) fail('expected an array of strings');
  const choices = value as unknown[];
  if (choices.length === 0) return null;
  return choices.map((choice, index) => {
    if (typeof choice !== 'string') fail(`element ${index} is not a string`);
    const text = choice as string;
    if (text === '') fail(`element ${index} is empty: SharePoint cannot store an empty choice`);
    if (text.includes(';#')) fail(`element ${index} contains ';#', SharePoint's multi-value delimiter`);
    return text;
  });
}

/** A lookup as Graph expands it: `{LookupId, LookupValue}`; LookupValue is a display label we do not sync. */
const expandedLookupSchema = z.object({ LookupId: z.union([z.number(), z.string()]) });

function lookupIdOf(value: unknown, fail: Fail, where: string): number {
  let candidate: unknown = value;
  if (typeof value === 'object' && value !== null) {
    const expanded = expandedLookupSchema.safeParse(value);
    if (!expanded.success) fail(`${where} is an object without a LookupId`);
    candidate = expanded.data?.LookupId;
  }
  let id: number;
  if (typeof candidate === 'number') id = candidate;
  else if (typeof candidate === 'string' && /^\d+$/.test(candidate)) id = Number(candidate);
  else return fail(`${where} is not an item id (a positive integer)`);
  if (!Number.isSafeInteger(id) || id < 1) fail(`${where} is not an item id (a positive integer)`);
  return id;
}

function canonicalLookupId(value: unknown, fail: Fail): number {
  return lookupIdOf(value, fail, 'the value');
}

function canonicalLookupIds(value: unknown, fail: Fail): number[] | null {
  if (!Array.isArray(value)) fail('expected an array of item ids');
  const ids = value as unknown[];
  if (ids.length === 0) return null;
  return ids.map((id, index) => lookupIdOf(id, fail, `element ${index}`));
}

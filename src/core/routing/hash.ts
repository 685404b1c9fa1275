import { stableStringify, type CanonicalValue } from '../canonical';

/*
 * hash(column) in a route condition: FNV-1a, 32 bits, over the UTF-8 bytes of the column's canonical text, as an
 * unsigned integer 0 … 4294967295. It depends on nothing but the value, so every process, version and platform
 * puts a row in the same bucket, and users can compute the bucket in SQL (docs/cli.md, "Routing").
 *
 * Canonical text of a value (its canonical form, I2, after the field's transforms):
 * - text, choice, uuid (lowercase), json (stable JSON), date (YYYY-MM-DD), timestamp (YYYY-MM-DDTHH:MM:SSZ):
 *   the string itself;
 * - numbers: the shortest decimal that reads back as the same double (JavaScript's String(n)): 42, -7, 1.5,
 *   1e+21; for integers up to 2^53 this is what Postgres prints for int2/int4/int8;
 * - booleans: true / false;
 * - multi-choice and multi-lookup: the JSON array, e.g. ["a","b"].
 * hash(null) is null.
 */

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a (32-bit) of the UTF-8 encoding of `text`, as an unsigned integer. */
export function fnv1a32(text: string): number {
  let h = FNV_OFFSET_BASIS;
  for (const byte of Buffer.from(text, 'utf8')) {
    h = Math.imul(h ^ byte, FNV_PRIME) >>> 0;
  }
  return h;
}

/** The text hash() reads for a canonical value (see above). */
export function canonicalText(value: Exclude<CanonicalValue, null>): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return stableStringify(value);
}

/** hash(column) of a canonical value: null stays null. */
export function routeHash(value: CanonicalValue): number | null {
  return value === null ? null : fnv1a32(canonicalText(value));
}

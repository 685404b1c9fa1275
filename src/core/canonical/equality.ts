import type { CanonicalValue } from './types';

/**
 * Equality of canonical values (I2, I3): scalars by ===, arrays element by element in order. A missing value
 * (undefined) equals null, because SharePoint omits empty fields.
 */
export function canonicalEquals(a: CanonicalValue | undefined, b: CanonicalValue | undefined): boolean {
  const left = a ?? null;
  const right = b ?? null;
  if (Array.isArray(left) || Array.isArray(right)) {
    if (!Array.isArray(left) || !Array.isArray(right) || left.length !== right.length) return false;
    return left.every((element, index) => element === right[index]);
  }
  return left === right;
}

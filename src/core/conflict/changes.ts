import { canonicalEquals } from '../canonical/equality';
import type { CanonicalRecord } from '../canonical/types';

export { canonicalEquals };

/**
 * The fields (of `fields`, in that order) whose canonical value in `current` differs from `base` (I3, I7).
 * A missing field is null. Without a base (never synced), the base is taken as empty, so every field that
 * holds a value counts as changed.
 */
export function changedFields(
  base: CanonicalRecord | null,
  current: CanonicalRecord,
  fields: string[],
): string[] {
  return fields.filter((field) => !canonicalEquals(base?.[field], current[field]));
}

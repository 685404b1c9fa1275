import type { PoolClient } from 'pg';
import { z } from 'zod';
import {
  listCursorTimes,
  readCursor,
  readListCursor,
  writeCursor,
  writeListCursor,
  type TargetFingerprint,
} from '../../store/cursors';
import type { ScopeList } from '../routing';
import type { RunScope } from '../runner';

/**
 * `{"error"}` entries a delta feed carried in place of items (I8, I12): how many, and for a change feed the link of
 * the first page that carried one, where the feed is read again once it ends (null for an enumeration, which
 * starts over instead).
 */
const unreadSchema = z.object({ entries: z.number().int().positive(), from: z.string().min(1).nullable() });
export type UnreadEntries = z.output<typeof unreadSchema>;

/**
 * Progress of a delta feed being applied: the next page's link, and for a full enumeration the id that
 * marks ledger entries seen in it (so a crash mid-enumeration resumes without forgetting what it saw); `unread`
 * once a page of the feed carried error entries, so a continuation still knows the feed is not whole.
 */
const progressSchema = z.object({
  link: z.string().min(1),
  enumeration: z.string().nullable(),
  unread: unreadSchema.optional(),
});
export type Progress = z.output<typeof progressSchema>;

export function parseProgress(raw: string | null): Progress | null {
  if (!raw) return null;
  try {
    const parsed = progressSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Whether a stored link, built for `fingerprint`, reads this list with every field the plan selects. */
export function linkCarriesPlan(
  fingerprint: TargetFingerprint | null,
  listId: string,
  select: string[],
): boolean {
  if (!fingerprint || fingerprint.listId !== listId) return false;
  const carried = new Set(fingerprint.select);
  return select.every((f) => carried.has(f));
}

/** The TARGET cursor of the scope's list: the definition's one, or the routed list's. */
export function readTargetCursor(scope: RunScope) {
  return scope.route
    ? readListCursor(scope.ctx.meta, scope.definitionId, scope.listId)
    : readCursor(scope.ctx.meta, scope.definitionId, 'TARGET');
}

export function writeTargetCursor(
  scope: RunScope,
  db: PoolClient | RunScope['ctx']['meta'],
  value: string | null,
  progress: string | null,
  fingerprint: TargetFingerprint | null,
): Promise<void> {
  return scope.route
    ? writeListCursor(db, scope.definitionId, scope.listId, value, progress, fingerprint)
    : writeCursor(db, scope.definitionId, 'TARGET', value, progress, fingerprint);
}

/**
 * A routed definition's lists in the order a pull reads them: those whose delta cursor was written least recently
 * first (never pulled before all), route order among equals. A run its time budget stops between lists leaves the
 * rest unwritten, so its continuation starts with them: in route order, a first list whose feed takes a whole budget
 * would starve the lists after it (I16).
 */
export async function leastRecentlyPulledFirst(scope: RunScope): Promise<ScopeList[]> {
  const times = await listCursorTimes(scope.ctx.meta, scope.definitionId);
  const at = (list: ScopeList) => times.get(list.listId)?.getTime() ?? Number.NEGATIVE_INFINITY;
  // Array.prototype.sort is stable: lists written at the same moment keep route order.
  return [...scope.lists].sort((a, b) => at(a) - at(b));
}

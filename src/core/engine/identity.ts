import { identityOf, stableStringify } from '../canonical';
import { describeKey } from '../source/postgres/keys';
import { quoteIdent, type SourceRow } from '../source/postgres/PostgresSource';
import { resolveParked, type ParkedFailure } from '../store/failures';
import type { FieldPlan } from './plan';
import type { RunScope } from './runner';

/** The parked-failure key of rows whose key holds NULL: one record per definition, kept while such rows exist. */
export const NULL_KEY_ITEM = 'null-key';

/** The park message for a row with NULL in a key column (I13): never synced, and why. */
export function nullKeyMessage(key: readonly string[], values: Record<string, unknown>): string {
  const nulls = key.filter((k) => values[k] === null || values[k] === undefined);
  return (
    `key column${nulls.length === 1 ? '' : 's'} ${nulls.join(', ')} ${nulls.length === 1 ? 'is' : 'are'} NULL ` +
    `on a row (other key values: ${describeKey(Object.fromEntries(key.filter((k) => !nulls.includes(k)).map((k) => [k, values[k]]))) || 'none'}): ` +
    'a row without a complete key is never synced; give it a value, or leave such rows out with a view'
  );
}

/** What a row holds, to tell the same row read twice (overlap window, retry) from two rows sharing a key. */
function fingerprint(row: SourceRow): string | null {
  try {
    return stableStringify({ values: row.values, cursor: row.cursor });
  } catch {
    return null;
  }
}

export interface DuplicateIdentity<T> {
  hash: string;
  identity: Record<string, unknown>;
  rows: T[];
  message: string;
}

/**
 * Splits a page's rows by identity (I13). The same row read twice keeps one copy; two different rows with
 * one key are a genuine duplicate: all of them are returned apart, to be parked, and none is written.
 */
export function splitDuplicateIdentities<
  T extends { hash: string; identity: Record<string, unknown>; row: SourceRow },
>(rows: T[]): { unique: T[]; duplicates: DuplicateIdentity<T>[] } {
  const groups = new Map<string, T[]>();
  for (const r of rows) {
    const group = groups.get(r.hash);
    if (group) group.push(r);
    else groups.set(r.hash, [r]);
  }
  const unique: T[] = [];
  const duplicates: DuplicateIdentity<T>[] = [];
  for (const [hash, group] of groups) {
    if (group.length === 1) {
      unique.push(group[0]);
      continue;
    }
    // Only a key read more than once is fingerprinted: serialising every row of every page costs CPU per row.
    const distinct = new Set(group.map((r) => fingerprint(r.row)));
    if (distinct.size === 1 && !distinct.has(null)) {
      unique.push(group[0]);
      continue;
    }
    duplicates.push({
      hash,
      identity: group[0].identity,
      rows: group,
      message: sharedKeyMessage(group.length, group[0].identity),
    });
  }
  return { unique, duplicates };
}

/** Per run: the keys it parked as held by several rows (I13). */
const parkedShared = new WeakMap<RunScope, Set<string>>();

/**
 * Whether this run has yet to park `hash` as a key several rows hold. Its rows may be met on several pages (and
 * by the retry): each is failed, but the key is parked once per run, so that its retry backs off per run, not
 * per page.
 */
export function firstSharedPark(scope: RunScope, hash: string): boolean {
  let parked = parkedShared.get(scope);
  if (!parked) parkedShared.set(scope, (parked = new Set()));
  if (parked.has(hash)) return false;
  parked.add(hash);
  return true;
}

/** The park message of a key several rows hold (I13): the key, how many rows, what to do. */
export function sharedKeyMessage(rows: number, identity: Record<string, unknown>): string {
  return (
    `${rows} different rows share the key ${describeKey(identity)}: none of them is synced until the key ` +
    'identifies one row (make it unique, or fix the duplicated rows)'
  );
}

/**
 * Splits a page's rows, each key once (after splitDuplicateIdentities), by whether the whole relation holds
 * their key more than once (I13). Only where nothing enforces the key (a view): a row of another page, or one
 * added after the key was synced, shares it unseen by the page. One query per page; a table pays none.
 */
export async function splitSharedKeys<
  T extends { hash: string; key: unknown[]; identity: Record<string, unknown> },
>(
  scope: RunScope,
  rows: T[],
  duplicates: DuplicateIdentity<unknown>[],
): Promise<{ unique: T[]; shared: DuplicateIdentity<T>[] }> {
  if (!scope.keyUnenforced || (rows.length === 0 && duplicates.length === 0))
    return { unique: rows, shared: [] };
  const keys = [
    ...rows.map((r) => r.key),
    ...duplicates.map((d) => scope.def.source.key.map((k) => d.identity[k])),
  ];
  const held = new Map<string, number>();
  for (const { key, rows: count } of await scope.source.keysHeldTwice(keys))
    held.set(identityOf(scope.def.source.key, key, scope.plan.keyKinds).hash, count);
  // Rows met on the page, but more of them in the relation: the message says how many hold the key.
  for (const d of duplicates) {
    const count = held.get(d.hash) ?? 0;
    if (count > d.rows.length) d.message = sharedKeyMessage(count, d.identity);
  }
  const unique: T[] = [];
  const shared: DuplicateIdentity<T>[] = [];
  for (const r of rows) {
    const count = held.get(r.hash);
    if (count === undefined) unique.push(r);
    else
      shared.push({
        hash: r.hash,
        identity: r.identity,
        rows: [r],
        message: sharedKeyMessage(count, r.identity),
      });
  }
  return { unique, shared };
}

/**
 * The NULL-key record stays parked while a row with a NULL key column exists, and is resolved once none does
 * (those rows are never read again by key, so the ordinary retry cannot tell).
 */
export async function settleNullKeys(scope: RunScope, due: ParkedFailure[]): Promise<void> {
  if (!due.some((f) => f.itemKey === NULL_KEY_ITEM)) return;
  const anyNull = scope.def.source.key.map((k) => `${quoteIdent(k)} IS NULL`).join(' OR ');
  const { rowCount } = await scope.sourcePool.query(
    `SELECT 1 FROM ${scope.source.qualified} WHERE ${anyNull} LIMIT 1`,
  );
  if (rowCount === 0) await resolveParked(scope.ctx.meta, scope.definitionId, 'PUSH', [NULL_KEY_ITEM]);
}

/**
 * Rows read by key, by their identity hash, and how many rows each identity has: more than one only where nothing
 * enforces the key (a view, I13), and then no row of it stands for the pair.
 */
export function rowsByIdentity(
  scope: Pick<RunScope, 'def'> & { plan: Pick<FieldPlan, 'keyKinds'> },
  rows: readonly SourceRow[],
): { rowByHash: Map<string, SourceRow>; heldBy: Map<string, number> } {
  const rowByHash = new Map<string, SourceRow>();
  const heldBy = new Map<string, number>();
  for (const r of rows) {
    const hash = identityOf(scope.def.source.key, r.values, scope.plan.keyKinds).hash;
    heldBy.set(hash, (heldBy.get(hash) ?? 0) + 1);
    rowByHash.set(hash, r);
  }
  return { rowByHash, heldBy };
}

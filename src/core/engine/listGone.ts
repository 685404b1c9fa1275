/**
 * I15 where a run meets "not found". A run resolves its lists through a per-process cache (runner.ts), so a list
 * deleted and re-created (by a user, or another instance's provision) inside that window is met only as 404s: of
 * items written, read, deleted, or of the pull's delta feed. Read as items deleted in SharePoint, they would delete
 * rows, record false conflicts and create second items. So before a "not found" decides anything, the run asks
 * once per list whether the list itself still stands (one GET, only on that path); when it does not, the run
 * drops its cached resolution and fails with the error its start would give, having written nothing from them.
 */
import { errorKindOf } from '../errors/classify';
import type { ErrorKind } from '../errors/kind';
import { isRouted, targetListLabel } from '../routing/lists';
import type { SharePointTarget, WriteOutcome } from '../target/sharepoint';
import { ListReplacedError } from './listIdentity';
import { forgetResolution, type RunScope } from './runner';

/** A list the run's ledger points at is gone, and no list of its name stands in its place (I15). */
export class ListGoneError extends Error {
  readonly errorKind: ErrorKind = 'not_found';
  readonly hint: string;

  constructor(
    readonly definition: string,
    readonly list: string,
    readonly listId: string,
  ) {
    super(
      `Definition "${definition}": list ${listId} ("${list}"), which this definition synced with, is gone (deleted, ` +
        'or replaced). Nothing was written from the items it no longer has.',
    );
    this.name = 'ListGoneError';
    this.hint =
      `create the list again with "arcore-sync provision ${definition}" (or restore it), then run ` +
      `"npx arcore-sync relink ${definition}": relink adopts the current list's items by their hidden key column ` +
      'and the next push creates the rest';
  }
}

/**
 * What a run learnt of a list whose item was not found: it stands (the item is what is missing), or it is a list
 * the definition no longer syncs with (a former route) and is gone, its items with it.
 */
export type ListStanding = 'stands' | 'retired-gone';

/** Per run (its target instance): lists confirmed to stand, and retired lists found gone, since the run began. */
const standing = new WeakMap<SharePointTarget, Map<string, ListStanding>>();

/**
 * Confirms that list `listId` still stands before an item of it not found is taken for a deleted item. Throws
 * ListReplacedError (its name now resolves to another list) or ListGoneError (nothing of its name stands) after
 * dropping the process's cached resolution. A list the definition no longer routes to (retired by a routes change,
 * or the routes left for one list) that is gone answers 'retired-gone': nothing is ever written to it again and no
 * list stands in for it, so its items are gone, which is what the moves and deletes of its rows want (I15 is about
 * the lists a run syncs with).
 */
export async function confirmListStands(scope: RunScope, listId: string): Promise<ListStanding> {
  const { target, siteId, def } = scope;
  let seen = standing.get(target);
  if (!seen) standing.set(target, (seen = new Map()));
  const known = seen.get(listId);
  if (known) return known;
  if ((await readListId(target, siteId, listId)) !== null) {
    seen.set(listId, 'stands');
    return 'stands';
  }
  const list = scope.lists.find((l) => l.listId === listId);
  if (!list) {
    scope.ctx.log.info(
      `${def.name}: list ${listId}, which this definition no longer routes to, is gone; its items are taken as ` +
        'deleted with it',
    );
    seen.set(listId, 'retired-gone');
    return 'retired-gone';
  }
  await throwListGone(scope.ctx, target, siteId, def, list.name, listId);
  // It answered by name after all (a passing 404): it stands, and the items are what was not found.
  seen.set(listId, 'stands');
  return 'stands';
}

/**
 * Throws ListReplacedError or ListGoneError for list `listId` (named `listName` in the definition) after dropping
 * the process's cached resolution; returns when the name still resolves to that list after all (a passing 404).
 */
async function throwListGone(
  ctx: RunScope['ctx'],
  target: SharePointTarget,
  siteId: string,
  def: RunScope['def'],
  listName: string,
  listId: string,
): Promise<void> {
  forgetResolution(ctx, def);
  const label = isRouted(def) ? listName : targetListLabel(def);
  const now = await readListId(target, siteId, listName);
  if (now === listId) return;
  throw now === null
    ? new ListGoneError(def.name, label, listId)
    : new ListReplacedError(def.name, label, listId, now);
}

/**
 * I15 for the commands that read a list outside a run (verify, relink): rethrows `err`, or, when it is a 404 and
 * list `listId` no longer answers, the error a run would give (gone, or replaced, with the next step), so a list
 * deleted while the command read it is named as such rather than as an item or page not found.
 */
export async function rethrowIfListGoneOutsideRun(
  ctx: RunScope['ctx'],
  target: SharePointTarget,
  siteId: string,
  def: RunScope['def'],
  list: { name: string; listId: string },
  err: unknown,
): Promise<never> {
  if (errorKindOf(err) === 'not_found' && (await readListId(target, siteId, list.listId)) === null)
    await throwListGone(ctx, target, siteId, def, list.name, list.listId);
  throw err;
}

/** Confirms each list whose write met a not_found outcome (see confirmListStands). */
export async function confirmListsOfNotFound(
  scope: RunScope,
  listId: string,
  outcomes: Iterable<WriteOutcome>,
): Promise<ListStanding> {
  for (const o of outcomes) {
    if (o.status === 'not_found') return confirmListStands(scope, listId);
  }
  return 'stands';
}

/**
 * For a 404 of a list-wide read (items by a field): no items when the list is a retired one that is gone (see
 * confirmListStands); otherwise as rethrowUnlessListGone.
 */
export async function noItemsIfRetiredGone(scope: RunScope, listId: string, err: unknown): Promise<[]> {
  if (errorKindOf(err) === 'not_found' && (await confirmListStands(scope, listId)) === 'retired-gone')
    return [];
  return rethrowUnlessListGone(scope, listId, err);
}

/** Rethrows `err` unless it says the list is gone (then the I15 error): for a 404 of a list-wide request. */
export async function rethrowUnlessListGone(scope: RunScope, listId: string, err: unknown): Promise<never> {
  if (errorKindOf(err) === 'not_found') await confirmListStands(scope, listId);
  throw err;
}

/** The id of the list `ref` (GUID or name) names now, or null when none answers (404). */
async function readListId(target: SharePointTarget, siteId: string, ref: string): Promise<string | null> {
  try {
    return (await target.readList(siteId, ref)).id;
  } catch (err) {
    if (errorKindOf(err) === 'not_found') return null;
    throw err;
  }
}

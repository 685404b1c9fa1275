import { CanonicalValueError } from '../../canonical';
import { causeChain } from '../../errors/classify';
import { dueFailures } from '../../store/failures';
import type { DeltaEntry } from '../../target/sharepoint';
import type { RunScope } from '../runner';
import { confirmListStands } from '../listGone';

/**
 * The key a pulled item is parked under: its id, qualified by its list for a routed definition (item ids are
 * only unique within a list).
 */
export function parkKey(
  scope: Pick<RunScope, 'route' | 'listId'>,
  itemId: string,
  listId = scope.listId,
): string {
  return scope.route ? `${listId}/${itemId}` : itemId;
}

/**
 * What a parked pull item's record says: Postgres's words for a refusal. A SharePoint value with no canonical form
 * for its column (2.5 for an integer column, I2), or one its Postgres column cannot hold (too long for a varchar(n),
 * too large for a numeric(p, s), not a label of its enum), names the field and the value, and says what to do:
 * nothing the engine does makes such a value fit, so the item stays parked until someone changes it (I12).
 */
export function pullFailureMessage(
  scope: Pick<RunScope, 'plan' | 'def'>,
  itemId: string,
  err: unknown,
): string {
  const message = err instanceof Error ? err.message : String(err);
  if (!(err instanceof CanonicalValueError) || err.field === undefined) {
    const step = refusalStep(scope, itemId, err);
    return step ? `item ${itemId}: ${message}. Next step: ${step}; ${RETRIED}` : `item ${itemId}: ${message}`;
  }
  // A SharePoint value with no canonical form names its SharePoint column; a value Postgres cannot hold (toPgParam,
  // via PostgresSource.param) names its Postgres column.
  const mapped =
    err.pgColumn === undefined
      ? scope.plan.fields.find((f) => f.target === err.field)
      : scope.plan.fields.find((f) => f.source === err.pgColumn);
  const spField = mapped?.target ?? err.field;
  return (
    `item ${itemId}: ${message}. Next step: change ${spField} of item ${itemId} in SharePoint to a value ` +
    `${mapped === undefined ? 'its column' : `Postgres column ${mapped.source}`} can hold (${err.kind}); ` +
    RETRIED
  );
}

const RETRIED = 'the item is retried by the next pulls';

/**
 * The next step for a row Postgres refused by one of its constraints (SQLSTATE class 23) or for a value its column
 * cannot hold (22001, 22003), naming the field of the item to change; null for any other error, whose own words
 * stand alone (a trigger's exception says what it wants).
 */
function refusalStep(scope: Pick<RunScope, 'plan'>, itemId: string, err: unknown): string | null {
  const pgError = causeChain(err).find((e) =>
    /^2[23][0-9A-Z]{3}$/.test(String((e as { code?: unknown }).code)),
  );
  if (!pgError) return null;
  const { code, column, constraint } = pgError as { code: string; column?: string; constraint?: string };
  const field = column === undefined ? undefined : scope.plan.fields.find((f) => f.source === column)?.target;
  const change = field
    ? `change ${field} of item ${itemId} in SharePoint`
    : `change item ${itemId} in SharePoint`;
  switch (code) {
    case '23502':
      if (column !== undefined && field === undefined)
        return (
          `Postgres column ${column} is NOT NULL and no field maps it from SharePoint: map it, or give it a default ` +
          `(ALTER TABLE … ALTER COLUMN "${column}" SET DEFAULT …)`
        );
      return `${change}: give it a value (Postgres column ${column ?? 'it'} is NOT NULL)`;
    case '23505':
      return `${change}: another row already holds this value (unique constraint "${constraint ?? '?'}")`;
    case '23503':
      return `${change}, or add the row it refers to in Postgres (foreign key "${constraint ?? '?'}")`;
    case '23514':
      return `${change} to a value check constraint "${constraint ?? '?'}" accepts, or change the constraint`;
    case '22001':
    case '22003':
      return `${change} to a value ${column === undefined ? 'its Postgres column' : `Postgres column ${column}`} can hold`;
    default:
      return null;
  }
}

/**
 * The parked pull failures of the scope's list that are due for a retry, read again from SharePoint: the item as
 * it is now, or its tombstone when it is gone (`only`: those of these item ids). Reads stop once the run's time is
 * spent (I16), after at least one: `complete` is false then, and the parks not read stay due for the next run.
 */
export async function dueRetries(
  scope: RunScope,
  only?: ReadonlySet<string>,
): Promise<{ entries: DeltaEntry[]; complete: boolean }> {
  const { ctx, target, siteId, listId, definitionId, plan } = scope;
  const prefix = scope.route ? `${listId}/` : '';
  const due = (await dueFailures(ctx.meta, definitionId, 'PULL')).filter(
    (f) =>
      f.itemKey.startsWith(prefix) &&
      (scope.route || !f.itemKey.includes('/')) &&
      (!only || only.has(f.itemKey.slice(prefix.length))),
  );
  const entries: DeltaEntry[] = [];
  for (const f of due) {
    if (entries.length > 0 && scope.timeLeft() <= 0) return { entries, complete: false };
    const itemId = f.itemKey.slice(prefix.length);
    const item = await target.getItem(siteId, listId, itemId, plan.select);
    // I15: a tombstone deletes the row; a list gone is not its items deleted.
    if (!item) await confirmListStands(scope, listId);
    entries.push(item ? { kind: 'upsert', item } : { kind: 'deleted', id: itemId });
  }
  return { entries, complete: true };
}

/**
 * Routed: the items of this definition's pairs parked in lists the routes no longer name (retired by a routes change)
 * and due for a retry, by list. Those items are still read and written by id until their rows move (routing.ts
 * forListId), but no feed of theirs is read: only this retry applies a fix a park asked for there, or decides the
 * delete a move handed to the pull (push/moves.ts parkGoneMove). An item no pair names (a new item whose row Postgres
 * refused) is left parked: a list no longer routed to brings in no new rows, and it may be another definition's now.
 */
export async function retiredListsParked(scope: RunScope): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (!scope.route) return out;
  const routed = new Set(scope.lists.map((l) => l.listId));
  const byList = new Map<string, string[]>();
  for (const f of await dueFailures(scope.ctx.meta, scope.definitionId, 'PULL')) {
    const slash = f.itemKey.indexOf('/');
    const listId = f.itemKey.slice(0, slash);
    if (slash <= 0 || routed.has(listId)) continue;
    byList.set(listId, [...(byList.get(listId) ?? []), f.itemKey.slice(slash + 1)]);
  }
  for (const [listId, itemIds] of byList) {
    const paired = await scope.ledger.byItemIds(scope.ctx.meta, listId, itemIds);
    if (paired.size > 0) out.set(listId, new Set(paired.keys()));
  }
  return out;
}

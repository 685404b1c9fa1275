/**
 * Creates an earlier run left pending (I6). A run records a create as PENDING_CREATE before sending it, so that
 * whatever stops it (a kill, a lost lock) the next run knows an item may exist. That run looks for the item by
 * the hidden key column and adopts it when found.
 *
 * Not finding it proves nothing at first: the stopped run may have sent the create a moment before it stopped,
 * and SharePoint may apply it seconds later. Creating the item again then would make two items of one row. So the
 * first miss is only recorded (`pending_checked_at`); the row waits, neither created nor forgotten, and only a
 * run at least PENDING_CREATE_SETTLE_SECONDS after that first miss concludes that the create never landed,
 * forgets the entry and pushes the row again. The miss is timed from a run that holds the lock, which it took
 * after the stopped run's last send, so every create sent before the stop had that long to land. Only a run that
 * never finished can leave a create still to land (store/runs.ts, mayStillLandSql): entries a finished run left
 * are settled at once, and a create whose outcome stayed unknown started its own wait when its run learned it.
 *
 * A waiting row is skipped by the pages that read it (the cursor may pass it): its entry stays PENDING_CREATE, so
 * a later run's settle retries it by key, and the idle probe's "creates in flight" check keeps such runs coming.
 * Runs inside the wait do not ask SharePoint again.
 *
 * Once settled, the entry no longer marks the row, so the row is parked (retried by key) in the same transaction
 * that adopts or forgets it: a run stopped before it pushes the row again leaves the retry behind, never nothing.
 * An item adopted for a row deleted meanwhile is deleted by the push (push.ts): with LSN capture the delete may
 * have been read, and passed over, while the create waited.
 */
import { canonicalEquals, contentHash, fromGraphFields, type CanonicalRecord } from '../../canonical';
import { inTransaction } from '../../db/transaction';
import { park } from '../../store/failures';
import type { LedgerEntry, PendingCreate } from '../../store/ledger';
import type { RunScope } from '../runner';
import { rethrowUnlessListGone } from '../listGone';

/**
 * The ledger entry recorded (and committed) before a create leaves (I6). `sent`: the values the create sends, the
 * base an adoption of its item weighs both sides against.
 */
export function pendingCreateEntry(e: {
  identityHash: string;
  identity: Record<string, unknown>;
  listId: string;
  sent: CanonicalRecord;
  lastSourceTs: string | null;
}): LedgerEntry {
  return {
    identityHash: e.identityHash,
    identity: e.identity,
    listId: e.listId,
    itemId: null,
    eTag: null,
    syncedValues: e.sent,
    contentHash: null,
    provenance: 'PUSH',
    state: 'PENDING_CREATE',
    lastSourceTs: e.lastSourceTs,
    spModifiedAt: null,
  };
}

/** PENDING_CREATE_SETTLE_SECONDS' default: three times the Graph client's own request timeout (100 s). */
export const PENDING_CREATE_SETTLE_SECONDS = 300;

/** Per run: rows whose pending create may still land, skipped by this run's pages. */
const waiting = new WeakMap<RunScope, Set<string>>();

/** True when the row's create, left pending by an earlier run, may still land: this run must not create it. */
export function awaitsSettle(scope: RunScope, identityHash: string): boolean {
  return waiting.get(scope)?.has(identityHash) ?? false;
}

/**
 * A create of this run whose outcome stays unknown (its entry stays PENDING_CREATE): it may still land, so the
 * rest of the run leaves the row alone (a later change read in the same run would create it again); the next
 * run's settle decides.
 */
export function awaitSettle(scope: RunScope, identityHash: string): void {
  let held = waiting.get(scope);
  if (!held) waiting.set(scope, (held = new Set()));
  held.add(identityHash);
}

/**
 * Where a pending create stands once its item is missed: its wait runs (`left` seconds; SharePoint need not be asked),
 * this miss starts it (`first`), or it is over (`over`: the create never landed). The rule the push's settle and
 * `resolve` share.
 */
export type AfterMiss = { kind: 'wait'; left: number } | { kind: 'first' } | { kind: 'over' };

export function afterMiss(
  p: Pick<PendingCreate, 'checkedSecondsAgo' | 'mayStillLand'>,
  settleSeconds: number,
): AfterMiss {
  if (settleSeconds <= 0) return { kind: 'over' };
  if (p.checkedSecondsAgo !== null)
    return p.checkedSecondsAgo < settleSeconds
      ? { kind: 'wait', left: settleSeconds - p.checkedSecondsAgo }
      : { kind: 'over' };
  // Only a run that never finished can have left a create still to land (a finished one awaited its requests).
  return p.mayStillLand ? { kind: 'first' } : { kind: 'over' };
}

/** What the settle did: the keys of the rows to push again (adopted and forgotten), and the entries adopted. */
export interface SettledCreates {
  keys: unknown[][];
  adopted: LedgerEntry[];
  /** Entries not looked up because the run's time was spent (I16): still pending, for the next run. */
  deferred: number;
}

/**
 * Settles what earlier runs left PENDING_CREATE: adopts the items found, forgets the entries whose wait is over
 * and whose item is still missing, and holds back the rest (not among the keys returned).
 */
export async function settlePendingCreates(scope: RunScope): Promise<SettledCreates> {
  const settleSeconds = scope.ctx.pendingCreateSettleSeconds ?? PENDING_CREATE_SETTLE_SECONDS;
  const pending = await scope.ledger.pendingCreates(scope.ctx.meta);
  if (pending.length === 0) return { keys: [], adopted: [], deferred: 0 };
  const keys: unknown[][] = [];
  const adopted: LedgerEntry[] = [];
  const forget: LedgerEntry[] = [];
  const firstMissed: string[] = [];
  const held = new Set<string>();
  let asked = 0;
  let deferred = 0;
  for (const p of pending) {
    const { entry } = p;
    const next = afterMiss(p, settleSeconds);
    // Inside the wait after a first miss (or an unknown outcome): SharePoint is not asked again until it is over.
    if (next.kind === 'wait') {
      held.add(entry.identityHash);
      continue;
    }
    // I16: out of time after a look-up, the rest stay pending (not written this run) for the next run.
    if (asked > 0 && scope.timeLeft() <= 0) {
      awaitSettle(scope, entry.identityHash);
      deferred++;
      continue;
    }
    asked++;
    // I15: the search of a list gone answers 404: the run says so (relink) rather than "check the name".
    const found = await scope.target
      .findItemsByField(scope.siteId, entry.listId, scope.def.target.keyColumn, entry.identityHash)
      .catch((err: unknown) => rethrowUnlessListGone(scope, entry.listId, err));
    if (found.length > 0) {
      adopted.push(adoptedEntry(scope, entry, found));
    } else if (next.kind === 'first') {
      firstMissed.push(entry.identityHash);
      held.add(entry.identityHash);
      continue;
    } else {
      forget.push(entry);
    }
    keys.push(scope.def.source.key.map((k) => entry.identity[k]));
  }
  await recordSettle(scope, adopted, forget, firstMissed, settleSeconds);
  scope.details.adoptedAfterCrash = adopted.length;
  if (held.size > 0) {
    for (const hash of held) awaitSettle(scope, hash);
    scope.details.createsAwaitingSettle = held.size;
    scope.ctx.log.info(
      `${scope.def.name}: ${held.size} row(s) whose create an earlier, stopped run may have sent are not created ` +
        `again yet: SharePoint may still apply that create. A push at least ${settleSeconds} s after their item was ` +
        'first missed adopts the item or creates it (PENDING_CREATE_SETTLE_SECONDS)',
    );
  }
  if (deferred > 0) scope.details.createsLeftUnsettled = deferred;
  return { keys, adopted, deferred };
}

/** The settle's ledger changes and the parks that keep its rows' retries, in one transaction. */
async function recordSettle(
  scope: RunScope,
  adopted: LedgerEntry[],
  forget: LedgerEntry[],
  firstMissed: string[],
  settleSeconds: number,
): Promise<void> {
  const { ctx, ledger } = scope;
  const forgotten = forget.map((e) => e.identityHash);
  if (scope.dryRun) {
    // Its ledger keeps the changes in memory; a dry run parks nothing (dryRun.ts).
    await ledger.save(ctx.meta, adopted);
    await ledger.remove(ctx.meta, forgotten);
    return;
  }
  await inTransaction(ctx.meta, async (client) => {
    await ledger.save(client, adopted);
    await ledger.remove(client, forgotten);
    await ledger.markPendingChecked(client, firstMissed);
    for (const e of adopted) {
      await park(client, scope.definitionId, {
        direction: 'PUSH',
        itemKey: e.identityHash,
        sourceIdentity: e.identity,
        spItemId: e.itemId,
        error:
          `item ${e.itemId}, which a stopped run created, was adopted for this row; ` +
          'the row is pushed again so that SharePoint gets its current values',
      });
    }
    for (const e of forget) {
      await park(client, scope.definitionId, {
        direction: 'PUSH',
        itemKey: e.identityHash,
        sourceIdentity: e.identity,
        spItemId: null,
        error:
          `the create a stopped run sent for this row never landed (no item carries its key ${settleSeconds} s ` +
          'after it was first missed); the row is created again',
      });
    }
    scope.assertLockHeld();
  });
}

/**
 * The eTag an adopted item's pair holds when the item changed since its create (an edit made while the create
 * waited): no item carries it, so the push's If-Match write meets a 412 and weighs both sides against the values
 * the create sent (push/conflicts.ts), and the pull, seeing another eTag, does the same.
 */
export const UNCONFIRMED_ETAG = '"arcore:unconfirmed"';

function adoptedEntry(
  scope: RunScope,
  entry: LedgerEntry,
  found: { id: string; eTag: string; fields: Record<string, unknown> }[],
): LedgerEntry {
  // The lowest id, as every other adoption picks (batchWriter's reconcile, relink, resolve): with two items carrying
  // the key, each path pairs the same one (I6).
  const [item, ...extras] = [...found].sort((a, b) => Number(a.id) - Number(b.id));
  const { plan } = scope;
  const current = fromGraphFields(item.fields, plan.columns);
  // The values the create sent (entries recorded before they carried them: the item's own). A field flowing only
  // SharePoint → Postgres was not sent: the item's value (a default, a computed column) is the synced one.
  const sent = entry.syncedValues;
  const pushed = new Set(plan.toSharePoint);
  const values: CanonicalRecord = sent
    ? Object.fromEntries(Object.keys(sent).map((k) => [k, pushed.has(k) ? sent[k] : (current[k] ?? null)]))
    : current;
  const unchanged =
    sent === null || plan.toSharePoint.every((k) => canonicalEquals(current[k] ?? null, sent[k] ?? null));
  for (const extra of extras) {
    scope.ctx.log.warn(
      `${scope.def.name}: a second item ${extra.id} carries the key of item ${item.id}; left in place`,
    );
  }
  return {
    ...entry,
    itemId: item.id,
    eTag: unchanged ? item.eTag : UNCONFIRMED_ETAG,
    syncedValues: values,
    contentHash: contentHash(values),
    state: 'SYNCED',
  };
}

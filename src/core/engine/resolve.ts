import type { PoolClient } from 'pg';
import { fromGraphFields, toCanonical, type CanonicalRecord, type CanonicalValue } from '../canonical';
import { resolveConflict as decideConflict } from '../conflict';
import { DefinitionBusyError } from '../ops/errors';
import { getConflict, markResolved, type StoredConflict } from '../store/conflicts';
import { getDefinitionById } from '../store/definitions';
import { describeKey } from '../source/postgres/keys';
import { appliedNothing, type ListItem, type WriteOutcome } from '../target/sharepoint';
import { applyToPostgres, graphFields, revivedFields, type Rekeyed } from './push/writes';
import { tooLongMessage, tooLongText, valueOf } from './push/refusals';
import type { SourceRow } from '../source/postgres/PostgresSource';
import type { LedgerEntry } from '../store/ledger';
import { confirmListStands, rethrowUnlessListGone } from './listGone';
import { checkConstraintsPerStatement, inTransaction } from '../db/transaction';
import { assertKeysFree } from './pull/insert';
import { confirmItemDelete } from './resolveItemGone';
import { describeResolution, type Resolution, type ResolveResult } from './resolveEffect';
import { syncedEntry, writtenETag } from './push/page';
import { sourcePairs } from './transform';
import { afterMiss, PENDING_CREATE_SETTLE_SECONDS, pendingCreateEntry } from './push/pendingCreates';
import { heldMoveReason, settlePendingMoves } from './push/moves';
import { pendingMoves } from '../store/moves';
import type { ErrorKind } from '../errors/kind';
import { differs, pick, rowToCanonical } from './plan';
import type { PairDecision } from './reconcile';
import { markRunWrites, unmarkForRelease } from '../capture/lsn/origin';
import { settleInsertIntents } from './pull/intents';
import { assertUnchangedLocked, RowChangedError } from './pull/pageRows';
import { forListId, parkMisrouted, writeProblem } from './routing';
import { withRun, type RunScope } from './runner';
import type { EngineContext } from './types';

export class ConflictNotFoundError extends Error {
  constructor(readonly conflictId: string) {
    super(`No conflict with id ${conflictId}`);
    this.name = 'ConflictNotFoundError';
  }
}

export class ConflictAlreadyResolvedError extends Error {
  constructor(readonly conflictId: string) {
    super(`Conflict ${conflictId} is already resolved`);
    this.name = 'ConflictAlreadyResolvedError';
  }
}

/**
 * A resolution that does not fit (CLI exit 2, ops API 400): an unknown field, a value one side cannot hold
 * (`field` names it), values SharePoint refused, or a conflict that taking values cannot settle.
 */
export class ResolutionValueError extends Error {
  constructor(
    readonly conflictId: string,
    message: string,
    readonly field: string | null = null,
  ) {
    super(`Conflict ${conflictId}: ${message}`);
    this.name = 'ResolutionValueError';
  }
}

/** The item is gone and no list it could be re-created in fits the mapping (a routed list missing a column). */
export class ResolutionListError extends Error {
  override readonly name = 'ResolutionListError';
  readonly errorKind: ErrorKind = 'invalid_definition';
  readonly hint = 'run `arcore-sync provision` for the list (or fix the list by hand), then resolve again';

  constructor(
    readonly conflictId: string,
    readonly problem: string,
  ) {
    super(
      `Conflict ${conflictId}: its item is gone and cannot be re-created: ${problem}; nothing was written`,
    );
  }
}

/** SharePoint did not take the resolution for a reason that is not about the values (throttling, a 5xx, a race). */
export class ResolutionWriteError extends Error {
  /** By what SharePoint answered: the CLI's exit code, the ops API's status and the next step follow it. */
  readonly errorKind: ErrorKind;
  readonly hint: string;
  constructor(
    readonly conflictId: string,
    readonly outcome: WriteOutcome,
  ) {
    super(
      `Conflict ${conflictId}: SharePoint did not apply the resolution (${describeOutcome(outcome)}); nothing was ` +
        'changed in Postgres and the conflict is still open: run resolve again',
    );
    this.name = 'ResolutionWriteError';
    const failure = resolutionFailure(conflictId, outcome);
    this.errorKind = failure.kind;
    this.hint = failure.hint;
  }
}

/**
 * The resolve run failed before it could resolve (what refuses any run of the definition: a key column retyped in
 * Postgres, a list or table gone): nothing was written. It carries the run's error kind and next step, so the CLI
 * exits and the ops API answers as they do for that failure anywhere else (exit 2 / 400 for the definition's).
 */
export class ResolutionRunFailedError extends Error {
  readonly errorKind: ErrorKind;
  readonly hint: string | undefined;
  constructor(
    readonly conflictId: string,
    summary: { error: string | null; errorKind?: ErrorKind; errorHint?: string },
  ) {
    super(`Conflict ${conflictId} is still open: ${summary.error ?? 'the resolve run failed'}`);
    this.name = 'ResolutionRunFailedError';
    this.errorKind = summary.errorKind ?? 'internal';
    this.hint = summary.errorHint;
  }
}

/**
 * What a resolution's write that SharePoint did not apply asks of the operator. An item edited or deleted between
 * resolve's read and its If-Match write is no network fault: the choice was made on values that are gone, so the
 * conflict is to be looked at again before resolving.
 */
function resolutionFailure(conflictId: string, o: WriteOutcome): { kind: ErrorKind; hint: string } {
  const again = `look at it again ("npx arcore-sync conflicts show ${conflictId}"), then resolve again`;
  const status = o.status === 'rejected' ? o.httpStatus : null;
  if (o.status === 'precondition_failed' || o.status === 'not_found' || status === 404 || status === 409)
    return { kind: 'busy', hint: `the item was edited or deleted meanwhile: ${again}` };
  if (status === 429 || (o.status === 'failed' && /^throttled/.test(o.message)))
    return { kind: 'throttled', hint: 'the tenant is throttling this app: resolve again later' };
  if (status === 401)
    return { kind: 'authentication', hint: 'check the Graph credentials, then resolve again' };
  if (status === 403)
    return {
      kind: 'permission',
      hint: 'grant the sync identity write access to the list, then resolve again',
    };
  if (status !== null)
    return {
      kind: 'data',
      hint: 'SharePoint refused the values named above: resolve again with --values it accepts, or fix the list column',
    };
  return {
    kind: 'unreachable',
    hint: `check that SharePoint is reachable from here; the write may have landed: ${again}`,
  };
}

function describeOutcome(o: WriteOutcome): string {
  switch (o.status) {
    case 'rejected':
      return `${o.httpStatus} ${o.code}: ${o.message}`;
    case 'failed':
      return o.message;
    case 'precondition_failed':
      return 'the item changed while resolving';
    default:
      return o.status;
  }
}

export type ResolutionChoice = { take: 'postgres' | 'sharepoint' } | { values: Record<string, unknown> };

/**
 * The side `take` names wins the conflict. Under FIELD detection (I7) the conflict is the fields changed on both
 * sides since `base` (the values last synced): those take the chosen side's value, and a field only the other side
 * changed keeps that edit, as the definition's own policies keep it. Taking one side's whole row there lost the
 * other side's edits to fields no one disputed. Under ROW detection the chosen side's row is taken whole.
 */
function takenValues(
  scope: RunScope,
  take: 'postgres' | 'sharepoint',
  base: CanonicalRecord | null,
  pg: CanonicalRecord,
  sp: CanonicalRecord,
): CanonicalRecord {
  const taken = take === 'postgres' ? pg : sp;
  if (scope.def.conflictDetection !== 'FIELD') return taken;
  const { shared } = scope.plan;
  const { values } = decideConflict({
    policy: take === 'postgres' ? 'SOURCE_WINS' : 'DESTINATION_WINS',
    detection: 'FIELD',
    fields: shared,
    base: base ? pick(base, shared) : null,
    postgres: pick(pg, shared),
    sharepoint: pick(sp, shared),
  });
  return { ...taken, ...values };
}

/**
 * The chosen values of the mapped fields, with `--values` checked field by field against the plan. `--values` are
 * given over Postgres's values: under FIELD detection, over those Postgres takes (takenValues), so a field only
 * SharePoint changed keeps that edit there too.
 */
function chosenValues(
  scope: RunScope,
  conflictId: string,
  choice: ResolutionChoice,
  pg: CanonicalRecord,
  sp: CanonicalRecord | null,
  base: CanonicalRecord | null = null,
): CanonicalRecord {
  if ('take' in choice) {
    // No item (re-created from Postgres's values): there is nothing of SharePoint's to keep.
    if (sp === null) return pg;
    return takenValues(scope, choice.take, base, pg, sp);
  }
  const chosen: CanonicalRecord = sp === null ? { ...pg } : takenValues(scope, 'postgres', base, pg, sp);
  for (const [field, value] of Object.entries(choice.values)) {
    const f = scope.plan.byTarget.get(field);
    if (!f)
      throw new ResolutionValueError(
        conflictId,
        `"${field}" is not a mapped target column of "${scope.def.name}" (mapped: ${[...scope.plan.byTarget.keys()].join(', ')})`,
        field,
      );
    try {
      chosen[field] = toCanonical(f.kind, value);
    } catch (err) {
      throw new ResolutionValueError(conflictId, `"${field}" (${f.kind}): ${(err as Error).message}`, field);
    }
  }
  return chosen;
}

/**
 * What SharePoint's columns say they can hold, checked before anything is written (I12): a text longer than its
 * single line of text holds is refused in the push's words (push/refusals.ts), naming where it came from (the
 * Postgres column, or the value given) and the next step.
 */
function checkSharePointValues(
  scope: RunScope,
  conflict: Pick<StoredConflict, 'id' | 'identity'>,
  choice: ResolutionChoice,
  values: CanonicalRecord,
): void {
  const long = tooLongText(scope.plan, graphFields(scope, values));
  if (long === null) return;
  const row = `row ${JSON.stringify(conflict.identity)}`;
  const given = 'values' in choice && Object.hasOwn(choice.values, long.field);
  const otherwise = `resolve with --take sharepoint, or with --values giving ${long.field} at most ${long.max} characters`;
  throw new ResolutionValueError(
    conflict.id,
    `${row}: ${tooLongMessage(
      long,
      given
        ? {
            value: `the value given for ${long.field}`,
            fix: `give ${long.field} at most ${long.max} characters in --values`,
            after: NOTHING_WRITTEN,
          }
        : {
            value: valueOf(long),
            fix:
              `shorten ${long.column} of ${row} in Postgres ${long.piped ? 'until the pushed value has' : 'to'} at ` +
              `most ${long.max} characters and resolve again, or ${otherwise}`,
            after: NOTHING_WRITTEN,
          },
    )}`,
    long.field,
  );
}

const NOTHING_WRITTEN = 'nothing was written and the conflict is still open';

/**
 * Applies the Postgres side inside the caller's open transaction. When Postgres refuses, each field is tried
 * alone (under savepoints) to name the one it refuses.
 */
async function writePostgres(
  scope: RunScope,
  client: PoolClient,
  conflict: StoredConflict,
  changes: CanonicalRecord,
  synced: CanonicalRecord,
  kind: 'write' | 'recreate' = 'write',
  rekeyed?: Rekeyed,
): Promise<Record<string, CanonicalValue>> {
  const key = scope.def.source.key.map((k) => conflict.identity[k]);
  const decision = (values: CanonicalRecord): PairDecision => ({
    outcome: 'TAKE_POSTGRES',
    conflict: false,
    conflictFields: [],
    keyEdits: [],
    sharepoint: { kind: 'none' },
    postgres: { kind, values },
    synced,
    reason: 'manual resolution',
  });
  await client.query('SAVEPOINT resolution');
  try {
    const written = await applyToPostgres(scope, client, key, conflict.identity, decision(changes), rekeyed);
    await client.query('RELEASE SAVEPOINT resolution');
    return written;
  } catch (err) {
    await client.query('ROLLBACK TO SAVEPOINT resolution');
    // An insert of one field alone would fail on the others' constraints: the refusal is named as it came.
    if (kind === 'recreate')
      throw new ResolutionValueError(
        conflict.id,
        `Postgres refuses to insert the row again: ${(err as Error).message}`,
      );
    for (const field of Object.keys(changes)) {
      await client.query('SAVEPOINT field');
      try {
        await applyToPostgres(scope, client, key, conflict.identity, decision(pick(changes, [field])));
        await client.query('ROLLBACK TO SAVEPOINT field');
      } catch (fieldErr) {
        await client.query('ROLLBACK TO SAVEPOINT field');
        throw new ResolutionValueError(
          conflict.id,
          `Postgres refuses the value of "${field}": ${(fieldErr as Error).message}`,
          field,
        );
      }
    }
    throw new ResolutionValueError(
      conflict.id,
      `Postgres refuses the values of ${Object.keys(changes).join(', ')} together: ${(err as Error).message}`,
    );
  }
}

/**
 * The conflict's item is gone and a create of it sent earlier (a stopped run's, or an earlier resolve whose answer
 * was lost) may still land: creating it now could give the row a second item. Nothing was written.
 */
export class PendingCreateLandingError extends Error {
  override readonly name = 'PendingCreateLandingError';
  readonly errorKind: ErrorKind = 'busy';
  readonly hint: string;

  constructor(
    readonly conflictId: string,
    readonly retryAfterSeconds: number,
  ) {
    super(
      `Conflict ${conflictId}: its item is gone, and a create of it sent earlier may still land; nothing was ` +
        `written: resolve again in ${retryAfterSeconds} s`,
    );
    this.hint =
      `resolve again in ${retryAfterSeconds} s (PENDING_CREATE_SETTLE_SECONDS); once the earlier create has ` +
      "landed, resolve finds its item by the row's key and writes it";
  }
}

/** As a push's settle would (push/pendingCreates.ts): a pending create still in its wait is not created again. */
async function refuseWhileCreateMayLand(
  scope: RunScope,
  conflictId: string,
  identityHash: string,
): Promise<void> {
  const { ctx, ledger } = scope;
  const settleSeconds = ctx.pendingCreateSettleSeconds ?? PENDING_CREATE_SETTLE_SECONDS;
  const pending = (await ledger.pendingCreates(ctx.meta)).find((p) => p.entry.identityHash === identityHash);
  if (!pending) return;
  const next = afterMiss(pending, settleSeconds);
  if (next.kind === 'over') return;
  // The look-up just made is this create's first miss: its wait starts now.
  if (next.kind === 'first') await ledger.markPendingChecked(ctx.meta, [identityHash]);
  throw new PendingCreateLandingError(
    conflictId,
    Math.ceil(next.kind === 'wait' ? next.left : settleSeconds),
  );
}

/**
 * The conflict's row is moving between lists (routing) and the move could not be settled: its create may still
 * land, or finishing it failed. Nothing was written.
 */
export class MoveInFlightError extends Error {
  override readonly name = 'MoveInFlightError';
  readonly errorKind: ErrorKind = 'busy';
  readonly hint: string;

  constructor(
    readonly conflictId: string,
    readonly retryAfterSeconds: number,
    createMayLand: boolean,
    /** Why the move is held for a user (both items edited): nothing settles it by waiting. */
    held?: string,
  ) {
    super(
      held
        ? `Conflict ${conflictId}: its item's move to another list is held until you act: ${held}; nothing was written`
        : `Conflict ${conflictId}: its item is moving to another list and ` +
            (createMayLand
              ? "the move's create, sent earlier with no answer known, may still land"
              : 'the move could not be finished yet') +
            `; nothing was written: resolve again in ${retryAfterSeconds} s`,
    );
    this.hint = held
      ? 'deal with the items as the message says (arcore-sync failures NAME lists the held move), then resolve again'
      : createMayLand
        ? `resolve again in ${retryAfterSeconds} s (PENDING_CREATE_SETTLE_SECONDS): by then the move is finished or ` +
          'known never to have landed'
        : `resolve again in ${retryAfterSeconds} s; the run's log says why the move was not finished`;
  }
}

/**
 * The conflict's row changed between resolve's read and its write (an application's edit, committed meanwhile): the
 * choice was made on values that are gone, and writing it would overwrite an edit no one has seen. Nothing was written.
 */
export class ResolutionRowChangedError extends Error {
  override readonly name = 'ResolutionRowChangedError';
  readonly errorKind: ErrorKind = 'busy';
  readonly hint: string;

  constructor(
    readonly conflictId: string,
    readonly key: Record<string, unknown>,
  ) {
    super(
      `Conflict ${conflictId}: its Postgres row (key ${JSON.stringify(key)}) changed while it was being resolved; ` +
        'nothing was written and the conflict is still open',
    );
    this.hint = `look at it again ("npx arcore-sync conflicts show ${conflictId}" after a push), then resolve again`;
  }
}

/** Seconds after which a resolve refused for a move that failed to finish (not a wait) is worth trying again. */
const MOVE_RETRY_SECONDS = 30;

/** Settles the moves in flight when one is the conflict's row's; refuses while the row's own stays unsettled. */
async function settleMoveFirst(scope: RunScope, conflict: StoredConflict): Promise<void> {
  const { ctx } = scope;
  const mine = async () =>
    (await pendingMoves(ctx.meta, scope.definitionId)).find((m) => m.identityHash === conflict.identityHash);
  if (!(await mine())) return;
  await settlePendingMoves(scope);
  const left = await mine();
  if (!left) return;
  const next = afterMiss(left, ctx.pendingCreateSettleSeconds ?? PENDING_CREATE_SETTLE_SECONDS);
  const waiting = !left.deleteSent && next.kind === 'wait';
  throw new MoveInFlightError(
    conflict.id,
    waiting ? Math.ceil(next.left) : MOVE_RETRY_SECONDS,
    waiting,
    heldMoveReason(scope, conflict.identityHash),
  );
}

/** Writes SharePoint (an If-Match update, or a create carrying the hidden key when the item is gone). */
async function writeSharePoint(
  scope: RunScope,
  conflict: StoredConflict,
  item: ListItem | null,
  changes: CanonicalRecord,
  revived: Record<string, unknown> = {},
): Promise<WriteOutcome> {
  const { def, target, siteId, listId } = scope;
  const [outcome] = await target.writeItems(siteId, listId, [
    item
      ? {
          kind: 'update',
          ref: conflict.identityHash,
          itemId: item.id,
          eTag: item.eTag,
          fields: { ...graphFields(scope, changes), ...revived },
        }
      : {
          kind: 'create',
          ref: conflict.identityHash,
          fields: { ...graphFields(scope, changes), [def.target.keyColumn]: conflict.identityHash },
          adoptBy: { field: def.target.keyColumn, value: conflict.identityHash },
        },
  ]);
  return outcome;
}

/**
 * Resolves a parked (MANUAL) conflict: reads both sides as they are now, takes the chosen values, checks them
 * against both sides' constraints, and writes them under the definition's lock so that neither side can be left
 * changed alone: the Postgres change is made in an open transaction, SharePoint is written (If-Match), and the
 * transaction commits only when SharePoint took the write (it rolls back otherwise). An item that is gone is
 * re-created (with the hidden key column) when Postgres's values are taken; when SharePoint's are, its delete stands
 * (resolveItemGone.ts). Then the resolution and the new
 * synced values are recorded. A stopped pull's insert intents are settled first, as in every run.
 */
export async function resolveConflict(
  ctx: EngineContext,
  conflictId: string,
  choice: ResolutionChoice,
  resolvedBy: string,
): Promise<ResolveResult> {
  const conflict = await getConflict(ctx.meta, conflictId);
  if (!conflict) throw new ConflictNotFoundError(conflictId);
  if (conflict.status !== 'OPEN') throw new ConflictAlreadyResolvedError(conflictId);
  if (conflict.kind === 'COPY') {
    throw new ResolutionValueError(
      conflictId,
      `item ${conflict.itemId ?? '?'} carries the key of a row that is paired with another item, so taking values ` +
        `cannot settle it. Delete item ${conflict.itemId ?? '?'} in SharePoint, or clear its hidden key column: the ` +
        'next pull closes this conflict (and syncs the item as a new one if its key was cleared)',
    );
  }
  const stored = await getDefinitionById(ctx.meta, conflict.definitionId);
  if (!stored) throw new ConflictNotFoundError(conflictId);
  let failure: Error | null = null;
  let done: Resolution | null = null;
  const summary = await withRun(ctx, stored.definition.name, 'PUSH', 'resolve', async (scope) => {
    try {
      // Read again under the definition's lock: another resolve of the same conflict (a second operator, a bulk
      // action) that finished between the read above and the lock must not be decided over, nor its audit rewritten.
      const current = await getConflict(ctx.meta, conflictId);
      if (!current) throw new ConflictNotFoundError(conflictId);
      if (current.status !== 'OPEN') throw new ConflictAlreadyResolvedError(conflictId);
      done = await resolveInRun(scope, current, choice, resolvedBy);
    } catch (err) {
      // Typed errors reach the caller as themselves (exit codes, HTTP statuses), not as a failed run's text.
      failure = err as Error;
    }
  });
  if (failure) throw failure;
  if (summary.status === 'SKIPPED')
    throw new DefinitionBusyError(stored.definition.name, 'resolving a conflict');
  if (summary.error) throw new ResolutionRunFailedError(conflictId, summary);
  const resolution = done as Resolution | null;
  if (!resolution) throw new Error(`Conflict ${conflictId}: the resolve run ended without resolving it`);
  return {
    conflictId,
    status: 'RESOLVED',
    ...resolution,
    summary: describeResolution(resolution, 'take' in choice ? choice.take : 'values'),
  };
}

async function resolveInRun(
  runScope: RunScope,
  conflict: StoredConflict,
  choice: ResolutionChoice,
  resolvedBy: string,
): Promise<Resolution> {
  const { def, source, ledger } = runScope;
  // As every run does first (I6): the ledger holds the pairs whose rows a stopped pull committed before anything
  // is read; a source transaction of one still open stops here, nothing written.
  await settleInsertIntents(runScope);
  const key = def.source.key.map((k) => conflict.identity[k]);
  const rows = await source.readByKeys([key]);
  // A view's key held by several rows (I13): either side's values would settle the item for one of them.
  if (rows.length > 1)
    throw new ResolutionValueError(
      conflict.id,
      `${rows.length} rows of ${source.qualified} share the key ${describeKey(conflict.identity)}: nothing ` +
        'was written; resolve again once the key identifies one row (make it unique, or fix the duplicated rows)',
    );
  const [row] = rows;
  // Deleted in Postgres (a delete against an edit, or a row deleted while its conflict was open): the choice says
  // whether the delete stands or the row comes back (I8).
  if (!row) return resolveRowGone(runScope, conflict, choice, resolvedBy);
  // Routed: a move of the row's item between lists left in flight is settled first, as a push would: writing the
  // old item (or re-creating it) while the move's create may still land would give the row two items (I6).
  if (runScope.route) await settleMoveFirst(runScope, conflict);
  // The item lives in the list the ledger names: a synced pair's, or the list a pending create was sent to (its
  // item may have landed there since). One that is gone is re-created where the row routes now.
  let searched = runScope;
  let createIn = runScope;
  let refuseUnfitList: string | undefined;
  // The pair's entry: its list and item, and the pairs a transformed field is read through (I3).
  const entry = (await ledger.byIdentities(runScope.ctx.meta, [conflict.identityHash])).get(
    conflict.identityHash,
  );
  // The conflict's item id names an item of the list it was recorded in: in another list (a route's move, a
  // replaced list after relink) the id is another row's item (I15). Only the id the pair still names is taken;
  // otherwise the row's own item is found by its hidden key.
  const namedItemId = entry?.itemId === conflict.itemId ? conflict.itemId : null;
  if (runScope.route) {
    const routed = runScope.route(rowToCanonical(runScope.plan, row.values), row.values);
    const entryList = entry?.itemId || entry?.state === 'PENDING_CREATE' ? entry.listId : null;
    const searchList = entryList ?? routed?.listId ?? entry?.listId;
    if (searchList) searched = forListId(runScope, searchList);
    // A list that does not fit the mapping (planLists: a missing column, say) gets no create, as in a push: the
    // item is re-created where it was, and the push's move then parks the row naming that list's problem.
    const fits = (id: string | undefined) => id !== undefined && !writeProblem(runScope, id, 'create');
    const createList = fits(routed?.listId) ? routed?.listId : searchList;
    if (createList) createIn = forListId(runScope, createList);
    const problem = createList ? writeProblem(runScope, createList, 'create') : undefined;
    if (problem) refuseUnfitList = problem;
  }
  const conflictId = conflict.id;
  // The item the conflict names, or, when it is gone, one carrying the row's hidden key: the item an earlier
  // resolve (or a stopped run) created for it, which is written instead of creating a second (I6).
  const item: ListItem | null =
    (namedItemId
      ? await searched.target.getItem(searched.siteId, searched.listId, namedItemId, searched.plan.select)
      : null) ??
    (
      await searched.target
        .findItemsByField(
          searched.siteId,
          searched.listId,
          def.target.keyColumn,
          conflict.identityHash,
          searched.plan.select,
        )
        .catch((err: unknown) => rethrowUnlessListGone(searched, searched.listId, err))
    ).sort((a, b) => Number(a.id) - Number(b.id))[0] ??
    null;
  if (!item) await refuseWhileCreateMayLand(searched, conflictId, conflict.identityHash);
  // Deleted in SharePoint, and SharePoint taken: the delete stands (I8), under deletes.pull.
  if (!item && 'take' in choice && choice.take === 'sharepoint')
    return {
      effect: await confirmItemDelete(searched, conflict, entry, resolvedBy),
      itemId: namedItemId ?? conflict.itemId,
    };
  if (!item && refuseUnfitList) throw new ResolutionListError(conflictId, refuseUnfitList);
  const scope = item ? searched : createIn;
  const { ctx, plan, listId } = scope;

  // Through the entry's pairs, as a push reads it: a transformed field Postgres has not changed keeps its synced
  // value (a value pull wrote that the push pipeline would not give back is not a change to write, I3).
  const pg = rowToCanonical(plan, row.values, entry);
  const sp = item ? fromGraphFields(item.fields, plan.columns) : null;
  const chosen = chosenValues(scope, conflictId, choice, pg, sp, entry?.syncedValues ?? null);
  const synced: CanonicalRecord = {
    ...pick(chosen, plan.shared),
    ...pick(
      pg,
      plan.toSharePoint.filter((f) => !plan.shared.includes(f)),
    ),
    ...pick(
      sp ?? chosen,
      plan.toPostgres.filter((f) => !plan.shared.includes(f)),
    ),
  };
  // Canonical comparison, as everywhere else (I2): only fields that really differ are written.
  const spChanges = item
    ? pick(synced, differs(synced, sp, plan.toSharePoint))
    : pick(synced, plan.toSharePoint);
  const pgChanges = pick(synced, differs(synced, pg, plan.toPostgres));
  // The row is back for an ORPHANED pair (a revive that met a conflict): its item loses the soft-delete flag, even
  // when the chosen values are the item's; the pair is saved SYNCED, so no later push would clear it (I8).
  const revived = item && entry ? revivedFields(scope, entry) : {};
  checkSharePointValues(scope, conflict, choice, spChanges);

  const client = await scope.sourcePool.connect();
  // What Postgres was given for the transformed fields it takes from SharePoint: their pairs (I3), as the pull's.
  let written: Record<string, CanonicalValue> = {};
  let marked = false;
  let eTag: string | null = item?.eTag ?? null;
  let itemId: string | null = item?.id ?? null;
  let spModifiedAt: string | null = item?.lastModifiedDateTime ?? null;
  try {
    marked = await markRunWrites(scope, client); // marks the resolution as ours; LSN capture reads it back and the ledger comparison skips it (I3)
    await client.query('BEGIN');
    // Refused values are named field by field (writePostgres) before SharePoint is written, never at COMMIT after it.
    await checkConstraintsPerStatement(client);
    // The row stays as read (locked) until SharePoint took the write and this commits: an edit committed since the
    // read is not overwritten (assertUnchangedLocked).
    await assertUnchangedLocked(scope, client, key, row).catch((err: unknown) => {
      throw err instanceof RowChangedError ? new ResolutionRowChangedError(conflictId, err.key) : err;
    });
    if (Object.keys(pgChanges).length)
      written = await writePostgres(scope, client, conflict, pgChanges, synced);
    if (!item || Object.keys(spChanges).length || Object.keys(revived).length) {
      // I6: a create is recorded as pending before it leaves; a refusal puts the entry back as it was.
      const before = item
        ? undefined
        : (await ledger.byIdentities(ctx.meta, [conflict.identityHash])).get(conflict.identityHash);
      if (!item)
        await ledger.save(ctx.meta, [
          pendingCreateEntry({
            identityHash: conflict.identityHash,
            identity: conflict.identity,
            listId,
            sent: synced,
            lastSourceTs: before?.lastSourceTs ?? null,
          }),
        ]);
      const o = await writeSharePoint(scope, conflict, item, spChanges, revived);
      if (!item && o.status !== 'created') {
        if (appliedNothing(o)) {
          if (before) await ledger.save(ctx.meta, [before]);
          else await ledger.remove(ctx.meta, [conflict.identityHash]);
        } else {
          // Its outcome unknown, the create may still land: its wait starts now (push/pendingCreates.ts), and the
          // caller is told when to resolve again (Postgres is left as it was).
          await ledger.markPendingChecked(ctx.meta, [conflict.identityHash]);
          throw new PendingCreateLandingError(
            conflictId,
            Math.ceil(ctx.pendingCreateSettleSeconds ?? PENDING_CREATE_SETTLE_SECONDS),
          );
        }
      }
      if (o.status === 'rejected' && o.httpStatus >= 400 && o.httpStatus < 500 && o.httpStatus !== 429) {
        throw new ResolutionValueError(
          conflictId,
          `SharePoint refused the values (${o.httpStatus} ${o.code}): ${o.message}`,
        );
      }
      if (o.status !== 'updated' && o.status !== 'created') throw new ResolutionWriteError(conflictId, o);
      eTag = writtenETag(scope.plan, o, synced);
      if (o.status === 'created') {
        itemId = o.itemId;
        spModifiedAt = o.lastModifiedDateTime ?? null;
        scope.counts.created++;
      } else scope.counts.updated++;
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release(await unmarkForRelease(client, marked));
  }
  const saved = syncedEntry(
    scope,
    {
      hash: conflict.identityHash,
      identity: conflict.identity,
      row,
      values: pg,
      pairs: entry?.sourceValues ?? null,
    },
    itemId as string,
    eTag as string,
    synced,
    row.cursor,
    'PUSH',
    spModifiedAt,
  );
  const resolvedPair = {
    ...saved,
    sourceValues: sourcePairs(
      plan.fields,
      synced,
      { values: row.values, canonical: pg },
      written,
      entry?.sourceValues ?? null,
      'push',
    ),
  };
  await ledger.save(ctx.meta, [resolvedPair]);
  // Routed: the pair is settled in the list its item lives in; a row that routes elsewhere (a move the conflict
  // held, or values just taken) is moved by the next push, which would not read the row again otherwise.
  if (runScope.route) {
    const [now] = await runScope.source.readByKeys([key]);
    if (now) await parkMisrouted(runScope, ctx.meta, listId, [{ entry: resolvedPair, row: now.values }]);
  }
  await markResolved(
    ctx.meta,
    conflictId,
    'take' in choice ? `TAKE_${choice.take.toUpperCase()}` : 'VALUES',
    synced,
    resolvedBy,
  );
  return { effect: item ? 'values-written' : 'item-recreated', itemId };
}

/**
 * Resolves a conflict whose Postgres row is gone (I8): a delete that met an edit of the item, or a row deleted while
 * its conflict was open. Taking Postgres confirms the delete; taking SharePoint (or `--values`) brings the row back.
 */
async function resolveRowGone(
  runScope: RunScope,
  conflict: StoredConflict,
  choice: ResolutionChoice,
  resolvedBy: string,
): Promise<Resolution> {
  const { ctx, ledger } = runScope;
  if (runScope.route) await settleMoveFirst(runScope, conflict);
  const entry = (await ledger.byIdentities(ctx.meta, [conflict.identityHash])).get(conflict.identityHash);
  // The row gone routes nowhere: the item lives in the list the entry names (the conflict's item id names an item
  // of the list it was recorded in).
  const scope = runScope.route && entry ? forListId(runScope, entry.listId) : runScope;
  const itemId = entry?.itemId ?? (runScope.route ? null : conflict.itemId);
  const named = itemId
    ? await scope.target.getItem(scope.siteId, scope.listId, itemId, scope.plan.select)
    : null;
  // I15: an item not found is gone only once its list is known to stand.
  if (itemId && !named) await confirmListStands(scope, scope.listId);
  // Else the item carrying the row's hidden key: one an earlier resolve (or a stopped run) created for the pair, whose
  // answer was lost (the entry PENDING_CREATE, no item id). Looked for by the old item id alone, it was left in
  // SharePoint unpaired: never deleted with the row, or the row not brought back from it (I6).
  const item =
    named ??
    (
      await scope.target
        .findItemsByField(
          scope.siteId,
          scope.listId,
          scope.def.target.keyColumn,
          conflict.identityHash,
          scope.plan.select,
        )
        .catch((err: unknown) => rethrowUnlessListGone(scope, scope.listId, err))
    ).sort((a, b) => Number(a.id) - Number(b.id))[0] ??
    null;
  // None found while such a create may still land: nothing is decided until it has, or its wait is over.
  if (!item && entry?.state === 'PENDING_CREATE')
    await refuseWhileCreateMayLand(scope, conflict.id, conflict.identityHash);
  const paired = entry && item && !entry.itemId ? { ...entry, itemId: item.id } : entry;
  if ('take' in choice && choice.take === 'postgres')
    return confirmDelete(scope, conflict, paired, item, resolvedBy);
  if (!item)
    throw new ResolutionValueError(
      conflict.id,
      'both the Postgres row and the SharePoint item are gone, so there is nothing to take values from: resolve ' +
        'with --take postgres to close the conflict (the pair leaves the ledger)',
    );
  await bringRowBack(scope, conflict, choice, paired, item, resolvedBy);
  return { effect: 'row-restored', itemId: item.id };
}

/**
 * The delete stands: the item gets the definition's push delete policy, If-Match on the eTag read now (PROPAGATE
 * deletes it, SOFT flags it, IGNORE keeps it). The pair leaves the ledger, or stays ORPHANED while its item does,
 * so the next push consumes the delete's tombstone without writing again.
 */
async function confirmDelete(
  scope: RunScope,
  conflict: StoredConflict,
  entry: LedgerEntry | undefined,
  item: ListItem | null,
  resolvedBy: string,
): Promise<Resolution> {
  const { ctx, ledger, def, target, siteId, listId } = scope;
  const soft = def.deletes.push === 'SOFT' ? def.deletes.pushSoftColumn : undefined;
  let eTag = item?.eTag ?? null;
  if (item && (def.deletes.push === 'PROPAGATE' || soft)) {
    scope.assertLockHeld();
    const ref = conflict.identityHash;
    const [o] = await target.writeItems(siteId, listId, [
      soft
        ? { kind: 'update', ref, itemId: item.id, eTag: item.eTag, fields: { [soft]: true } }
        : { kind: 'delete', ref, itemId: item.id, eTag: item.eTag },
    ]);
    if (o.status === 'not_found') await confirmListStands(scope, listId);
    if (o.status === 'updated') eTag = writtenETag(scope.plan, o, entry?.syncedValues ?? {});
    else if (o.status === 'deleted' || o.status === 'not_found') eTag = null;
    else throw new ResolutionWriteError(conflict.id, o);
    scope.counts.deleted++;
  }
  if (eTag && entry) await ledger.save(ctx.meta, [{ ...entry, eTag, state: 'ORPHANED' }]);
  else if (entry) await ledger.remove(ctx.meta, [conflict.identityHash]);
  await markResolved(ctx.meta, conflict.id, 'TAKE_POSTGRES', null, resolvedBy);
  if (!item) return { effect: 'pair-removed', itemId: null };
  const effect = def.deletes.push === 'PROPAGATE' ? 'item-deleted' : soft ? 'item-flagged' : 'item-kept';
  return { effect, itemId: item.id };
}

/**
 * The row comes back: it is inserted with the chosen values in an open transaction, the item is written (If-Match)
 * only where `--values` differ from it (or to clear a soft-delete flag), and the transaction commits only when
 * SharePoint took the write, as in every resolution.
 */
async function bringRowBack(
  scope: RunScope,
  conflict: StoredConflict,
  choice: ResolutionChoice,
  entry: LedgerEntry | undefined,
  item: ListItem,
  resolvedBy: string,
): Promise<void> {
  const { ctx, ledger, plan, def, source } = scope;
  const sp = fromGraphFields(item.fields, plan.columns);
  const chosen = chosenValues(scope, conflict.id, choice, sp, sp);
  const synced = pick(chosen, [...new Set([...plan.toSharePoint, ...plan.toPostgres])]);
  const spChanges = pick(synced, differs(synced, sp, plan.toSharePoint));
  const revived = entry ? revivedFields(scope, entry) : {};
  checkSharePointValues(scope, conflict, choice, spChanges);
  const key = def.source.key.map((k) => conflict.identity[k]);
  const client = await scope.sourcePool.connect();
  let written: Record<string, CanonicalValue> = {};
  let marked = false;
  let eTag = item.eTag;
  let row: SourceRow | undefined;
  const rekeyed: Rekeyed = { to: null };
  const hash = conflict.identityHash;
  try {
    marked = await markRunWrites(scope, client); // ours (I3), as in resolveInRun
    await client.query('BEGIN');
    await checkConstraintsPerStatement(client); // refused before SharePoint is written, as in resolveInRun
    written = await writePostgres(scope, client, conflict, synced, synced, 'recreate', rekeyed);
    // Re-created through a view whose trigger made the key: the pair follows the row to its new key (I1).
    if (rekeyed.to) await assertKeysFree(scope, ctx.meta, [{ row: rekeyed.to.row, itemId: item.id }], [hash]);
    [row] = rekeyed.to ? [rekeyed.to.row] : await source.readByKeys([key], client);
    if (Object.keys(spChanges).length || Object.keys(revived).length) {
      const o = await writeSharePoint(scope, conflict, item, spChanges, revived);
      if (o.status === 'rejected' && o.httpStatus >= 400 && o.httpStatus < 500 && o.httpStatus !== 429)
        throw new ResolutionValueError(
          conflict.id,
          `SharePoint refused the values (${o.httpStatus} ${o.code}): ${o.message}`,
        );
      if (o.status !== 'updated') throw new ResolutionWriteError(conflict.id, o);
      eTag = writtenETag(scope.plan, o, synced);
      scope.counts.updated++;
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release(await unmarkForRelease(client, marked));
  }
  const pg = row ? rowToCanonical(plan, row.values, entry) : synced;
  const saved = syncedEntry(
    scope,
    {
      hash: rekeyed.to?.hash ?? hash,
      identity: rekeyed.to?.identity ?? conflict.identity,
      row,
      values: pg,
      pairs: entry?.sourceValues,
    },
    item.id,
    eTag,
    synced,
    row?.cursor ?? null,
    'PUSH',
    item.lastModifiedDateTime ?? null,
  );
  const pairs = sourcePairs(
    plan.fields,
    synced,
    row ? { values: row.values, canonical: pg } : null,
    written,
    entry?.sourceValues ?? null,
    'push',
  );
  // Moved to a new key, the pair leaves its old one in the same commit: a stop between left the item paired twice
  // (the old pair rowless, its item then deleted as the row's delete) or not at all (a second item).
  await inTransaction(ctx.meta, async (meta) => {
    if (rekeyed.to) await ledger.remove(meta, [hash]);
    await ledger.save(meta, [{ ...saved, sourceValues: pairs }]);
  });
  await markResolved(
    ctx.meta,
    conflict.id,
    'take' in choice ? `TAKE_${choice.take.toUpperCase()}` : 'VALUES',
    synced,
    resolvedBy,
  );
}

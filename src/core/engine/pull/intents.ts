/**
 * Pull insert intents (I6, migration 021). When the source table lives in another database than the metadata
 * store, a pull page commits its rows first and its ledger entries second. A crash between the two commits would
 * leave a new item's row without its ledger entry, and the page (its delta position not committed either) would
 * be read again and the item inserted a second time. So the page records each new item it inserted, committed
 * before the source commits, and deletes the record in its metadata transaction. A record left behind is settled
 * before a run reads anything (the pull's pages, the push's rows): the item is paired with its row when the source
 * transaction committed, or read again as new when it did not. The record names that transaction (txid_current),
 * so a row deleted in Postgres since then is not taken for one never committed (its delete is then followed as
 * any other), and a row with the same key that someone else inserted is not taken for the item's. The record also
 * names the server and database the id was taken on (migration 022): where the definition's source is another one
 * now, that id may name another transaction, so the rows tell instead, as for an id the server no longer knows.
 * There the one row holding the key must also hold the values the page inserted (recorded with the intent): a
 * generated key (serial) names, in another database, a row of its own with the same id.
 */
import { inTransaction } from '../../db/transaction';
import type { ErrorKind } from '../../errors/kind';
import {
  describeDatabase,
  otherDatabase,
  sourceDatabase,
  serverIdentityInTransaction,
  type ServerIdentity,
  transactionAndDatabase,
} from '../../source/postgres/database';
import { readSourceTable } from '../../source/postgres/catalog';
import { describeKey } from '../../source/postgres/keys';
import { PostgresSource, type SourceRow } from '../../source/postgres/PostgresSource';
import { resolveParked } from '../../store/failures';
import type { LedgerEntry } from '../../store/ledger';
import { deletePullIntents, pullIntents, recordPullIntents } from '../../store/pullIntents';
import type { InsertedPair, PullInsertIntent, SourceDatabase } from '../../store/pullIntents';
import type { FieldPlan } from '../plan';
import { rowsByIdentity } from '../identity';
import type { RunScope } from '../runner';
import { holdsInserted, valuesJson } from './insertedValues';
import { parkKey } from './parked';
import type { PoolClient } from 'pg';

/**
 * What settling intents works with: a run's scope, or the one relink builds for itself (settleOutsideRun.ts).
 * `route` only decides the parked-failure key (parkKey).
 */
export type IntentScope = Pick<
  RunScope,
  | 'ctx'
  | 'stored'
  | 'def'
  | 'definitionId'
  | 'ledger'
  | 'dryRun'
  | 'sameDatabase'
  | 'sourcePool'
  | 'source'
  | 'route'
  | 'listId'
  | 'assertLockHeld'
> & { plan: Pick<FieldPlan, 'keyKinds'> };

/**
 * A new item's ledger entry with what its page inserted: of the row as the INSERT … RETURNING read it, the columns
 * the item supplied (`supplied`). Those tell the page's row from another row that took the same key, and are the
 * least likely to change after the insert: a cursor column a trigger bumps, a column a default, a trigger or the
 * application fills or edits later would make the page's own row look like another one.
 */
export function insertedPair(entry: LedgerEntry, row: SourceRow, supplied: readonly string[]): InsertedPair {
  const values: Record<string, unknown> = {};
  for (const column of supplied) if (column in row.values) values[column] = row.values[column];
  return { entry, values: valuesJson(values) };
}

/**
 * Run between a page's work and its source COMMIT (inPageTx): records the new items' pairs with the source
 * transaction's id and the rows inserted on a connection of its own (committed now, before any of their rows),
 * then deletes them in the page's metadata transaction `meta`, so they vanish exactly when the ledger entries
 * commit.
 */
export async function recordInsertIntents(
  scope: RunScope,
  source: PoolClient,
  meta: PoolClient,
  inserted: readonly InsertedPair[],
): Promise<void> {
  if (inserted.length === 0) return;
  const { xid, database } = await transactionAndDatabase(source, await runServer(scope, source));
  await recordPullIntents(scope.ctx.meta, scope.definitionId, xid, database, inserted);
  await deletePullIntents(
    meta,
    scope.definitionId,
    inserted.map(({ entry }) => ({ listId: entry.listId, itemId: entry.itemId as string })),
  );
}

/**
 * The source server's identity, read on the first page of a run that records intents (in its savepoint), and kept
 * for the run's later pages (a routed run has one scope per list, so once per list).
 */
const servers = new WeakMap<RunScope, Promise<ServerIdentity>>();

function runServer(scope: RunScope, source: PoolClient): Promise<ServerIdentity> {
  let read = servers.get(scope);
  if (!read) {
    read = serverIdentityInTransaction(source);
    // A failed read (the connection, not a refusal) is read again by the next page rather than remembered.
    read.catch(() => servers.delete(scope));
    servers.set(scope, read);
  }
  return read;
}

/**
 * A stopped pull's source transaction is still open: whether its rows commit is not known yet, so nothing that
 * reads or writes the definition's pairs (a pull or push, relink, resolve) may go on until it ends.
 */
export class SourceTransactionOpenError extends Error {
  override readonly name = 'SourceTransactionOpenError';
  readonly errorKind: ErrorKind = 'busy';
  readonly hint =
    'run the command again once the server has ended that session (it does when it notices the client is gone; ' +
    'idle_in_transaction_session_timeout bounds the wait), or end it with pg_terminate_backend';

  constructor(
    readonly definition: string,
    readonly xid: string,
    items: number,
  ) {
    super(
      `${definition}: the source transaction (xid ${xid}) of a pull that stopped is still open, with the rows of ` +
        `${items} new item(s) it inserted; whether they commit is not known yet, so this stops here, nothing ` +
        'written, rather than insert them again or pair the items with rows that may never commit',
    );
  }
}

type XactStatus = 'committed' | 'aborted' | 'in progress' | null;

/** Invalid parameter value: txid_status of an id the server cannot tell (from after a restore of an older backup). */
const INVALID_PARAMETER_VALUE = '22023';

/**
 * Each source transaction's status; null where the server no longer knows it (too old). `refused`: the server
 * cannot tell these ids at all (they are ahead of it: an older backup restored since), so the rows tell, and a row
 * holding the key may be another one (a restored sequence hands out the same ids again).
 */
async function xactStatuses(
  scope: IntentScope,
  xids: string[],
): Promise<{ statuses: Map<string, XactStatus>; refused: boolean }> {
  if (xids.length === 0) return { statuses: new Map(), refused: false };
  try {
    const { rows } = await scope.sourcePool.query<{ xid: string; status: XactStatus }>(
      'SELECT x AS xid, txid_status(x::bigint) AS status FROM unnest($1::text[]) AS x',
      [xids],
    );
    return { statuses: new Map(rows.map((r) => [r.xid, r.status])), refused: false };
  } catch (err) {
    if ((err as { code?: unknown }).code !== INVALID_PARAMETER_VALUE) throw err;
    scope.ctx.log.warn(`${scope.def.name}: ${(err as Error).message}; the rows tell instead`);
    return { statuses: new Map(), refused: true };
  }
}

/**
 * The rows holding these intents' keys, by identity hash, and how many hold each: what tells whether a source
 * transaction that cannot be asked committed. Read with the columns the intents recorded of their rows (the
 * table's catalog, not the run's plan: relink settles without one), so those values can be compared.
 */
async function rowsHolding(
  scope: IntentScope,
  intents: PullInsertIntent[],
): Promise<{
  rowByHash: Map<string, SourceRow>;
  heldBy: Map<string, number>;
  udtNames: Map<string, string>;
}> {
  const { def } = scope;
  const identities = new Map(intents.map((i) => [i.identityHash, i.identity]));
  const keys = [...identities.values()].map((identity) => def.source.key.map((k) => identity[k]));
  const recorded = new Set(intents.flatMap((i) => Object.keys(i.insertedValues ?? {})));
  let reader = scope.source;
  const table = recorded.size
    ? await readSourceTable(scope.sourcePool, def.source.schema, def.source.table)
    : null;
  // Without its table, the run's reader meets the missing table and says so.
  if (table)
    reader = new PostgresSource(scope.sourcePool, {
      schema: def.source.schema,
      table: def.source.table,
      key: def.source.key,
      cursorColumn: null,
      columns: table.columns.filter((c) => recorded.has(c.name) || def.source.key.includes(c.name)),
    });
  const udtNames = new Map((table?.columns ?? []).map((c) => [c.name, c.udtName]));
  return { ...rowsByIdentity(scope, await reader.readByKeys(keys)), udtNames };
}

/**
 * Settles the intents a stopped pull left (every list of the definition): an item the ledger already pairs needs
 * nothing; an item whose source transaction committed gets the ledger entry its page would have saved, so the
 * page, read again, finds a pair (and writes nothing, or follows what changed in Postgres since); an item whose
 * source transaction rolled back is read again as new. When the server no longer knows the transaction, or the
 * intent was taken on another database, exactly one row with the item's key means it committed; for one taken
 * elsewhere, that row must also hold the values the page inserted, where the intent recorded them. A transaction still open stops the run
 * (SourceTransactionOpenError), every intent kept. Answers how many items were paired. A dry run settles nothing
 * (its ledger keeps no pair for later reads, dryRun.ts): it shows these items as new, though the real run pairs
 * them.
 */
export async function settleInsertIntents(scope: IntentScope): Promise<number> {
  const { ctx, def, definitionId, ledger } = scope;
  // Pages record intents only where the source has its own database (inPageTx): one database pays no query, but
  // settles those left from before its connection was re-pointed there (read with the definition).
  if (scope.dryRun || (scope.sameDatabase && !scope.stored.pullIntentsLeft)) return 0;
  const intents = await pullIntents(ctx.meta, definitionId);
  if (intents.length === 0) return 0;
  // An id taken on another server or database than the source's now may name another transaction there: the
  // rows tell instead of its status (a wrong "committed" pairs an item with a row never inserted here, a wrong
  // "aborted" inserts it a second time).
  const current = await sourceDatabase(scope.sourcePool);
  // Pages record no intent where the source is the metadata database: one recorded before migration 022 (no
  // database) was taken on the source's own database, and this server would answer for another transaction.
  const elsewhere = new Set(
    intents.filter((i) =>
      i.sourceDatabase === null ? scope.sameDatabase : otherDatabase(i.sourceDatabase, current),
    ),
  );
  const asked = await xactStatuses(scope, [
    ...new Set(intents.filter((i) => !elsewhere.has(i)).map((i) => i.sourceXid)),
  ]);
  // Ids the server refused (an older backup restored since) say as little as ids taken elsewhere.
  const unaskable = (i: PullInsertIntent): boolean => elsewhere.has(i) || asked.refused;
  const statusOf = (i: PullInsertIntent): XactStatus =>
    elsewhere.has(i) ? null : (asked.statuses.get(i.sourceXid) ?? null);
  const open = intents.filter((i) => statusOf(i) === 'in progress');
  if (open.length) throw new SourceTransactionOpenError(def.name, open[0].sourceXid, open.length);
  const unknown = intents.filter((i) => statusOf(i) === null);
  const holding = unknown.length ? await rowsHolding(scope, unknown) : null;
  // Told by the rows: exactly one row holds the key, and for an intent taken elsewhere (or refused) that recorded its
  // row, that row holds what the page inserted (else it is another row with the same key: the item is read as new).
  const toldByRows = (i: PullInsertIntent): boolean => {
    if (holding?.heldBy.get(i.identityHash) !== 1) return false;
    if (!unaskable(i) || i.insertedValues === null) return true;
    return holdsInserted(i.insertedValues, holding.rowByHash.get(i.identityHash), holding.udtNames);
  };
  const holders = await ledger.byIdentities(ctx.meta, [...new Set(intents.map((i) => i.identityHash))]);
  const pairedItems = new Set<string>();
  for (const listId of new Set(intents.map((i) => i.listId))) {
    const itemIds = intents.filter((i) => i.listId === listId).map((i) => i.itemId);
    for (const id of (await ledger.byItemIds(ctx.meta, listId, itemIds)).keys())
      pairedItems.add(`${listId}/${id}`);
  }

  const pair: LedgerEntry[] = [];
  for (const intent of intents) {
    if (pairedItems.has(`${intent.listId}/${intent.itemId}`)) continue;
    const committed = statusOf(intent) ?? (toldByRows(intent) ? 'committed' : null);
    if (committed !== 'committed') continue;
    const holder = holders.get(intent.identityHash);
    if (holder && holder.state !== 'UNROUTED') {
      // Told by the rows only, the one row may be that pair's: never replaced (I13); the item is decided as new.
      if (statusOf(intent) !== 'committed') {
        ctx.log.warn(
          `${def.name}: item ${intent.itemId} (list ${intent.listId}) was inserted by a pull that stopped before ` +
            `recording it, and its key is now paired with item ${holder.itemId ?? '(none)'}: it is decided again as new`,
        );
        continue;
      }
      // The committed page inserted this key, so its row was gone, and the page let the new item take the key only
      // because it removed that pair (its item deleted in SharePoint: assertKeysFree): its lost ledger commit would
      // have replaced it. Kept, that pair took the new row for its own, parked the new item and the push then
      // created a second item for the row.
      ctx.log.info(
        `${def.name}: item ${intent.itemId} (list ${intent.listId}) takes the key ${describeKey(intent.identity)} ` +
          `from item ${holder.itemId ?? '(none)'}, whose pair the stopped pull removed`,
      );
    }
    pair.push(intent.entry);
  }

  await inTransaction(ctx.meta, async (client) => {
    await ledger.save(client, pair);
    await deletePullIntents(client, definitionId, intents);
    await resolveParked(
      client,
      definitionId,
      'PULL',
      pair.map((e) => parkKey(scope, e.itemId as string, e.listId)),
    );
    scope.assertLockHeld();
  });
  if (elsewhere.size)
    warnElsewhere(
      scope,
      [...elsewhere].filter((i) => !pairedItems.has(`${i.listId}/${i.itemId}`)),
      current,
      new Set(pair),
    );
  if (pair.length)
    ctx.log.info(
      `${def.name}: paired ${pair.length} item(s) a stopped pull inserted before it could record them`,
    );
  return pair.length;
}

/**
 * Says what became of the intents recorded on another server or database than the source's now (those whose item
 * the ledger already paired left out: nothing was decided for them).
 */
function warnElsewhere(
  scope: IntentScope,
  intents: PullInsertIntent[],
  current: SourceDatabase,
  paired: ReadonlySet<LedgerEntry>,
): void {
  const { def } = scope;
  if (intents.length === 0) return;
  const taken = intents.filter((i) => paired.has(i.entry)).length;
  const where = [
    ...new Set(
      intents.map((i) =>
        i.sourceDatabase === null
          ? 'a database not recorded (before migration 022)'
          : describeDatabase(i.sourceDatabase),
      ),
    ),
  ];
  scope.ctx.log.warn(
    `${def.name}: ${intents.length} new item(s) of a pull that stopped were recorded on ${where.join(', ')}, ` +
      `not on the source of connection "${def.source.connection}" now (${describeDatabase(current)}): their ` +
      'source transaction cannot be asked there, so the rows told instead: ' +
      `${taken} paired with the one row holding their key, ${intents.length - taken} read again as new ` +
      '(where the row the page inserted was recorded, only a row holding its values is paired)',
  );
}

/**
 * Pull insert intents (I6, migration 021). When the source table lives in another database than the metadata
 * store, a pull page commits its rows first and its ledger entries second. A crash between the two commits would
 * leave a new item's row without its ledger entry, and the page (its delta position not committed either) would
 * be read again and the item inserted a second time. So the page records each new item it inserted, committed
 * before the source commits, and deletes the record in its metadata transaction. A record left behind is settled
 * before a run reads anything (the pull's pages, the push's rows): the item is paired with its row when the source
 * committed it, or read again as new when it did not.
 */
import { identityOf } from '../../canonical';
import { resolveParked } from '../../store/failures';
import type { LedgerEntry } from '../../store/ledger';
import { deletePullIntents, pullIntents, recordPullIntents } from '../../store/pullIntents';
import type { RunScope } from '../runner';
import type { PoolClient } from 'pg';

/**
 * Run between a page's work and its source COMMIT (inPageTx): records the new items' pairs on a connection of its
 * own (committed now, before any of their rows), then deletes them in the page's metadata transaction `meta`, so
 * they vanish exactly when the ledger entries commit.
 */
export async function recordInsertIntents(
  scope: RunScope,
  meta: PoolClient,
  entries: readonly LedgerEntry[],
): Promise<void> {
  if (entries.length === 0) return;
  await recordPullIntents(scope.ctx.meta, scope.definitionId, entries);
  await deletePullIntents(
    meta,
    scope.definitionId,
    entries.map((e) => ({ listId: e.listId, itemId: e.itemId as string })),
  );
}

/**
 * Settles the intents a stopped pull left (every list of the definition): an item the ledger already pairs needs
 * nothing; an item whose row the source holds (exactly one row with its key) gets the ledger entry its page would
 * have saved, so the page, read again, finds a pair and writes nothing; an item without a row (the source never
 * committed) is read again as new; a key several rows hold (a view) is left to the pull, which parks the item
 * (I13). Answers how many items were paired. A dry run settles nothing (its ledger keeps no pair for later reads,
 * dryRun.ts): it shows these items as new, to be inserted, though the real run will pair them.
 */
export async function settleInsertIntents(scope: RunScope): Promise<number> {
  const { ctx, def, plan, definitionId, ledger, source } = scope;
  if (scope.dryRun) return 0;
  const intents = await pullIntents(ctx.meta, definitionId);
  if (intents.length === 0) return 0;
  const identities = new Map(intents.map((i) => [i.identityHash, i.identity]));
  const holders = await ledger.byIdentities(ctx.meta, [...identities.keys()]);
  const pairedItems = new Set<string>();
  for (const listId of new Set(intents.map((i) => i.listId))) {
    const itemIds = intents.filter((i) => i.listId === listId).map((i) => i.itemId);
    for (const id of (await ledger.byItemIds(ctx.meta, listId, itemIds)).keys())
      pairedItems.add(`${listId}/${id}`);
  }
  const keys = [...identities.values()].map((identity) => def.source.key.map((k) => identity[k]));
  const rowsHolding = new Map<string, number>();
  for (const r of await source.readByKeys(keys)) {
    const hash = identityOf(def.source.key, r.values, plan.keyKinds).hash;
    rowsHolding.set(hash, (rowsHolding.get(hash) ?? 0) + 1);
  }

  const pair: LedgerEntry[] = [];
  for (const intent of intents) {
    if (pairedItems.has(`${intent.listId}/${intent.itemId}`)) continue;
    if (rowsHolding.get(intent.identityHash) !== 1) continue;
    const holder = holders.get(intent.identityHash);
    if (holder && holder.state !== 'UNROUTED') {
      // Another item's pair holds the key: never replaced (I13); the pull decides this item as a new one.
      ctx.log.warn(
        `${def.name}: item ${intent.itemId} (list ${intent.listId}) was inserted by a pull that stopped before ` +
          `recording it, and its key is now paired with item ${holder.itemId ?? '(none)'}: it is decided again as new`,
      );
      continue;
    }
    pair.push(intent.entry);
  }

  scope.assertLockHeld();
  const client = await ctx.meta.connect();
  try {
    await client.query('BEGIN');
    await ledger.save(client, pair);
    await deletePullIntents(client, definitionId, intents);
    await resolveParked(
      client,
      definitionId,
      'PULL',
      pair.map((e) => (scope.route ? `${e.listId}/${e.itemId as string}` : (e.itemId as string))),
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  if (pair.length)
    ctx.log.info(
      `${def.name}: paired ${pair.length} item(s) a stopped pull inserted before it could record them`,
    );
  return pair.length;
}

import type { Pool, PoolClient } from 'pg';
import {
  bindListId,
  ListAlreadySyncedError,
  otherDefinitionsOfList,
  type StoredDefinition,
} from '../store/definitions';
import { targetListLabel } from '../routing/lists';
import type { ScopeList } from './routing';

/** The first key of a list's claim lock (the second is the list id's hash); the definitions' locks use 'ARCS'. */
const LIST_CLAIM_NAMESPACE = 0x4152434c; // 'ARCL'

/**
 * The definition's list was deleted and re-created, or replaced by another list of the same name: the ledger
 * points at items of a list that is no longer the one its name resolves to (I15). Treating the new list as the
 * old one would skip every row (the ledger says they are synced) and fail every pull, so runs refuse until an
 * operator relinks.
 */
export class ListReplacedError extends Error {
  readonly errorKind = 'invalid_definition' as const;
  readonly hint: string;
  constructor(
    readonly definition: string,
    readonly list: string,
    readonly ledgerListId: string,
    readonly currentListId: string,
  ) {
    super(
      `Definition "${definition}": list "${list}" is now list ${currentListId}, not list ${ledgerListId} that ` +
        'this definition synced with (it was deleted and re-created, or replaced). Nothing was written. Run ' +
        `"npx arcore-sync relink ${definition}" to adopt the current list's items by their hidden key column ` +
        '(rows whose item is gone are created again by the next push).',
    );
    this.name = 'ListReplacedError';
    this.hint = `run "npx arcore-sync relink ${definition}", then run again (the definition itself is fine)`;
  }
}

/**
 * Checks that the list a run resolved is the list its ledger was built on, binding it on the first run. Costs
 * nothing once bound; one indexed query before that.
 */
export async function checkListIdentity(
  meta: Pool | PoolClient,
  stored: StoredDefinition,
  listId: string,
): Promise<void> {
  if (stored.listId === listId) return;
  const def = stored.definition;
  if (stored.listId !== null)
    throw new ListReplacedError(def.name, targetListLabel(def), stored.listId, listId);
  const { rows } = await meta.query<{ sp_list_id: string }>(
    'SELECT sp_list_id FROM arcore.sync_ledger WHERE definition_id = $1 AND sp_list_id <> $2 LIMIT 1',
    [stored.id, listId],
  );
  if (rows.length > 0)
    throw new ListReplacedError(def.name, targetListLabel(def), rows[0].sp_list_id, listId);
  await bindListId(meta, stored.id, listId);
}

/**
 * I15 at a run's start: refuses a list another definition holds (otherDefinitionsOfList), then `bind`s the run's
 * lists to this definition. Check and bind are one transaction under each list's claim lock (a transaction-scoped
 * advisory lock keyed by the list id), so of two definitions whose first runs overlap on one list (named two ways,
 * which `apply` cannot tell apart), the second to take the lock sees the first's binding and writes nothing. A
 * definition already bound to its one list needs neither: a run binding the list after it sees that binding.
 */
export async function claimLists(
  meta: Pool,
  stored: StoredDefinition,
  lists: ScopeList[],
  bind: ((db: PoolClient) => Promise<void>) | null,
): Promise<void> {
  if (bind === null) {
    await refuseShared(meta, stored, lists);
    return;
  }
  const client = await meta.connect();
  try {
    await client.query('BEGIN');
    await lockListClaims(client, lists);
    await bind(client);
    await refuseShared(client, stored, lists);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Takes each list's claim lock for the rest of `client`'s transaction, one at a time in id order, so that two
 * transactions claiming overlapping lists wait for each other in one order and never deadlock. Whoever binds a list
 * to a definition holds it from its check to its commit: a run's claim (claimLists) and relink (relink.ts).
 */
export async function lockListClaims(client: PoolClient, lists: { listId: string }[]): Promise<void> {
  for (const id of [...new Set(lists.map((l) => l.listId))].sort())
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LIST_CLAIM_NAMESPACE, id]);
}

/** Fails with ListAlreadySyncedError when another definition holds one of `lists` (I15). */
export async function refuseShared(
  db: Pool | PoolClient,
  stored: StoredDefinition,
  lists: ScopeList[],
): Promise<void> {
  for (const list of lists) {
    const sharing = await otherDefinitionsOfList(db, list.listId, stored.id);
    if (sharing.length > 0)
      throw new ListAlreadySyncedError(stored.definition.name, list.name, list.listId, sharing);
  }
}

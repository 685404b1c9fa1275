import type { Pool, PoolClient } from 'pg';
import type { LedgerEntry } from './ledger';

type Db = Pool | PoolClient;

/**
 * A new SharePoint item whose row a pull page inserted in a source database apart from the metadata store
 * (migration 021): recorded and committed before the source commits, deleted with the page's ledger entries.
 */
export interface PullInsertIntent {
  listId: string;
  itemId: string;
  identity: Record<string, unknown>;
  identityHash: string;
  /** The ledger entry the page would have saved for the item. */
  entry: LedgerEntry;
  /** The page's source transaction (txid_current, as text): committed or not, its status tells. */
  sourceXid: string;
}

/** Records intents (autocommit when `db` is a pool): a record left by an earlier attempt is replaced. */
export async function recordPullIntents(
  db: Db,
  definitionId: string,
  sourceXid: string,
  entries: readonly LedgerEntry[],
): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO arcore.pull_insert_intents (definition_id, list_id, item_id, identity, identity_hash, entry,
       source_xid)
     SELECT $1, x.entry->>'listId', x.entry->>'itemId', x.entry->'identity', x.entry->>'identityHash', x.entry,
       $3::bigint
       FROM jsonb_array_elements($2::jsonb) AS x(entry)
     ON CONFLICT (definition_id, list_id, item_id) DO UPDATE SET identity = EXCLUDED.identity,
       identity_hash = EXCLUDED.identity_hash, entry = EXCLUDED.entry, source_xid = EXCLUDED.source_xid,
       recorded_at = now()`,
    [definitionId, JSON.stringify(entries), sourceXid],
  );
}

/** Deletes the intents of these items of one list. */
export async function deletePullIntents(
  db: Db,
  definitionId: string,
  items: readonly { listId: string; itemId: string }[],
): Promise<void> {
  if (items.length === 0) return;
  await db.query(
    `DELETE FROM arcore.pull_insert_intents i USING jsonb_to_recordset($2::jsonb) AS x(l text, i text)
      WHERE i.definition_id = $1 AND i.list_id = x.l AND i.item_id = x.i`,
    [definitionId, JSON.stringify(items.map((t) => ({ l: t.listId, i: t.itemId })))],
  );
}

/** Every intent a definition has left, oldest first. */
export async function pullIntents(db: Db, definitionId: string): Promise<PullInsertIntent[]> {
  const { rows } = await db.query<{
    list_id: string;
    item_id: string;
    identity: Record<string, unknown>;
    identity_hash: string;
    entry: LedgerEntry;
    source_xid: string;
  }>(
    `SELECT list_id, item_id, identity, identity_hash, entry, source_xid::text AS source_xid
       FROM arcore.pull_insert_intents
      WHERE definition_id = $1 ORDER BY recorded_at, list_id, item_id`,
    [definitionId],
  );
  return rows.map((r) => ({
    listId: r.list_id,
    itemId: r.item_id,
    identity: r.identity,
    identityHash: r.identity_hash,
    entry: r.entry,
    sourceXid: r.source_xid,
  }));
}

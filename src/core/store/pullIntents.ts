import type { Pool, PoolClient } from 'pg';
import type { LedgerEntry } from './ledger';

type Db = Pool | PoolClient;

/**
 * The source server, its timeline and the database a transaction id was taken on (migrations 022 and 023): its
 * status is asked only there. `systemId` and `timeline` are each null where the role may not read them
 * (pg_control_system(), pg_walfile_name()), and `timeline` for intents recorded before migration 023.
 */
export interface SourceDatabase {
  systemId: string | null;
  timeline: string | null;
  databaseOid: string;
  databaseName: string;
}

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
  /** Where that transaction was taken; null for intents recorded before migration 022. */
  sourceDatabase: SourceDatabase | null;
  /**
   * The row the page inserted, as its INSERT … RETURNING read it: column → that value's JSON text. Null for intents
   * recorded before these were kept.
   */
  insertedValues: Record<string, string> | null;
}

/** A new item's ledger entry with the row its page inserted (column → JSON text of the value as read). */
export interface InsertedPair {
  entry: LedgerEntry;
  values: Record<string, string>;
}

/** Records intents (autocommit when `db` is a pool): a record left by an earlier attempt is replaced. */
export async function recordPullIntents(
  db: Db,
  definitionId: string,
  sourceXid: string,
  source: SourceDatabase,
  inserted: readonly InsertedPair[],
): Promise<void> {
  if (inserted.length === 0) return;
  await db.query(
    `INSERT INTO arcore.pull_insert_intents (definition_id, list_id, item_id, identity, identity_hash, entry,
       source_xid, source_system_id, source_database_oid, source_database_name, inserted_values, source_timeline)
     SELECT $1, x.p->'entry'->>'listId', x.p->'entry'->>'itemId', x.p->'entry'->'identity',
       x.p->'entry'->>'identityHash', x.p->'entry', $3::bigint, $4, $5::bigint, $6, x.p->'values', $7::bigint
       FROM jsonb_array_elements($2::jsonb) AS x(p)
     ON CONFLICT (definition_id, list_id, item_id) DO UPDATE SET identity = EXCLUDED.identity,
       identity_hash = EXCLUDED.identity_hash, entry = EXCLUDED.entry, source_xid = EXCLUDED.source_xid,
       source_system_id = EXCLUDED.source_system_id, source_database_oid = EXCLUDED.source_database_oid,
       source_database_name = EXCLUDED.source_database_name, inserted_values = EXCLUDED.inserted_values,
       source_timeline = EXCLUDED.source_timeline, recorded_at = now()`,
    [
      definitionId,
      JSON.stringify(inserted),
      sourceXid,
      source.systemId,
      source.databaseOid,
      source.databaseName,
      source.timeline,
    ],
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
    system_id: string | null;
    timeline: string | null;
    database_oid: string | null;
    database_name: string | null;
    inserted_values: Record<string, string> | null;
  }>(
    `SELECT list_id, item_id, identity, identity_hash, entry, source_xid::text AS source_xid,
            source_system_id AS system_id, source_timeline::text AS timeline, source_database_oid::text AS database_oid,
            source_database_name AS database_name, inserted_values
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
    sourceDatabase:
      r.database_oid === null || r.database_name === null
        ? null
        : {
            systemId: r.system_id,
            timeline: r.timeline,
            databaseOid: r.database_oid,
            databaseName: r.database_name,
          },
    insertedValues: r.inserted_values,
  }));
}

import type { Pool, PoolClient } from 'pg';
import type { CanonicalRecord, CanonicalValue } from '../canonical';
import { mayStillLandSql } from './runs';
import { textArrayParam } from '../db/textArray';

/**
 * UNROUTED: a routed definition's row that no route matches and that was never synced (no list, no item).
 * ITEM_DELETED: the item was deleted in SharePoint and deletes.pull IGNORE kept the row (migration 027).
 */
export type LedgerState = 'SYNCED' | 'PENDING_CREATE' | 'ORPHANED' | 'UNROUTED' | 'ITEM_DELETED';
export type Provenance = 'PUSH' | 'PULL';

/**
 * For a field with a transform pipeline, what each side held when it last synced (migration 013): `sp` the
 * SharePoint value (as in syncedValues), `pg` the Postgres input the pipeline read. `push` stamps the push
 * pipeline that wrote `sp`, `pull` the pull pipeline that wrote `pg` (engine/transform.ts producedStamps, I14): a
 * backfill of a direction re-derives a value an older pipeline of that direction wrote. A value that direction
 * did not write has no stamp of it; both are absent on pairs saved before the stamps existed.
 */
export interface SourcePair {
  sp: CanonicalValue;
  pg: unknown;
  push?: string;
  pull?: string;
  /**
   * The pair a backfill was about to make when it wrote one side, saved before that write (I6): should the run stop
   * before its ledger commit, a later run that finds the sides holding it takes them as in sync, with its stamps,
   * even after the pipeline changed again (engine/transform.ts agreedUnderCurrentPipelines). Dropped by the next
   * save of the field's pair.
   */
  next?: SourcePair;
}
export type SourcePairs = Record<string, SourcePair>;
type Db = Pool | PoolClient;

/** One synced pair: a source row (by identity) and its SharePoint item (I1). */
export interface LedgerEntry {
  identityHash: string;
  /** Key column → key value, as read from the source. */
  identity: Record<string, unknown>;
  listId: string;
  itemId: string | null;
  eTag: string | null;
  syncedValues: CanonicalRecord | null;
  contentHash: string | null;
  provenance: Provenance | null;
  state: LedgerState;
  lastSourceTs: string | null;
  spModifiedAt: string | null;
  /** Transformed fields only; absent or null: none recorded (entries saved before migration 013). */
  sourceValues?: SourcePairs | null;
}

/** A PENDING_CREATE entry, and how long ago a later run first missed its item (null: not looked for yet). */
export interface PendingCreate {
  entry: LedgerEntry;
  checkedSecondsAgo: number | null;
  /** Its create may still land: the run that recorded it never finished, or is unknown (store/runs.ts). */
  mayStillLand: boolean;
}

interface LedgerRow {
  source_identity_hash: string;
  source_identity: Record<string, unknown>;
  sp_list_id: string;
  sp_item_id: string | null;
  sp_etag: string | null;
  synced_values: CanonicalRecord | null;
  content_hash: string | null;
  provenance: Provenance | null;
  state: LedgerState;
  last_source_ts: string | null;
  sp_modified_at: string | null;
  synced_source_values: SourcePairs | null;
}

const COLUMNS = `source_identity_hash, source_identity, sp_list_id, sp_item_id, sp_etag, synced_values, content_hash,
  provenance, state, last_source_ts::text AS last_source_ts, sp_modified_at::text AS sp_modified_at,
  synced_source_values`;

function fromRow(r: LedgerRow): LedgerEntry {
  return {
    identityHash: r.source_identity_hash,
    identity: r.source_identity,
    listId: r.sp_list_id,
    itemId: r.sp_item_id,
    eTag: r.sp_etag,
    syncedValues: r.synced_values,
    contentHash: r.content_hash,
    provenance: r.provenance,
    state: r.state,
    lastSourceTs: r.last_source_ts,
    spModifiedAt: r.sp_modified_at,
    sourceValues: r.synced_source_values,
  };
}

/**
 * Entries saved by one statement. Serialising a statement's entries holds the thread (about 10 ms for a push page of
 * 1,000): in statements of this size, the answers of batches in flight are read between them (issue 23.1).
 */
export const SAVE_ROWS_PER_STATEMENT = 250;

export class LedgerStore {
  constructor(
    readonly definitionId: string,
    readonly keyStrategy: 'PRIMARY_KEY' | 'COMPOSITE_COLUMNS',
    readonly connection: string,
  ) {}

  /** One query for a whole page of identities (no per-row round trips). */
  async byIdentities(db: Db, hashes: string[]): Promise<Map<string, LedgerEntry>> {
    if (hashes.length === 0) return new Map();
    const { rows } = await db.query<LedgerRow>(
      `SELECT ${COLUMNS} FROM arcore.sync_ledger WHERE definition_id = $1 AND source_identity_hash = ANY($2)`,
      [this.definitionId, textArrayParam(hashes)],
    );
    return new Map(rows.map((r) => [r.source_identity_hash, fromRow(r)]));
  }

  async byItemIds(db: Db, listId: string, itemIds: string[]): Promise<Map<string, LedgerEntry>> {
    if (itemIds.length === 0) return new Map();
    const { rows } = await db.query<LedgerRow>(
      `SELECT ${COLUMNS} FROM arcore.sync_ledger WHERE definition_id = $1 AND sp_list_id = $2 AND sp_item_id = ANY($3)`,
      [this.definitionId, listId, itemIds],
    );
    return new Map(rows.map((r) => [r.sp_item_id as string, fromRow(r)]));
  }

  /**
   * Inserts or replaces entries, SAVE_ROWS_PER_STATEMENT to a statement. A PENDING_CREATE entry is written (and
   * committed) before its create is sent, so a rerun after a crash knows an item may exist (I6). `confirms`: members
   * of `entries` that complete this run's pending creates with the values those were saved with (confirmCreates).
   */
  async save(db: Db, entries: LedgerEntry[], confirms?: ReadonlySet<LedgerEntry>): Promise<void> {
    let rest = entries;
    if (confirms && confirms.size > 0) {
      const confirming = entries.filter((e) => confirms.has(e));
      rest = entries.filter((e) => !confirms.has(e));
      // An entry found not pending (not expected: the run holds the definition's lock) is saved whole, before the
      // rest: a later entry of the same row in this save must still come last.
      const unconfirmed = await this.confirmCreates(db, confirming);
      await this.saveAll(db, unconfirmed);
    }
    await this.saveAll(db, rest);
  }

  private async saveAll(db: Db, entries: LedgerEntry[]): Promise<void> {
    for (let start = 0; start < entries.length; start += SAVE_ROWS_PER_STATEMENT)
      await this.saveChunk(db, entries.slice(start, start + SAVE_ROWS_PER_STATEMENT));
  }

  /**
   * Turns this run's PENDING_CREATE entries into the SYNCED entries of the items their creates made, without sending
   * the synced values again: each `entries` member must carry the values its pending entry was saved with (what the
   * create sent, I6). Only the item's identity and version travel, about a third of a whole entry (issue 23.3).
   * Returns the entries whose pending entry (same list, same source version) was not there: the caller saves those.
   */
  private async confirmCreates(db: Db, entries: LedgerEntry[]): Promise<LedgerEntry[]> {
    const missed: LedgerEntry[] = [];
    for (let start = 0; start < entries.length; start += SAVE_ROWS_PER_STATEMENT) {
      const chunk = entries.slice(start, start + SAVE_ROWS_PER_STATEMENT);
      const payload = chunk.map((e) => ({
        h: e.identityHash,
        l: e.listId,
        item: e.itemId,
        etag: e.eTag,
        c: e.contentHash,
        ts: e.lastSourceTs,
        m: e.spModifiedAt,
        sv: e.sourceValues ?? null,
      }));
      const { rows } = await db.query<{ h: string }>(
        `UPDATE arcore.sync_ledger AS l
            SET sp_item_id = x.item, sp_etag = x.etag, content_hash = x.c, provenance = 'PUSH', state = 'SYNCED',
                sp_modified_at = x.m::timestamptz, synced_source_values = x.sv, last_sync_ts = now(),
                pending_checked_at = NULL
           FROM jsonb_to_recordset($2::jsonb) AS x(h text, l text, item text, etag text, c text, ts text, m text,
                sv jsonb)
          WHERE l.definition_id = $1 AND l.source_identity_hash = x.h AND l.state = 'PENDING_CREATE'
            AND l.sp_list_id = x.l AND l.last_source_ts IS NOT DISTINCT FROM x.ts::timestamptz
        RETURNING l.source_identity_hash AS h`,
        [this.definitionId, JSON.stringify(payload)],
      );
      if (rows.length === chunk.length) continue;
      const done = new Set(rows.map((r) => r.h));
      for (const e of chunk) if (!done.has(e.identityHash)) missed.push(e);
    }
    return missed;
  }

  private async saveChunk(db: Db, entries: LedgerEntry[]): Promise<void> {
    const payload = entries.map((e) => ({
      h: e.identityHash,
      i: e.identity,
      l: e.listId,
      item: e.itemId,
      etag: e.eTag,
      v: e.syncedValues,
      c: e.contentHash,
      p: e.provenance,
      s: e.state,
      ts: e.lastSourceTs,
      m: e.spModifiedAt,
      sv: e.sourceValues ?? null,
    }));
    await db.query(
      `INSERT INTO arcore.sync_ledger AS l (definition_id, source_identity_hash, source_identity, source_key_strategy,
         source_connection, sp_list_id, sp_item_id, sp_etag, synced_values, content_hash, provenance, state,
         last_source_ts, sp_modified_at, synced_source_values, last_sync_ts)
       SELECT $1, x.h, x.i, $2, $3, x.l, x.item, x.etag, x.v, x.c, x.p, x.s, x.ts::timestamptz, x.m::timestamptz, x.sv,
              now()
         FROM jsonb_to_recordset($4::jsonb) AS x(h text, i jsonb, l text, item text, etag text, v jsonb, c text,
              p text, s text, ts text, m text, sv jsonb)
       ON CONFLICT (definition_id, source_identity_hash) DO UPDATE SET
         source_identity = EXCLUDED.source_identity, sp_list_id = EXCLUDED.sp_list_id, sp_item_id = EXCLUDED.sp_item_id,
         sp_etag = EXCLUDED.sp_etag, synced_values = EXCLUDED.synced_values, content_hash = EXCLUDED.content_hash,
         provenance = EXCLUDED.provenance, state = EXCLUDED.state, last_source_ts = EXCLUDED.last_source_ts,
         sp_modified_at = EXCLUDED.sp_modified_at, synced_source_values = EXCLUDED.synced_source_values,
         last_sync_ts = now(), pending_checked_at = NULL`,
      [this.definitionId, this.keyStrategy, this.connection, JSON.stringify(payload)],
    );
  }

  async remove(db: Db, hashes: string[]): Promise<void> {
    if (hashes.length === 0) return;
    await db.query(
      'DELETE FROM arcore.sync_ledger WHERE definition_id = $1 AND source_identity_hash = ANY($2)',
      [this.definitionId, textArrayParam(hashes)],
    );
  }

  /** Entries whose create was in flight when a run stopped. */
  /**
   * Entries left PENDING_CREATE, each with how long ago a run first looked for its item and did not find it
   * (null: not looked for since it was saved), by the database's clock.
   */
  async pendingCreates(db: Db): Promise<PendingCreate[]> {
    const { rows } = await db.query<
      LedgerRow & { checked_seconds_ago: number | null; may_still_land: boolean }
    >(
      `SELECT ${COLUMNS}, extract(epoch FROM now() - pending_checked_at)::float8 AS checked_seconds_ago,
              ${mayStillLandSql('l.definition_id', 'l.last_sync_ts')} AS may_still_land
         FROM arcore.sync_ledger l WHERE l.definition_id = $1 AND l.state = 'PENDING_CREATE'`,
      [this.definitionId],
    );
    return rows.map((r) => ({
      entry: fromRow(r),
      checkedSecondsAgo: r.checked_seconds_ago,
      mayStillLand: r.may_still_land,
    }));
  }

  /** Records that a run looked for these pending creates' items and found none (only the first look counts). */
  async markPendingChecked(db: Db, hashes: string[]): Promise<void> {
    if (hashes.length === 0) return;
    await db.query(
      `UPDATE arcore.sync_ledger SET pending_checked_at = now()
        WHERE definition_id = $1 AND source_identity_hash = ANY($2) AND state = 'PENDING_CREATE'
          AND pending_checked_at IS NULL`,
      [this.definitionId, hashes],
    );
  }

  /** Entries in identity-hash order after `afterHash`, for reconciliation in bounded batches. */
  async batchAfter(db: Db, afterHash: string, limit: number): Promise<LedgerEntry[]> {
    const { rows } = await db.query<LedgerRow>(
      `SELECT ${COLUMNS} FROM arcore.sync_ledger WHERE definition_id = $1 AND source_identity_hash > $2
        ORDER BY source_identity_hash LIMIT $3`,
      [this.definitionId, afterHash, limit],
    );
    return rows.map(fromRow);
  }

  /**
   * Like batchAfter, but only what tells whether an entry's row still exists (no synced values): the delete
   * sweep reads a chunk of these on every push and loads full entries only for rows found gone.
   */
  async identitiesAfter(
    db: Db,
    afterHash: string,
    limit: number,
  ): Promise<{ identityHash: string; identity: Record<string, unknown>; live: boolean }[]> {
    const { rows } = await db.query<{ h: string; i: Record<string, unknown>; live: boolean }>(
      `SELECT source_identity_hash AS h, source_identity AS i, ((state = 'SYNCED' AND sp_item_id IS NOT NULL) OR state IN ('UNROUTED', 'ITEM_DELETED')) AS live
         FROM arcore.sync_ledger WHERE definition_id = $1 AND source_identity_hash > $2
        ORDER BY source_identity_hash LIMIT $3`,
      [this.definitionId, afterHash, limit],
    );
    return rows.map((r) => ({ identityHash: r.h, identity: r.i, live: r.live }));
  }

  async count(db: Db): Promise<number> {
    const { rows } = await db.query<{ n: string }>(
      "SELECT count(*) AS n FROM arcore.sync_ledger WHERE definition_id = $1 AND state <> 'ORPHANED'",
      [this.definitionId],
    );
    return Number(rows[0].n);
  }

  async markSeen(db: Db, listId: string, itemIds: string[], runId: string): Promise<void> {
    if (itemIds.length === 0) return;
    await db.query(
      'UPDATE arcore.sync_ledger SET seen_run = $4 WHERE definition_id = $1 AND sp_list_id = $2 AND sp_item_id = ANY($3)',
      [this.definitionId, listId, itemIds, runId],
    );
  }

  /**
   * Marks entries seen by identity: pairs a page adopted (an item carrying a pending create's key), whose item id
   * the ledger records only once the page's write-back to SharePoint succeeded, after `markSeen` ran.
   */
  async markSeenIdentities(db: Db, hashes: string[], runId: string): Promise<void> {
    if (hashes.length === 0) return;
    await db.query(
      'UPDATE arcore.sync_ledger SET seen_run = $3 WHERE definition_id = $1 AND source_identity_hash = ANY($2)',
      [this.definitionId, hashes, runId],
    );
  }

  /**
   * Entries a full enumeration did not see: their items are gone from SharePoint. Only entries last saved before the
   * enumeration began (its run's start): one a push saved between the runs of a resumed enumeration may point at an
   * item made after the pages already read, which a resumed feed need not show (I8; a delete missed so is met by
   * the next write to the item, or the next full enumeration). In identity order after `afterHash`: the caller
   * pages through them whatever becomes of each (one an open conflict holds stays as it is).
   */
  async unseen(db: Db, listId: string, runId: string, limit: number, afterHash = ''): Promise<LedgerEntry[]> {
    const { rows } = await db.query<LedgerRow>(
      `SELECT ${COLUMNS} FROM arcore.sync_ledger
        WHERE definition_id = $1 AND sp_list_id = $2 AND sp_item_id IS NOT NULL AND state = 'SYNCED'
          AND seen_run IS DISTINCT FROM $3
          AND last_sync_ts < COALESCE((SELECT started_at FROM arcore.sync_runs WHERE id = $3), 'infinity')
          AND source_identity_hash > $5
        ORDER BY source_identity_hash LIMIT $4`,
      [this.definitionId, listId, runId, limit, afterHash],
    );
    return rows.map(fromRow);
  }
}

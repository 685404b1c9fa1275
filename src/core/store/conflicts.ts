import type { Pool, PoolClient } from 'pg';
import type { CanonicalRecord } from '../canonical';
import { inTransaction } from '../db/transaction';
import { textArrayParam } from '../db/textArray';

type Db = Pool | PoolClient;

export interface ConflictRecord {
  runId: string | null;
  identityHash: string;
  identity: Record<string, unknown>;
  itemId: string | null;
  detectedBy: 'PUSH' | 'PULL';
  policy: string;
  base: CanonicalRecord | null;
  postgres: CanonicalRecord | null;
  sharepoint: CanonicalRecord | null;
  outcome: string;
  resolvedValues: CanonicalRecord | null;
  /** OPEN: parked under MANUAL, neither side changes until resolved. */
  status: 'OPEN' | 'RESOLVED';
  reason: string;
  /** The fields in conflict (I7). */
  fields?: string[];
  /**
   * CHANGE (default): both sides changed the pair. COPY: the item carries the key of a row paired with another
   * live item; it is not applied, and it does not park the pair.
   */
  kind?: ConflictKind;
  /** COPY: the list the item is in (item ids are only unique within a list; a routed definition has several). */
  listId?: string;
}

export type ConflictKind = 'CHANGE' | 'COPY';

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

/** Every conflict is recorded with base, Postgres and SharePoint values and its outcome (I7). */
export async function recordConflict(db: Db, definitionId: string, c: ConflictRecord): Promise<string> {
  const kind = c.kind ?? 'CHANGE';
  // One OPEN conflict per pair (CHANGE) or per item (COPY): a conflict seen again updates the open record.
  const arbiter =
    kind === 'CHANGE'
      ? `(definition_id, source_identity_hash) WHERE status = 'OPEN' AND kind = 'CHANGE'`
      : `(definition_id, sp_list_id, sp_item_id) WHERE status = 'OPEN' AND kind = 'COPY'`;
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO arcore.sync_conflicts (definition_id, run_id, source_identity_hash, source_identity, sp_item_id,
       detected_by, policy, base_values, postgres_values, sharepoint_values, outcome, resolved_values, status, reason,
       resolved_at, resolved_by, fields, kind, sp_list_id)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,
       CASE WHEN $13 = 'RESOLVED' THEN now() END, CASE WHEN $13 = 'RESOLVED' THEN 'policy' END, $15, $16, $17)
     ON CONFLICT ${arbiter} DO UPDATE SET
       postgres_values = EXCLUDED.postgres_values, sharepoint_values = EXCLUDED.sharepoint_values,
       reason = EXCLUDED.reason, fields = EXCLUDED.fields
     RETURNING id`,
    [
      definitionId,
      c.runId,
      c.identityHash,
      JSON.stringify(c.identity),
      c.itemId,
      c.detectedBy,
      c.policy,
      json(c.base),
      json(c.postgres),
      json(c.sharepoint),
      c.outcome,
      json(c.resolvedValues),
      c.status,
      c.reason,
      c.fields ?? [],
      kind,
      c.listId ?? null,
    ],
  );
  return rows[0].id;
}

/**
 * Replaces the record `id` of a decision that did not hold (the push's write for it met an item deleted meanwhile)
 * with the decision made instead, or removes it when that one is no conflict. One transaction: a stop leaves the
 * one record or the other, never both, never neither.
 */
export async function supersedeConflict(
  pool: Pool,
  definitionId: string,
  id: string,
  c: ConflictRecord | null,
): Promise<string | null> {
  return inTransaction(pool, async (client) => {
    await client.query('DELETE FROM arcore.sync_conflicts WHERE id = $1 AND definition_id = $2', [
      id,
      definitionId,
    ]);
    return c ? recordConflict(client, definitionId, c) : null;
  });
}

/**
 * Closes the OPEN COPY conflicts of these items of list `listId`: the item was adopted, deleted, or no longer carries
 * a paired key. A record without a list (kept from before migration 049 with nothing to tell it) is closed by its
 * item id alone. Returns how many were closed.
 */
export async function closeCopyConflicts(
  db: Db,
  definitionId: string,
  listId: string,
  itemIds: string[],
  outcome: string,
): Promise<number> {
  if (itemIds.length === 0) return 0;
  const { rowCount } = await db.query(
    `UPDATE arcore.sync_conflicts SET status = 'RESOLVED', outcome = $3, resolved_at = now(), resolved_by = 'pull'
      WHERE definition_id = $1 AND kind = 'COPY' AND status = 'OPEN' AND sp_item_id = ANY($2)
        AND (sp_list_id = $4 OR sp_list_id IS NULL)`,
    [definitionId, itemIds, outcome, listId],
  );
  return rowCount ?? 0;
}

/** An OPEN COPY conflict's item and the key its pull retry is parked under (list-qualified when routed). */
export interface OpenCopy {
  conflictId: string;
  identityHash: string;
  itemId: string;
  parkKey: string;
}

/**
 * The items recorded as copies of these rows' paired items (OPEN COPY conflicts), each with its parked pull retry
 * (recordCopy parks it with the conflict): where the pull reads it again.
 */
export async function openCopiesOf(db: Db, definitionId: string, hashes: string[]): Promise<OpenCopy[]> {
  if (hashes.length === 0) return [];
  const { rows } = await db.query<OpenCopy>(
    `SELECT c.id AS "conflictId", c.source_identity_hash AS "identityHash", c.sp_item_id AS "itemId",
            f.item_key AS "parkKey"
       FROM arcore.sync_conflicts c
       JOIN arcore.sync_failures f ON f.definition_id = c.definition_id AND f.direction = 'PULL'
        AND f.status = 'PARKED' AND f.sp_item_id = c.sp_item_id AND f.source_identity = c.source_identity
      WHERE c.definition_id = $1 AND c.kind = 'COPY' AND c.status = 'OPEN' AND c.source_identity_hash = ANY($2)
      ORDER BY c.id`,
    [definitionId, textArrayParam(hashes)],
  );
  return rows;
}

/** Closes COPY conflicts by id: their item now stands for the row (adopted). */
export async function adoptCopyConflicts(db: Db, definitionId: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE arcore.sync_conflicts SET status = 'RESOLVED', outcome = 'ADOPTED', resolved_at = now(), resolved_by = 'pull'
      WHERE definition_id = $1 AND kind = 'COPY' AND status = 'OPEN' AND id = ANY($2::bigint[])`,
    [definitionId, ids],
  );
}

/**
 * One side's values, as a run read them now, of pairs held by an OPEN conflict (null: that side is gone). Every run
 * skips a held pair, so the record kept the values of when the conflict was detected: `conflicts show` offered the
 * operator a choice between values no longer there, while `resolve` takes each side as it is (a Postgres row
 * deleted meanwhile was shown as a live row whose values `--take postgres` would keep, and it deleted the item).
 */
export async function refreshOpenConflicts(
  db: Db,
  definitionId: string,
  side: 'postgres' | 'sharepoint',
  now: { identityHash: string; values: CanonicalRecord | null }[],
): Promise<void> {
  if (now.length === 0) return;
  const column = side === 'postgres' ? 'postgres_values' : 'sharepoint_values';
  await db.query(
    `UPDATE arcore.sync_conflicts c SET ${column} = NULLIF(x.v, 'null'::jsonb)
       FROM jsonb_to_recordset($2::jsonb) AS x(h text, v jsonb)
      WHERE c.definition_id = $1 AND c.status = 'OPEN' AND c.kind = 'CHANGE' AND c.source_identity_hash = x.h
        AND c.${column} IS DISTINCT FROM NULLIF(x.v, 'null'::jsonb)`,
    [definitionId, JSON.stringify(now.map((n) => ({ h: n.identityHash, v: n.values })))],
  );
}

/** Identities with an OPEN (parked) conflict among these; a COPY conflict does not park its row. */
export async function openConflictIdentities(
  db: Db,
  definitionId: string,
  hashes: string[],
): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const { rows } = await db.query<{ h: string }>(
    `SELECT source_identity_hash AS h FROM arcore.sync_conflicts
      WHERE definition_id = $1 AND status = 'OPEN' AND kind = 'CHANGE' AND source_identity_hash = ANY($2)`,
    [definitionId, textArrayParam(hashes)],
  );
  return new Set(rows.map((r) => r.h));
}

export interface StoredConflict {
  id: string;
  definitionId: string;
  identityHash: string;
  identity: Record<string, unknown>;
  itemId: string | null;
  status: 'OPEN' | 'RESOLVED';
  base: CanonicalRecord | null;
  postgres: CanonicalRecord | null;
  sharepoint: CanonicalRecord | null;
  kind: ConflictKind;
  fields: string[];
}

export async function getConflict(db: Db, id: string): Promise<StoredConflict | null> {
  const { rows } = await db.query(
    `SELECT id, definition_id, source_identity_hash, source_identity, sp_item_id, status, base_values,
            postgres_values, sharepoint_values, kind, fields FROM arcore.sync_conflicts WHERE id = $1`,
    [id],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    definitionId: r.definition_id,
    identityHash: r.source_identity_hash,
    identity: r.source_identity,
    itemId: r.sp_item_id,
    status: r.status,
    base: r.base_values,
    postgres: r.postgres_values,
    sharepoint: r.sharepoint_values,
    kind: r.kind,
    fields: r.fields,
  };
}

/** Records a conflict's resolution; one resolved already keeps the decision and the audit it has. */
export async function markResolved(
  db: Db,
  id: string,
  outcome: string,
  values: CanonicalRecord | null,
  by: string,
): Promise<void> {
  await db.query(
    `UPDATE arcore.sync_conflicts SET status = 'RESOLVED', outcome = $2, resolved_values = $3, resolved_at = now(),
       resolved_by = $4 WHERE id = $1 AND status = 'OPEN'`,
    [id, outcome, json(values), by],
  );
}

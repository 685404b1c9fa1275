import type { Pool } from 'pg';
import { z } from 'zod';

/** A unique index by name with its key columns in order. */
export interface NamedIndex {
  name: string;
  columns: string[];
}

/**
 * What a table's deletes and updates carry of the old row in the WAL (pg_class.relreplident): the replica
 * identity. Logical decoding can name a deleted row only by these columns.
 */
export interface ReplicaIdentityInfo {
  /** `DEFAULT` (the primary key, nothing without one), `NOTHING`, `FULL` (every column), `INDEX` (a chosen index). */
  setting: 'DEFAULT' | 'NOTHING' | 'FULL' | 'INDEX';
  primaryKey: NamedIndex | null;
  /** The index chosen with REPLICA IDENTITY USING INDEX, when `setting` is `INDEX`. */
  identityIndex: NamedIndex | null;
  /**
   * Indexes REPLICA IDENTITY USING INDEX accepts: unique, valid, immediate, no WHERE, no expressions, every
   * column NOT NULL.
   */
  candidates: NamedIndex[];
}

const SETTINGS = { d: 'DEFAULT', n: 'NOTHING', f: 'FULL', i: 'INDEX' } as const;

const namedIndexSchema = z.object({ name: z.string(), columns: z.array(z.string()) });

/** Key columns of index `i` in order, INCLUDE columns left out. */
const INDEX_COLUMNS = `ARRAY(
  SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
   WHERE k.ord <= i.indnkeyatts ORDER BY k.ord)`;

/** The replica identity of each relation `c` the `relations` clause yields (with `n`, its namespace). */
const replicaIdentitySql = (relations: string) => `
SELECT n.nspname::text AS nsp, c.relname::text AS rel, c.relreplident::text AS setting,
       (SELECT json_build_object('name', ic.relname, 'columns', ${INDEX_COLUMNS})
          FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         WHERE i.indrelid = c.oid AND i.indisprimary) AS primary_key,
       (SELECT json_build_object('name', ic.relname, 'columns', ${INDEX_COLUMNS})
          FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         WHERE i.indrelid = c.oid AND i.indisreplident) AS identity_index,
       coalesce((SELECT json_agg(json_build_object('name', ic.relname, 'columns', ${INDEX_COLUMNS})
                                 ORDER BY i.indnkeyatts, ic.relname)
                   FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                  WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indimmediate
                    AND i.indpred IS NULL AND i.indexprs IS NULL
                    AND NOT EXISTS (
                      SELECT 1 FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                       WHERE k.ord <= i.indnkeyatts AND NOT a.attnotnull)), '[]'::json) AS candidates
  FROM ${relations}`;

const REPLICA_IDENTITY_SQL = replicaIdentitySql(`pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`);

/** The leaf partitions (plain tables) under a partitioned table, at any depth, in name order. */
const PARTITION_IDENTITIES_SQL =
  replicaIdentitySql(`pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace
 CROSS JOIN LATERAL pg_partition_tree(r.oid) t
 JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE rn.nspname = $1 AND r.relname = $2 AND r.relkind = 'p' AND t.isleaf AND c.relkind = 'r'
 ORDER BY n.nspname, c.relname`);

interface IdentityRow {
  nsp: string;
  rel: string;
  setting: keyof typeof SETTINGS;
  primary_key: unknown;
  identity_index: unknown;
  candidates: unknown;
}

function toReplicaIdentity(row: IdentityRow): ReplicaIdentityInfo {
  return {
    setting: SETTINGS[row.setting],
    primaryKey: namedIndexSchema.nullable().parse(row.primary_key),
    identityIndex: namedIndexSchema.nullable().parse(row.identity_index),
    candidates: z.array(namedIndexSchema).parse(row.candidates),
  };
}

/** The table's replica identity; null when there is no such table (views and others have none). */
export async function readReplicaIdentity(
  pool: Pool,
  schema: string,
  table: string,
): Promise<ReplicaIdentityInfo | null> {
  const { rows } = await pool.query<IdentityRow>(REPLICA_IDENTITY_SQL, [schema, table]);
  return rows.length === 0 ? null : toReplicaIdentity(rows[0]);
}

/** A partition's own replica identity. */
export interface PartitionIdentity {
  schema: string;
  table: string;
  identity: ReplicaIdentityInfo;
}

/**
 * The replica identity of each leaf partition of a partitioned table ([] for any other table). Each partition has
 * its own: ALTER TABLE … REPLICA IDENTITY on the partitioned table does not reach them, and a change is decoded
 * with the identity of the partition that holds the row.
 */
export async function readPartitionIdentities(
  pool: Pool,
  schema: string,
  table: string,
): Promise<PartitionIdentity[]> {
  const { rows } = await pool.query<IdentityRow>(PARTITION_IDENTITIES_SQL, [schema, table]);
  return rows.map((row) => ({ schema: row.nsp, table: row.rel, identity: toReplicaIdentity(row) }));
}

/** The columns the WAL carries for a deleted row: 'ALL' under FULL, [] when none. */
export function identityColumns(info: ReplicaIdentityInfo): string[] | 'ALL' {
  switch (info.setting) {
    case 'FULL':
      return 'ALL';
    case 'DEFAULT':
      return info.primaryKey?.columns ?? [];
    case 'INDEX':
      return info.identityIndex?.columns ?? [];
    case 'NOTHING':
      return [];
  }
}

/** True when every key column is in the replica identity, so a captured delete names its row. */
export function identityContainsKey(info: ReplicaIdentityInfo, key: readonly string[]): boolean {
  const columns = identityColumns(info);
  return columns === 'ALL' || key.every((k) => columns.includes(k));
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The statement that makes the replica identity contain the key: the primary key (DEFAULT) when it holds
 * every key column, else the smallest unique index that does (USING INDEX), else FULL (every column, at the
 * cost of larger WAL for updates and deletes). Null when the identity already contains the key.
 */
export function replicaIdentityFix(
  info: ReplicaIdentityInfo,
  schema: string,
  table: string,
  key: readonly string[],
): string | null {
  if (identityContainsKey(info, key)) return null;
  const qualified = `${quote(schema)}.${quote(table)}`;
  const holdsKey = (index: NamedIndex) => key.every((k) => index.columns.includes(k));
  if (info.primaryKey && holdsKey(info.primaryKey))
    return `ALTER TABLE ${qualified} REPLICA IDENTITY DEFAULT;`;
  const index = info.candidates.find(holdsKey);
  if (index) return `ALTER TABLE ${qualified} REPLICA IDENTITY USING INDEX ${quote(index.name)};`;
  return `ALTER TABLE ${qualified} REPLICA IDENTITY FULL;`;
}

/** `DEFAULT (primary key "p_pkey": id)`: the current setting as a user reads it in messages. */
export function describeReplicaIdentity(info: ReplicaIdentityInfo): string {
  switch (info.setting) {
    case 'FULL':
      return 'FULL (every column)';
    case 'NOTHING':
      return 'NOTHING (no column)';
    case 'DEFAULT':
      return info.primaryKey
        ? `DEFAULT (primary key "${info.primaryKey.name}": ${info.primaryKey.columns.join(', ')})`
        : 'DEFAULT without a primary key (no column)';
    case 'INDEX':
      return info.identityIndex
        ? `USING INDEX "${info.identityIndex.name}" (${info.identityIndex.columns.join(', ')})`
        : 'USING INDEX (index gone: no column)';
  }
}

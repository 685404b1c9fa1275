import type { Pool } from 'pg';
import { z } from 'zod';
import type { PgEnumInfo } from '../../canonical';

/** A column of the source table as the engine sees it: domains resolved to their base type. */
export interface SourceColumn {
  name: string;
  /**
   * pg_attribute.attnum: the column's number in its relation. A column dropped and added again under the same name
   * gets a new one (engine/columnTypes.ts).
   */
  attnum?: number;
  /** information_schema style: 'integer', 'timestamp with time zone', 'ARRAY', 'USER-DEFINED'. */
  dataType: string;
  /** The base type's name ('int4', '_text', an enum's name); '_' + element for arrays. */
  udtName: string;
  isNullable: boolean;
  numericScale: number | null;
  /** varchar(n) or varchar(n)[]: n (PgColumnInfo.maxLength). */
  maxLength?: number | null;
  /** numeric(p, s): p (PgColumnInfo.numericPrecision). */
  numericPrecision?: number | null;
  /** The database fills it when an INSERT leaves it out (a default, serial or identity column). */
  hasDefault?: boolean;
  /**
   * The column's declared type as a cast target, modifiers included ('numeric(12,2)', a domain's name): a value
   * cast to it reads back as the column stores it (batched inserts compare what came back with it).
   */
  sqlType?: string;
  /** Set when the column (or, for an array, its element) is an enum. */
  enum?: PgEnumInfo;
  /**
   * False when Postgres cannot write the column while it can write others of the relation: a view's computed
   * column (no INSTEAD OF trigger writes it) or a generated column. Absent means writable, or a relation Postgres
   * cannot write at all (a view over a join without INSTEAD OF triggers).
   */
  updatable?: boolean;
}

/** An index that makes its columns identify at most one row: unique, not partial, no expressions, valid. */
export interface UniqueColumns {
  columns: string[];
  primary: boolean;
}

export interface SourceTableInfo {
  /** 'r' table, 'p' partitioned table, 'v' view, 'm' materialized view, 'f' foreign table. */
  relkind: string;
  columns: SourceColumn[];
  uniqueIndexes: UniqueColumns[];
}

/*
 * Domains are resolved recursively (a domain over a domain over numeric is numeric; NOT NULL and defaults of
 * any level count), for the column and for an array's element. data_type follows information_schema: the
 * format_type of a pg_catalog type, 'ARRAY' or 'USER-DEFINED'.
 */
const COLUMNS_SQL = `
WITH RECURSIVE base AS (
  SELECT a.attnum, a.atttypid AS typid, a.atttypmod AS typmod, a.attnotnull AS notnull,
         (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS dflt
    FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT b.attnum, t.typbasetype, t.typtypmod, b.notnull OR t.typnotnull, b.dflt OR t.typdefault IS NOT NULL
    FROM base b JOIN pg_type t ON t.oid = b.typid WHERE t.typtype = 'd'
), resolved AS (
  SELECT b.* FROM base b JOIN pg_type t ON t.oid = b.typid WHERE t.typtype <> 'd'
), elem AS (
  SELECT r.attnum, t.typelem AS typid FROM resolved r JOIN pg_type t ON t.oid = r.typid
   WHERE t.typelem <> 0 AND t.typlen = -1
  UNION ALL
  SELECT e.attnum, t.typbasetype FROM elem e JOIN pg_type t ON t.oid = e.typid WHERE t.typtype = 'd'
), resolved_elem AS (
  SELECT e.* FROM elem e JOIN pg_type t ON t.oid = e.typid WHERE t.typtype <> 'd'
)
SELECT a.attname AS name, a.attnum::int AS attnum,
       CASE WHEN re.typid IS NOT NULL THEN 'ARRAY'
            WHEN tn.nspname = 'pg_catalog' THEN format_type(r.typid, NULL)
            ELSE 'USER-DEFINED' END AS data_type,
       CASE WHEN re.typid IS NOT NULL THEN coalesce(ea.typname, '_' || et.typname) ELSE t.typname END::text AS udt_name,
       NOT r.notnull AS is_nullable,
       CASE WHEN r.typid IN (20, 21, 23) THEN 0
            WHEN r.typid = 1700 AND r.typmod >= 0 THEN (r.typmod - 4) & 65535 END AS numeric_scale,
       CASE WHEN r.typid IN (1043, 1015) AND r.typmod >= 4 THEN r.typmod - 4 END AS max_length,
       CASE WHEN r.typid = 1700 AND r.typmod >= 0 THEN ((r.typmod - 4) >> 16) & 65535 END AS numeric_precision,
       r.dflt AS has_default,
       format_type(a.atttypid, a.atttypmod) AS sql_type,
       a.attgenerated = '' AND pg_column_is_updatable($1::oid::regclass, a.attnum, true) AS updatable,
       CASE WHEN coalesce(et.typtype, t.typtype) = 'e' THEN en.nspname::text END AS enum_schema,
       CASE WHEN coalesce(et.typtype, t.typtype) = 'e' THEN coalesce(et.typname, t.typname)::text END AS enum_name,
       CASE WHEN coalesce(et.typtype, t.typtype) = 'e' THEN ARRAY(
         SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = coalesce(et.oid, t.oid) ORDER BY e.enumsortorder)
       END AS enum_labels
  FROM resolved r
  JOIN pg_attribute a ON a.attrelid = $1 AND a.attnum = r.attnum
  JOIN pg_type t ON t.oid = r.typid
  JOIN pg_namespace tn ON tn.oid = t.typnamespace
  LEFT JOIN resolved_elem re ON re.attnum = r.attnum
  LEFT JOIN pg_type et ON et.oid = re.typid
  LEFT JOIN pg_type ea ON ea.oid = et.typarray
  LEFT JOIN pg_namespace en ON en.oid = coalesce(et.typnamespace, t.typnamespace)
 ORDER BY a.attnum`;

/*
 * The relation with its unique indexes (unique, valid, no WHERE, no expressions; key columns only, not INCLUDE
 * ones), in the one query that finds the relation: checking the key costs a run no extra round trip.
 */
const RELATION_SQL = `
SELECT c.oid, c.relkind,
       coalesce((SELECT json_agg(json_build_object('primary', i.indisprimary, 'columns', ARRAY(
                  SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                   WHERE k.ord <= i.indnkeyatts ORDER BY k.ord)))::text
                   FROM pg_index i
                  WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
                    AND i.indexprs IS NULL), '[]') AS uniques,
       (SELECT string_agg(a.attnum || ':' || a.xmin::text || ':' || t.xmin::text, ',' ORDER BY a.attnum)
          FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         WHERE a.attrelid = c.oid AND a.attnum > 0)
         || '|' || (SELECT count(*) || ':' || coalesce(sum(e.xmin::text::bigint), 0) FROM pg_enum e) AS version
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`;

/*
 * Columns read by earlier calls, per pool, keyed by relation oid and a catalog version: every ALTER of a column
 * (add, drop, rename, type, NOT NULL, default) writes its pg_attribute row anew, changing that row's xmin; a
 * domain change writes its pg_type row; enum labels are counted database-wide. What the version cannot see
 * (a change deep in a domain chain) is caught by the expiry.
 */
const COLUMNS_TTL_MS = 10 * 60 * 1000;
interface CachedColumns {
  oid: number;
  version: string;
  columns: SourceColumn[];
  at: number;
}
const columnCache = new WeakMap<Pool, Map<string, CachedColumns>>();

const uniquesSchema = z.array(z.object({ primary: z.boolean(), columns: z.array(z.string()) }));

/**
 * The source table or view: its columns (domains resolved, enum labels in order) and the unique indexes that
 * can prove a key identifies one row (I13). Null when no such relation exists.
 */
export async function readSourceTable(
  pool: Pool,
  schema: string,
  table: string,
): Promise<SourceTableInfo | null> {
  const rel = await pool.query<{ oid: number; relkind: string; uniques: string; version: string }>(
    RELATION_SQL,
    [schema, table],
  );
  if (rel.rowCount === 0) return null;
  const { oid, relkind, uniques, version } = rel.rows[0];
  const uniqueIndexes = uniquesSchema.parse(JSON.parse(uniques));
  let cache = columnCache.get(pool);
  if (!cache) columnCache.set(pool, (cache = new Map()));
  const key = `${schema}.${table}`;
  const hit = cache.get(key);
  if (hit && hit.oid === oid && hit.version === version && Date.now() - hit.at < COLUMNS_TTL_MS) {
    return { relkind, columns: [...hit.columns], uniqueIndexes };
  }
  const columns = await readColumns(pool, oid);
  cache.set(key, { oid, version, columns, at: Date.now() });
  return { relkind, columns, uniqueIndexes };
}

async function readColumns(pool: Pool, oid: number): Promise<SourceColumn[]> {
  const cols = await pool.query<{
    name: string;
    attnum: number;
    data_type: string;
    udt_name: string;
    is_nullable: boolean;
    numeric_scale: number | null;
    max_length: number | null;
    numeric_precision: number | null;
    has_default: boolean;
    sql_type: string;
    updatable: boolean;
    enum_schema: string | null;
    enum_name: string | null;
    enum_labels: string[] | null;
  }>(COLUMNS_SQL, [oid]);
  // A relation none of whose columns Postgres can write (a view over a join, without INSTEAD OF triggers) is not
  // a matter of columns: its writes are refused in Postgres's own words, naming the trigger that would fix them.
  const anyUpdatable = cols.rows.some((r) => r.updatable);
  return cols.rows.map((r) => ({
    name: r.name,
    attnum: r.attnum,
    dataType: r.data_type,
    udtName: r.udt_name,
    isNullable: r.is_nullable,
    numericScale: r.numeric_scale,
    ...(r.max_length !== null ? { maxLength: r.max_length } : {}),
    ...(r.numeric_precision !== null ? { numericPrecision: r.numeric_precision } : {}),
    hasDefault: r.has_default,
    sqlType: r.sql_type,
    ...(r.updatable || !anyUpdatable ? {} : { updatable: false }),
    ...(r.enum_schema !== null && r.enum_name !== null && r.enum_labels !== null
      ? { enum: { schema: r.enum_schema, name: r.enum_name, labels: r.enum_labels } }
      : {}),
  }));
}

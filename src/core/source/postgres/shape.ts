import type { Pool } from 'pg';

/**
 * The shape of some columns of a relation as one fingerprint, from pg_catalog alone (one index lookup per catalog,
 * sub-millisecond where information_schema is not): each column's number (a column dropped and added again under
 * the same name gets a new one), name, type and modifier (ALTER … TYPE, numeric(12,2) → numeric(12,0)), and the
 * labels of its enum in order (a label renamed or added): the column's own type, its array element, or a domain's
 * base type or that base's element. A deeper chain of domains is left to the run's full comparison
 * (engine/columnTypes.ts). `relation` and `columns` are SQL expressions: a qualified, quoted name as text and a
 * text[] of column names. A view's columns are its own attributes, so a view is fingerprinted as a table is. The
 * md5 of the empty text when the relation is gone (the run then says so).
 */
export function columnShapeSql(relation: string, columns: string): string {
  return `(SELECT md5(coalesce(string_agg(a.attnum || ':' || a.attname || ':' || a.atttypid || ':' || a.atttypmod
        || ':' || coalesce((SELECT string_agg(e.enumlabel::text, ',' ORDER BY e.enumtypid, e.enumsortorder)
                              FROM pg_enum e WHERE e.enumtypid IN (t.oid, t.typelem, t.typbasetype, b.typelem)), ''),
        ';' ORDER BY a.attnum), ''))
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type b ON b.oid = t.typbasetype
     WHERE a.attrelid = to_regclass(${relation}) AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname::text = ANY(${columns}::text[]))`;
}

/** The fingerprint of `columns` of `qualifiedTable` (quoted, as to_regclass reads it) now (columnShapeSql). */
export async function readColumnShape(
  pool: Pool,
  qualifiedTable: string,
  columns: readonly string[],
): Promise<string> {
  const { rows } = await pool.query<{ shape: string }>(
    `SELECT ${columnShapeSql('$1::text', '$2')} AS shape`,
    [qualifiedTable, [...columns]],
  );
  return rows[0].shape;
}

import type { Pool } from 'pg';
import type { SourceTableInfo } from './catalog';

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Relation kinds that cannot carry an index: uniqueness is only checkable by scanning (I13). */
const UNINDEXABLE = new Set(['v', 'f']);

export function isUnindexable(info: SourceTableInfo): boolean {
  return UNINDEXABLE.has(info.relkind);
}

/** True when a primary key or unique index has all its columns among the key columns (so it covers the key). */
export function keyIsCovered(info: SourceTableInfo, key: readonly string[]): boolean {
  const wanted = new Set(key);
  return info.uniqueIndexes.some((u) => u.columns.length > 0 && u.columns.every((c) => wanted.has(c)));
}

/** The DDL that makes the key identify one row: a primary key when the table has none, else a unique index. */
export function keyFixDdl(
  info: SourceTableInfo,
  schema: string,
  table: string,
  key: readonly string[],
): string {
  const qualified = `${quote(schema)}.${quote(table)}`;
  const cols = key.map(quote).join(', ');
  const hasPrimary = info.uniqueIndexes.some((u) => u.primary);
  return !hasPrimary && (info.relkind === 'r' || info.relkind === 'p')
    ? `ALTER TABLE ${qualified} ADD PRIMARY KEY (${cols});`
    : `CREATE UNIQUE INDEX ON ${qualified} (${cols});`;
}

/** A definition whose key columns no primary key or unique index covers: two rows could share one item. */
export class KeyNotUniqueError extends Error {
  override readonly name = 'KeyNotUniqueError';

  constructor(
    readonly definition: string,
    readonly key: readonly string[],
    readonly table: string,
    readonly fix: string,
  ) {
    // Worded "Definition "x": source.key …" like the other definition mismatches, so a failed run exits 2.
    super(
      `Definition "${definition}": source.key [${key.join(', ')}] does not identify one row of ${table}: ` +
        `no primary key or unique index (without WHERE) covers it. Add one: ${fix} ` +
        '(if that fails on duplicates, the key is wrong: choose columns that identify one row)',
    );
  }
}

/**
 * A write by key that matched other than exactly one row, or an insert into a view of a key another row holds:
 * rolled back by the caller's transaction (I13).
 */
export class KeyMatchError extends Error {
  override readonly name = 'KeyMatchError';

  constructor(
    readonly table: string,
    readonly operation: 'update' | 'delete' | 'soft delete' | 'undo soft delete' | 'insert',
    readonly key: Record<string, unknown>,
    readonly matched: number,
  ) {
    super(
      operation === 'insert'
        ? `insert into ${table} of key ${describeKey(key)} would make ${matched} rows hold that key: rolled back, ` +
            'nothing was written (give the new item another key, or remove the row that holds it)'
        : `${operation} of ${table} by key ${describeKey(key)} matched ${matched} rows instead of exactly one: ` +
            (matched === 0
              ? 'the row is gone or its key changed; nothing was written'
              : 'the key does not identify one row; rolled back, nothing was written'),
    );
  }
}

/** `region='north', id=3`: a key as a user reads it in messages. */
export function describeKey(key: Record<string, unknown>): string {
  return Object.entries(key)
    .map(([k, v]) => `${k}=${v === null || v === undefined ? 'NULL' : JSON.stringify(v)}`)
    .join(', ');
}

export interface DuplicateKey {
  key: Record<string, unknown>;
  rows: number;
}

/**
 * One key value held by more than one row, or null. Scans the relation: for `validate` only, never per run.
 * Rows with a NULL key column are left out (they are never synced, and reported on their own).
 */
export async function findDuplicateKey(
  pool: Pool,
  schema: string,
  table: string,
  key: readonly string[],
): Promise<DuplicateKey | null> {
  const cols = key.map(quote).join(', ');
  const notNull = key.map((k) => `${quote(k)} IS NOT NULL`).join(' AND ');
  const { rows } = await pool.query<Record<string, unknown>>(
    `SELECT ${key.map((k, i) => `${quote(k)}::text AS "k${i}"`).join(', ')}, count(*)::int AS "__rows"
       FROM ${quote(schema)}.${quote(table)} WHERE ${notNull}
      GROUP BY ${cols} HAVING count(*) > 1 ORDER BY count(*) DESC LIMIT 1`,
  );
  if (rows.length === 0) return null;
  const found: Record<string, unknown> = {};
  key.forEach((k, i) => (found[k] = rows[0][`k${i}`]));
  return { key: found, rows: rows[0].__rows as number };
}

/**
 * The run-time half of I13: throws KeyNotUniqueError when no primary key or unique index covers the key of a
 * table. A view cannot be checked without a scan (validate does that once); its runs rely on push parking
 * rows that share a key.
 */
export function assertKeyIdentifies(
  definition: string,
  info: SourceTableInfo,
  schema: string,
  table: string,
  key: readonly string[],
): void {
  if (isUnindexable(info) || keyIsCovered(info, key)) return;
  throw new KeyNotUniqueError(
    definition,
    key,
    `${quote(schema)}.${quote(table)}`,
    keyFixDdl(info, schema, table, key),
  );
}

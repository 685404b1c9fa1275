import type { Pool, PoolClient, QueryResultRow } from 'pg';
import {
  CanonicalValueError,
  pgCastFor,
  pgTypeParsers,
  toPgParam,
  type CanonicalValue,
  type FieldKind,
} from '../../canonical';
import type { KeysetPosition } from '../../cursor/timestampCursor';
import type { SourceColumn } from './catalog';
import {
  deleteByKeys,
  insertMany,
  setFlagByKeys,
  updateByKeys,
  type ColumnValues,
  type EncodedValues,
} from './batchWrites';
import { KeyMatchError } from './keys';
import { castTypeOf, quoteIdent } from './sql';

export { castTypeOf, quoteIdent } from './sql';

/**
 * An enum reads as text (an enum array as text[]): node-pg has no parser for an enum array's type and would
 * hand back the literal '{a,b}'.
 */
function selectOf(col: SourceColumn): string {
  if (!col.enum) return quoteIdent(col.name);
  return `${quoteIdent(col.name)}::text${col.dataType === 'ARRAY' ? '[]' : ''} AS ${quoteIdent(col.name)}`;
}

export interface SourceRow {
  /** Column values as node-pg returns them with pgTypeParsers (timestamps, numerics, int8 as text). */
  values: Record<string, unknown>;
  /** Cursor column value as Postgres text. */
  cursor: string | null;
  /**
   * The row version (`xmin`) when the definition has no cursor column (LSN capture): what tells a writer that
   * decided on this read whether the row changed since (see lockRow).
   */
  version?: string;
}

export interface SourceTableShape {
  schema: string;
  table: string;
  key: string[];
  /** Null for an LSN definition without a timestamp column: rows then carry a null cursor. */
  cursorColumn: string | null;
  /**
   * Rows carry their version (`xmin`): LSN capture (tables only), where a cursor column, if any, is not kept
   * current by a trigger of ours and so cannot tell whether a row changed since it was read.
   */
  rowVersion?: boolean;
  /** Every column the engine reads (key, cursor, mapped, soft-delete flag). */
  columns: SourceColumn[];
}

export class SourceWriteError extends Error {
  constructor(
    readonly table: string,
    readonly operation: string,
    cause: unknown,
  ) {
    super(`${operation} on ${table} failed: ${(cause as Error).message}`, { cause });
    this.name = 'SourceWriteError';
  }
}

/**
 * The Postgres side of a definition: keyset-paged reads, reads by key, and the writes the pull makes.
 * Identifiers are always quoted, values always parameters (I12).
 */
export class PostgresSource {
  readonly qualified: string;
  private readonly byName: Map<string, SourceColumn>;
  /** The select list every read returns (the row's columns, its cursor text and, if kept, its version). */
  readonly selectList: string;

  constructor(
    readonly pool: Pool,
    readonly shape: SourceTableShape,
  ) {
    this.qualified = `${quoteIdent(shape.schema)}.${quoteIdent(shape.table)}`;
    this.byName = new Map(shape.columns.map((c) => [c.name, c]));
    this.selectList = [
      ...shape.columns.map((c) => selectOf(c)),
      shape.cursorColumn === null
        ? 'NULL::text AS "__arcore_cursor"'
        : `${quoteIdent(shape.cursorColumn)}::text AS "__arcore_cursor"`,
      ...(shape.rowVersion ? ['"xmin"::text AS "__arcore_version"'] : []),
    ].join(', ');
  }

  column(name: string): SourceColumn {
    const col = this.byName.get(name);
    if (!col) throw new Error(`column "${name}" is not part of ${this.qualified}`);
    return col;
  }

  /**
   * The parameter writing a canonical value into `column` (toPgParam: a null in a NOT NULL text or array column is
   * its empty value, I2). A key column's null stays NULL: an empty key is no key (I1), never a row keyed ''.
   */
  param(column: string, kind: FieldKind, value: CanonicalValue): unknown {
    if (value === null && this.shape.key.includes(column)) return null;
    try {
      return toPgParam(kind, value, this.column(column));
    } catch (err) {
      // Named by its Postgres column, so that a parked item's message says which value to change (pull/parked.ts).
      throw err instanceof CanonicalValueError && err.field === undefined ? err.inPgColumn(column) : err;
    }
  }

  /** The cursor column of a TIMESTAMP read; an LSN definition without one never reads by timestamp. */
  private cursorColumn(): string {
    if (this.shape.cursorColumn === null)
      throw new Error(`${this.qualified} has no cursor column: it is read by key (LSN capture)`);
    return this.shape.cursorColumn;
  }

  private orderBy(): string {
    return [this.cursorColumn(), ...this.shape.key].map(quoteIdent).join(', ');
  }

  toRows(rows: QueryResultRow[]): SourceRow[] {
    return rows.map((r) => {
      const { __arcore_cursor: cursor, __arcore_version: version, ...values } = r;
      const row: SourceRow = { values, cursor: (cursor as string | null) ?? null };
      if (typeof version === 'string') row.version = version;
      return row;
    });
  }

  /**
   * One page in keyset order. `after` continues strictly after a position; `since` starts at a cursor value
   * (inclusive), which is how a run re-reads its overlap window (I5b); neither reads from the beginning.
   */
  async readPage(
    from: { after: KeysetPosition } | { since: string } | null,
    limit: number,
  ): Promise<SourceRow[]> {
    const cursorCast = `::${this.column(this.cursorColumn()).dataType}`;
    let where = `${quoteIdent(this.cursorColumn())} IS NOT NULL`;
    const params: unknown[] = [];
    if (from && 'after' in from) {
      const cols = [this.cursorColumn(), ...this.shape.key].map(quoteIdent).join(', ');
      params.push(from.after.ts, ...from.after.key);
      const placeholders = [
        `$1${cursorCast}`,
        ...this.shape.key.map((k, i) => `$${i + 2}::${castTypeOf(this.column(k))}`),
      ].join(', ');
      where = `(${cols}) > (${placeholders})`;
    } else if (from && 'since' in from) {
      params.push(from.since);
      where = `${quoteIdent(this.cursorColumn())} >= $1${cursorCast}`;
    }
    params.push(limit);
    const { rows } = await this.pool.query({
      text: `SELECT ${this.selectList} FROM ${this.qualified} WHERE ${where} ORDER BY ${this.orderBy()} LIMIT $${params.length}`,
      values: params,
      types: pgTypeParsers,
    });
    return this.toRows(rows);
  }

  /**
   * One page in key order after `after` (key values in definition order; null from the start) and not past `upto`
   * (the load's bound; undefined: none): the initial load of an LSN definition, which has no timestamp to order by.
   * Keys are compared as rows, in the ORDER BY's order; on the first page a row whose comparison with the bound is
   * unknown (a NULL in a key column) is not cut by it (later pages never see one: `after` cuts it).
   */
  async readKeyPage(after: unknown[] | null, limit: number, upto?: unknown[]): Promise<SourceRow[]> {
    const params: unknown[] = [];
    const cols = this.shape.key.map(quoteIdent).join(', ');
    const placeholders = (values: unknown[]): string => {
      const from = params.length;
      params.push(...values);
      return this.shape.key.map((k, i) => `$${from + i + 1}::${castTypeOf(this.column(k))}`).join(', ');
    };
    const where: string[] = [];
    if (after) where.push(`(${cols}) > (${placeholders(after)})`);
    // After a key, a plain row comparison: an index range, so the scan stops at the bound instead of running
    // through every row inserted above it. On the first page (no `after`) NULL-key rows are kept, as before.
    if (upto)
      where.push(
        after
          ? `(${cols}) <= (${placeholders(upto)})`
          : `((${cols}) <= (${placeholders(upto)})) IS NOT FALSE`,
      );
    params.push(limit);
    const { rows } = await this.pool.query({
      text: `SELECT ${this.selectList} FROM ${this.qualified} WHERE ${where.join(' AND ') || 'true'} ORDER BY ${cols} LIMIT $${params.length}`,
      values: params,
      types: pgTypeParsers,
    });
    return this.toRows(rows);
  }

  /**
   * The highest key in the table in readKeyPage's order, among rows with no NULL in a key column; null when there
   * is none. The bound of an LSN load (one index seek on the key).
   */
  async lastKey(): Promise<unknown[] | null> {
    const notNull = this.shape.key.map((k) => `${quoteIdent(k)} IS NOT NULL`).join(' AND ');
    const order = this.shape.key.map((k) => `${quoteIdent(k)} DESC`).join(', ');
    const { rows } = await this.pool.query({
      text: `SELECT ${this.selectList} FROM ${this.qualified} WHERE ${notNull} ORDER BY ${order} LIMIT 1`,
      types: pgTypeParsers,
    });
    const [row] = this.toRows(rows);
    return row ? this.shape.key.map((k) => row.values[k]) : null;
  }

  /**
   * Key values given as text (as logical decoding sends them), cast by Postgres and parsed as every read
   * parses them, so their identity hash is the one the ledger holds.
   */
  async normalizeKeys(keys: (string | null)[][]): Promise<unknown[][]> {
    if (keys.length === 0) return [];
    const { from, params } = this.keyUnnest(keys);
    const { rows } = await this.pool.query({
      text: `SELECT ${this.shape.key.map((k) => `k.${quoteIdent(k)}`).join(', ')} FROM ${from}`,
      values: params,
      types: pgTypeParsers,
      rowMode: 'array',
    });
    return rows as unknown[][];
  }

  /** Rows ahead of a cursor value (for progress estimates). */
  async countSince(since: string | null): Promise<number> {
    const cursorCast = `::${this.column(this.cursorColumn()).dataType}`;
    const { rows } = await this.pool.query<{ n: string }>(
      since === null
        ? `SELECT count(*) AS n FROM ${this.qualified}`
        : `SELECT count(*) AS n FROM ${this.qualified} WHERE ${quoteIdent(this.cursorColumn())} >= $1${cursorCast}`,
      since === null ? [] : [since],
    );
    return Number(rows[0].n);
  }

  async count(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.qualified}`);
    return Number(rows[0].n);
  }

  private keyUnnest(keys: unknown[][], offset = 0): { from: string; params: unknown[] } {
    const params = this.shape.key.map((_, i) => keys.map((k) => k[i]));
    const arrays = this.shape.key
      .map((k, i) => `$${offset + i + 1}::${castTypeOf(this.column(k))}[]`)
      .join(', ');
    const names = this.shape.key.map(quoteIdent).join(', ');
    return { from: `unnest(${arrays}) AS k(${names})`, params };
  }

  /**
   * The rows with these keys (key values in definition order), one query. `lock`: inside `client`'s transaction,
   * each row locked (FOR UPDATE, in key order) until it ends and read as it is once locked, so that no other
   * session can change it between this read and a write decided from it (a view locks its table's rows; one that
   * cannot be locked throws `0A000`); `'skip'`: only the rows no other session holds, without waiting.
   */
  async readByKeys(
    keys: unknown[][],
    client?: PoolClient,
    lock: boolean | 'skip' = false,
  ): Promise<SourceRow[]> {
    if (keys.length === 0) return [];
    const { from, params } = this.keyUnnest(keys);
    const join = this.shape.key.map((k) => `t.${quoteIdent(k)} = k.${quoteIdent(k)}`).join(' AND ');
    const select = this.selectList.replace(/(^|, )"/g, '$1t."');
    const locking = lock
      ? ` ORDER BY ${this.shape.key.map((k) => `t.${quoteIdent(k)}`).join(', ')} FOR NO KEY UPDATE OF t` +
        (lock === 'skip' ? ' SKIP LOCKED' : '')
      : '';
    const { rows } = await (client ?? this.pool).query({
      text: `SELECT ${select} FROM ${this.qualified} t JOIN ${from} ON ${join}${locking}`,
      values: params,
      types: pgTypeParsers,
    });
    return this.toRows(rows);
  }

  /**
   * Of these keys, those more than one row of the whole relation holds, with how many: one query, bounded by
   * the keys given (a view has no index to prove its key unique, I13). Key values come back parsed as every
   * read parses them, so their identity hash is the one the rows read carry. Each key is given once (a key given
   * twice would count its rows twice). `client`: inside its transaction.
   */
  async keysHeldTwice(
    keys: unknown[][],
    client?: PoolClient,
  ): Promise<{ key: Record<string, unknown>; rows: number }[]> {
    if (keys.length === 0) return [];
    const { from, params } = this.keyUnnest(keys);
    const join = this.shape.key.map((k) => `t.${quoteIdent(k)} = k.${quoteIdent(k)}`).join(' AND ');
    const grouped = this.shape.key.map((k) => `t.${quoteIdent(k)}`).join(', ');
    const select = this.shape.key.map((k) => `t.${selectOf(this.column(k))}`).join(', ');
    const { rows } = await (client ?? this.pool).query({
      text: `SELECT ${select}, count(*)::int AS "__arcore_rows" FROM ${this.qualified} t JOIN ${from} ON ${join}
              GROUP BY ${grouped} HAVING count(*) > 1`,
      values: params,
      types: pgTypeParsers,
    });
    return rows.map((r: QueryResultRow) => {
      const { __arcore_rows: held, ...key } = r;
      return { key, rows: held as number };
    });
  }

  private assignments(values: ColumnValues, offset: number): { sql: string[]; params: unknown[] } {
    const sql: string[] = [];
    const params: unknown[] = [];
    for (const [column, { kind, value }] of Object.entries(values)) {
      const col = this.column(column);
      params.push(this.param(column, kind, value));
      sql.push(`${quoteIdent(column)} = $${offset + params.length}${pgCastFor(col)}`);
    }
    return { sql, params };
  }

  private keyWhere(offset: number): string {
    return this.shape.key
      .map((k, i) => `${quoteIdent(k)} = $${offset + i + 1}::${castTypeOf(this.column(k))}`)
      .join(' AND ');
  }

  /** Key column → value, for messages and records. */
  keyRecord(key: unknown[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.shape.key.forEach((k, i) => (out[k] = key[i]));
    return out;
  }

  /**
   * UPDATE by key; returns the row as it now is. Touching other than exactly one row throws KeyMatchError
   * (I13): the caller runs every write in a transaction (or savepoint) and rolls it back.
   */
  async updateRow(client: PoolClient, key: unknown[], values: ColumnValues): Promise<SourceRow> {
    const { sql, params } = this.assignments(values, key.length);
    const { rows } =
      sql.length === 0
        ? { rows: await this.readByKeys([key], client) }
        : await client.query({
            text: `UPDATE ${this.qualified} SET ${sql.join(', ')} WHERE ${this.keyWhere(0)} RETURNING ${this.selectList}`,
            values: [...key, ...params],
            types: pgTypeParsers,
          });
    if (rows.length !== 1)
      throw new KeyMatchError(this.qualified, 'update', this.keyRecord(key), rows.length);
    return sql.length === 0 ? (rows[0] as SourceRow) : this.toRows(rows)[0];
  }

  /**
   * Locks the row with this key until the transaction ends and returns its cursor value as text (null when
   * the column is null), or undefined when no such row exists: a writer that decided on an earlier read can
   * tell whether the row changed since (a backfill does, so that it never overwrites a concurrent edit).
   */
  async lockRow(client: PoolClient, key: unknown[]): Promise<string | null | undefined> {
    // Without a cursor column (LSN capture, tables only) the row version tells the same: xmin moves on every update.
    const version =
      this.shape.rowVersion || this.shape.cursorColumn === null
        ? 'xmin::text'
        : `${quoteIdent(this.shape.cursorColumn)}::text`;
    const { rows } = await client.query<{ cursor: string | null }>(
      `SELECT ${version} AS cursor FROM ${this.qualified}
        WHERE ${this.keyWhere(0)} FOR UPDATE`,
      key,
    );
    return rows.length === 0 ? undefined : rows[0].cursor;
  }

  /** INSERT; columns left out take their defaults (database-generated keys included). */
  async insertRow(client: PoolClient, values: ColumnValues): Promise<SourceRow> {
    const columns: string[] = [];
    const exprs: string[] = [];
    const params: unknown[] = [];
    for (const [column, { kind, value }] of Object.entries(values)) {
      const col = this.column(column);
      params.push(this.param(column, kind, value));
      columns.push(quoteIdent(column));
      exprs.push(`$${params.length}${pgCastFor(col)}`);
    }
    const text =
      columns.length === 0
        ? `INSERT INTO ${this.qualified} DEFAULT VALUES RETURNING ${this.selectList}`
        : `INSERT INTO ${this.qualified} (${columns.join(', ')}) VALUES (${exprs.join(', ')}) RETURNING ${this.selectList}`;
    const { rows } = await client.query({ text, values: params, types: pgTypeParsers });
    // A BEFORE INSERT trigger that returns NULL (or a DO INSTEAD rule) skips the row without an error.
    if (rows.length !== 1)
      throw new Error(
        `insert into ${this.qualified} returned ${rows.length} rows instead of one: a BEFORE INSERT trigger that ` +
          'returns NULL, or a rule, kept the row out (nothing was written); let the trigger keep the rows the pull ' +
          'inserts, or leave this table out of the pull (pull.enabled false)',
      );
    return this.toRows(rows)[0];
  }

  /** DELETE by key; other than exactly one row deleted throws KeyMatchError for the caller to roll back (I13). */
  async deleteRow(client: PoolClient, key: unknown[]): Promise<void> {
    const { rowCount } = await client.query(`DELETE FROM ${this.qualified} WHERE ${this.keyWhere(0)}`, key);
    if (rowCount !== 1) throw new KeyMatchError(this.qualified, 'delete', this.keyRecord(key), rowCount ?? 0);
  }

  /**
   * Many rows' UPDATE by key in one statement, every row writing the same columns (batchWrites.ts): answers,
   * per row, how many table rows its key matched; the caller rolls back unless each matched exactly one.
   */
  updateRows(client: PoolClient, keys: unknown[][], rows: EncodedValues[]): Promise<number[]> {
    return updateByKeys(this, client, keys, rows);
  }

  /** Many rows' INSERT in one statement (the same columns, at least one): the inserted rows in input order. */
  insertRows(client: PoolClient, rows: EncodedValues[]): Promise<SourceRow[]> {
    return insertMany(this, client, rows);
  }

  /** Many rows' DELETE by key in one statement: per row, how many table rows its key matched. */
  deleteRows(client: PoolClient, keys: unknown[][]): Promise<number[]> {
    return deleteByKeys(this, client, keys);
  }

  /** Many rows' soft-delete flag set by key in one statement: per row, how many table rows its key matched. */
  setFlags(client: PoolClient, keys: unknown[][], column: string): Promise<number[]> {
    return setFlagByKeys(this, client, keys, column);
  }

  /**
   * Keys of the rows whose boolean `column` is true (rows deletes.pull SOFT flagged), the key columns only, read as
   * every read parses them, so their identity hashes are the ones the ledger would hold. Reads every flagged row:
   * callers ask only when a page has an item that needs it (a restored item, pull/claims.ts).
   */
  async flaggedKeys(column: string): Promise<unknown[][]> {
    const keys = this.shape.key.map((k) => selectOf(this.column(k))).join(', ');
    const { rows } = await this.pool.query({
      text: `SELECT ${keys} FROM ${this.qualified} WHERE ${quoteIdent(column)} IS TRUE`,
      types: pgTypeParsers,
    });
    return rows.map((row: QueryResultRow) => this.shape.key.map((k) => row[k]));
  }

  /** Clears a soft-delete flag by key; other than exactly one row throws KeyMatchError, like setFlag. */
  clearFlag(client: PoolClient, key: unknown[], column: string): Promise<void> {
    return this.writeFlag(client, key, column, false);
  }

  /** Sets a soft-delete flag by key; other than exactly one row throws KeyMatchError, like deleteRow. */
  setFlag(client: PoolClient, key: unknown[], column: string): Promise<void> {
    return this.writeFlag(client, key, column, true);
  }

  private async writeFlag(client: PoolClient, key: unknown[], column: string, value: boolean): Promise<void> {
    const { rowCount } = await client.query(
      `UPDATE ${this.qualified} SET ${quoteIdent(column)} = ${value} WHERE ${this.keyWhere(0)}`,
      key,
    );
    if (rowCount !== 1)
      throw new KeyMatchError(
        this.qualified,
        value ? 'soft delete' : 'undo soft delete',
        this.keyRecord(key),
        rowCount ?? 0,
      );
  }
}

// The cursor trigger lives in cursorTrigger.ts; these names stay importable from here.
export {
  KEEP_CURSOR_SETTING,
  cursorTriggerName,
  cursorTriggerStatements,
  installCursorTrigger,
} from './cursorTrigger';

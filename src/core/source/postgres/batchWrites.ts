/**
 * Many rows' writes in one statement each (the pull applies a delta page this way). Every statement takes its
 * rows from a VALUES list whose parameters carry the same casts the one-row writes use (pgCastFor, castTypeOf),
 * so a value binds exactly as it would alone. Writes by key answer how many table rows each input row touched
 * (RETURNING the input row's ordinal), which is how the caller keeps the one-row writes' check (exactly one, I13).
 * An insert proves in SQL that each returned row is its input row's (insertMany). A statement that Postgres
 * refuses fails as a whole: the caller runs it under a savepoint and splits it, so that the one bad row is
 * isolated (I12).
 */
import type { PoolClient } from 'pg';
import { pgCastFor, pgTypeParsers, type CanonicalValue, type FieldKind } from '../../canonical';
import type { PostgresSource, SourceRow } from './PostgresSource';
import { castTypeOf, quoteIdent } from './sql';

export type ColumnValues = Record<string, { kind: FieldKind; value: CanonicalValue }>;

/** One row's values as parameters, columns in sorted order: rows with the same `signature` share a statement. */
export interface EncodedValues {
  columns: string[];
  params: unknown[];
  signature: string;
}

/** Encodes as the one-row writes do; a value the column cannot hold throws here, for that row alone. */
export function encodeValues(source: PostgresSource, values: ColumnValues): EncodedValues {
  const columns = Object.keys(values).sort();
  const params = columns.map((c) => {
    const { kind, value } = values[c];
    return source.param(c, kind, value);
  });
  return { columns, params, signature: JSON.stringify(columns) };
}

/** Below Postgres's 65,535 parameters per statement, with room for keys. */
const MAX_PARAMS = 30_000;
const MAX_ROWS = 1_000;

/** How many rows with `perRow` parameters each one statement takes. */
export function rowsPerStatement(perRow: number): number {
  return Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_PARAMS / Math.max(1, perRow))));
}

const ORDINAL = '"__arcore_o"';
const keyAlias = (i: number): string => `"__arcore_k${i}"`;
const valueAlias = (i: number): string => `"__arcore_c${i}"`;

/**
 * `VALUES (0, $1::…, …), (1, …)` for rows of keys and encoded values (the same columns in every row), and the
 * names of its columns: ordinal, keys…, values….
 */
function valuesOf(
  source: PostgresSource,
  keys: unknown[][] | null,
  rows: EncodedValues[] | null,
  count: number,
): { values: string; names: string; params: unknown[] } {
  const keyCasts = keys ? source.shape.key.map((k) => `::${castTypeOf(source.column(k))}`) : [];
  const columns = rows && rows.length ? rows[0].columns : [];
  const valueCasts = columns.map((c) => pgCastFor(source.column(c)));
  const params: unknown[] = [];
  const tuples: string[] = [];
  for (let r = 0; r < count; r++) {
    const cells = [String(r)];
    if (keys)
      keys[r].forEach((k, i) => {
        params.push(k);
        cells.push(`$${params.length}${keyCasts[i]}`);
      });
    if (rows)
      rows[r].params.forEach((p, i) => {
        params.push(p);
        cells.push(`$${params.length}${valueCasts[i]}`);
      });
    tuples.push(`(${cells.join(', ')})`);
  }
  const names = [ORDINAL, ...keyCasts.map((_, i) => keyAlias(i)), ...columns.map((_, i) => valueAlias(i))];
  return { values: `VALUES ${tuples.join(', ')}`, names: names.join(', '), params };
}

/** `(VALUES …) AS v(ordinal, keys…, values…)`, for a statement's FROM or USING. */
function valuesList(
  source: PostgresSource,
  keys: unknown[][] | null,
  rows: EncodedValues[] | null,
  count: number,
): { sql: string; params: unknown[] } {
  const { values, names, params } = valuesOf(source, keys, rows, count);
  return { sql: `(${values}) AS v(${names})`, params };
}

function keyJoin(source: PostgresSource): string {
  return source.shape.key.map((k, i) => `t.${quoteIdent(k)} = v.${keyAlias(i)}`).join(' AND ');
}

/** Per input row, how many table rows the statement touched (from the RETURNING ordinals). */
function matchedPerRow(rows: { o: number }[], count: number): number[] {
  const matched = new Array<number>(count).fill(0);
  for (const r of rows) matched[r.o]++;
  return matched;
}

/** UPDATE by key, one statement for rows writing the same columns; answers the rows each key matched. */
export async function updateByKeys(
  source: PostgresSource,
  client: PoolClient,
  keys: unknown[][],
  rows: EncodedValues[],
): Promise<number[]> {
  const { sql, params } = valuesList(source, keys, rows, rows.length);
  const set = rows[0].columns.map((c, i) => `${quoteIdent(c)} = v.${valueAlias(i)}`).join(', ');
  const { rows: out } = await client.query<{ o: number }>(
    `UPDATE ${source.qualified} AS t SET ${set} FROM ${sql} WHERE ${keyJoin(source)} RETURNING v.${ORDINAL} AS o`,
    params,
  );
  return matchedPerRow(out, rows.length);
}

/** DELETE by key, one statement; answers the rows each key matched. */
export async function deleteByKeys(
  source: PostgresSource,
  client: PoolClient,
  keys: unknown[][],
): Promise<number[]> {
  const { sql, params } = valuesList(source, keys, null, keys.length);
  const { rows: out } = await client.query<{ o: number }>(
    `DELETE FROM ${source.qualified} AS t USING ${sql} WHERE ${keyJoin(source)} RETURNING v.${ORDINAL} AS o`,
    params,
  );
  return matchedPerRow(out, keys.length);
}

/** Sets a soft-delete flag by key, one statement; answers the rows each key matched. */
export async function setFlagByKeys(
  source: PostgresSource,
  client: PoolClient,
  keys: unknown[][],
  column: string,
): Promise<number[]> {
  const { sql, params } = valuesList(source, keys, null, keys.length);
  const { rows: out } = await client.query<{ o: number }>(
    `UPDATE ${source.qualified} AS t SET ${quoteIdent(column)} = true FROM ${sql} WHERE ${keyJoin(source)} RETURNING v.${ORDINAL} AS o`,
    params,
  );
  return matchedPerRow(out, keys.length);
}

/**
 * The rows an insert returned could not be paired with its input rows by their values (another order, a trigger
 * that rewrote a value, a row skipped): the caller writes each row alone instead, where pairing is trivial.
 */
export class InsertPairingError extends Error {
  constructor(
    readonly table: string,
    detail: string,
  ) {
    super(`insert into ${table}: ${detail}`);
    this.name = 'InsertPairingError';
  }
}

const INPUT = '"__arcore_v"';
const INSERTED = '"__arcore_i"';
const POSITION = '"__arcore_n"';
const SAME = '"__arcore_same"';
const textAlias = (i: number): string => `__arcore_t${i}`;

/**
 * INSERT of rows with the same columns (at least one), one statement; answers the inserted rows in input order,
 * each proven to be its input row's.
 *
 * Postgres returns an INSERT … SELECT … ORDER BY's rows in that order, but does not document it: its INSERT page
 * says only that RETURNING is computed "over the row(s) inserted", and its developers call the order safe to
 * assume rather than promised (stackoverflow.com/questions/5439293). SQLAlchemy 2.0's "insertmanyvalues" meets the
 * same gap: with `sort_by_parameter_order` it uses this INSERT … SELECT … ORDER BY form on PostgreSQL and sorts
 * what comes back by the generated integer key, and where nothing returned can be sorted on (a uuid default) it
 * needs a client-side "sentinel" column or falls back to one INSERT per row ("Correlating RETURNING rows to
 * parameter sets", docs.sqlalchemy.org/en/20/core/connections.html). A synced table has no sentinel column, so
 * the statement proves the pairing by content instead, in SQL and in the same round trip: the i-th returned row's
 * supplied columns must equal, as text (byte for byte, whatever the column's collation), the i-th input row's values
 * cast to the column's declared type (text, so json and other types without an equality operator compare too). Rows with equal supplied values are
 * interchangeable to the caller (an item's ledger entry records its row's key and the values it supplied), so
 * equal content is exactly what makes a pairing right, whatever order Postgres chose. Any other answer (a row
 * that differs, a count other than the input's) throws InsertPairingError, for the caller to roll back.
 */
export async function insertMany(
  source: PostgresSource,
  client: PoolClient,
  rows: EncodedValues[],
): Promise<SourceRow[]> {
  const { values, names, params } = valuesOf(source, null, rows, rows.length);
  const columns = rows[0].columns;
  const supplied = columns.map((c, i) => `${quoteIdent(c)}::text AS ${quoteIdent(textAlias(i))}`);
  const same = columns.map((c, i) => {
    const declared = source.column(c).sqlType;
    const cast = declared ? `::${declared}` : '';
    // Byte for byte: under the column's collation a nondeterministic one (case-insensitive) calls 'Twin' and
    // 'tWIN' equal, and two such items could be paired with each other's rows.
    return `r.${quoteIdent(textAlias(i))} COLLATE "C" IS NOT DISTINCT FROM (v.${valueAlias(i)}${cast})::text`;
  });
  const { rows: out } = await client.query({
    text:
      `WITH ${INPUT}(${names}) AS (${values}), ${INSERTED} AS (` +
      `INSERT INTO ${source.qualified} (${columns.map(quoteIdent).join(', ')}) ` +
      `SELECT ${columns.map((_, i) => valueAlias(i)).join(', ')} FROM ${INPUT} ORDER BY ${ORDINAL} ` +
      `RETURNING ${source.selectList}, ${supplied.join(', ')}) ` +
      `SELECT r.*, (v.${ORDINAL} IS NOT NULL AND ${same.join(' AND ')}) AS ${SAME} ` +
      `FROM (SELECT *, (row_number() OVER () - 1)::int AS ${POSITION} FROM ${INSERTED}) r ` +
      `LEFT JOIN ${INPUT} v ON v.${ORDINAL} = r.${POSITION} ORDER BY r.${POSITION}`,
    values: params,
    types: pgTypeParsers,
  });
  if (out.length !== rows.length)
    throw new InsertPairingError(source.qualified, `${out.length} rows came back for ${rows.length}`);
  const inserted = out.map((r, i) => {
    const { __arcore_n: position, __arcore_same: equal, ...row } = r as Record<string, unknown>;
    if (position !== i || equal !== true)
      throw new InsertPairingError(
        source.qualified,
        `row ${i} came back with other values than its input row (a trigger rewrote them, or another order)`,
      );
    columns.forEach((_, c) => delete row[textAlias(c)]);
    return row;
  });
  return source.toRows(inserted);
}

/**
 * Many rows' writes in one statement each (the pull applies a delta page this way). Every statement takes its
 * rows from a VALUES list whose parameters carry the same casts the one-row writes use (pgCastFor, castTypeOf),
 * so a value binds exactly as it would alone. Writes by key answer how many table rows each input row touched
 * (RETURNING the input row's ordinal), which is how the caller keeps the one-row writes' check (exactly one, I13).
 * A statement that Postgres refuses fails as a whole: the caller runs it under a savepoint and falls back to
 * one write per row, so that the one bad row is isolated (I12).
 */
import type { PoolClient } from 'pg';
import { pgCastFor, pgTypeParsers, toPgParam, type CanonicalValue, type FieldKind } from '../../canonical';
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
    return value === null ? null : toPgParam(kind, value, source.column(c));
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
 * `(VALUES (0, $1::…, …), (1, …)) AS v(ordinal, keys…, values…)` for rows of keys and encoded values (the
 * same columns in every row).
 */
function valuesList(
  source: PostgresSource,
  keys: unknown[][] | null,
  rows: EncodedValues[] | null,
  count: number,
): { sql: string; params: unknown[] } {
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
  return { sql: `(VALUES ${tuples.join(', ')}) AS v(${names.join(', ')})`, params };
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
 * INSERT of rows with the same columns (at least one), one statement; answers the inserted rows in input order.
 * The rows are selected in ordinal order, and Postgres returns an INSERT … SELECT … ORDER BY's rows in that
 * order; a count other than the input's throws, for the caller to roll back.
 */
export async function insertMany(
  source: PostgresSource,
  client: PoolClient,
  rows: EncodedValues[],
): Promise<SourceRow[]> {
  const { sql, params } = valuesList(source, null, rows, rows.length);
  const columns = rows[0].columns;
  const { rows: out } = await client.query({
    text:
      `INSERT INTO ${source.qualified} (${columns.map(quoteIdent).join(', ')}) ` +
      `SELECT ${columns.map((_, i) => `v.${valueAlias(i)}`).join(', ')} FROM ${sql} ORDER BY v.${ORDINAL} ` +
      `RETURNING ${source.selectList}`,
    values: params,
    types: pgTypeParsers,
  });
  if (out.length !== rows.length)
    throw new Error(`insert into ${source.qualified} returned ${out.length} rows for ${rows.length}`);
  return source.toRows(out);
}

/**
 * Statements that landed on a table, counted by Postgres itself: a statement-level trigger adds one per INSERT,
 * UPDATE or DELETE statement to the table `statements` (a batched write is one statement, a split one several).
 */
import type { Pool } from 'pg';

/** The `statements` table and the trigger function that fills it: once per database. */
export async function installStatementCounts(pool: Pool): Promise<void> {
  await pool.query(`CREATE TABLE statements (tbl text, op text, n int NOT NULL DEFAULT 0, PRIMARY KEY (tbl, op));
    CREATE FUNCTION count_statement() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO statements VALUES (TG_TABLE_NAME, TG_OP, 1)
        ON CONFLICT (tbl, op) DO UPDATE SET n = statements.n + 1;
      RETURN NULL;
    END $$;`);
}

/** SQL that counts the statements on `table` from now on (append it to the table's CREATE). */
export const countStatementsOn = (table: string): string =>
  `CREATE TRIGGER count_statement AFTER INSERT OR UPDATE OR DELETE ON ${table}
    FOR EACH STATEMENT EXECUTE FUNCTION count_statement();`;

/** Forgets the statements counted on `table` so far. */
export async function resetStatementCounts(pool: Pool, table: string): Promise<void> {
  await pool.query('DELETE FROM statements WHERE tbl = $1', [table]);
}

/** Statements of each kind counted on `table`: { INSERT: n, UPDATE: n, DELETE: n } (kinds with none left out). */
export async function statementCounts(pool: Pool, table: string): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ op: string; n: number }>(
    'SELECT op, n FROM statements WHERE tbl = $1',
    [table],
  );
  return Object.fromEntries(rows.map((r) => [r.op, r.n]));
}

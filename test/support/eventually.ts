import type { Pool } from 'pg';

/**
 * Polls `probe` until it returns a value (anything but undefined or false), or fails naming `what` after
 * `timeoutMs`. Tests wait on conditions this way, never on fixed sleeps that race timers.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Runs `run` while another session's transaction holds the edit `editSql` of `table` uncommitted, and commits it
 * once a session waits on a lock over `table` (the run, reaching the row): a deterministic race of an application's
 * edit against a run's read-then-write. Answers what `run` settled to (its value, or the error it threw).
 */
export async function racingEdit<T>(
  pool: Pool,
  table: string,
  editSql: string,
  run: () => Promise<T>,
): Promise<{ value?: T; error?: unknown }> {
  const app = await pool.connect();
  try {
    await app.query('BEGIN');
    await app.query(editSql);
    const running = run().then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    await eventually(`a session waiting on a lock over ${table}`, async () => {
      const { rows } = await pool.query(
        `SELECT 1 FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE $1`,
        [`%${table}%`],
      );
      return rows.length > 0;
    });
    await app.query('COMMIT');
    return await running;
  } finally {
    await app.query('ROLLBACK').catch(() => undefined);
    app.release();
  }
}

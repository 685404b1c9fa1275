import type { PoolClient } from 'pg';
import { checkConstraintsPerStatement } from '../../db/transaction';
import { markRunWrites, unmarkForRelease } from '../../capture/lsn/origin';
import type { RunScope } from '../runner';

/**
 * Runs `fn` with a transaction on the source and one on the metadata database (the same one when they are).
 * A dry run rolls both back: the page is applied as the real run would apply it, and nothing is kept.
 * When they are two databases, the source commits first, then the metadata; `beforeSourceCommit` runs after `fn`
 * and before the source commits (not in a dry run): what it commits on its own is durable before any row is.
 */
export async function inPageTx<T>(
  scope: RunScope,
  beforeSourceCommit: ((source: PoolClient, meta: PoolClient) => Promise<void>) | null,
  fn: (source: PoolClient, meta: PoolClient) => Promise<T>,
): Promise<T> {
  const meta = await scope.ctx.meta.connect();
  const source = scope.sameDatabase ? meta : await scope.sourcePool.connect();
  const end = scope.dryRun ? 'ROLLBACK' : 'COMMIT';
  let marked = false;
  try {
    // Marked as this definition's writes (LSN); capture still compares them with the ledger, which skips echoes (I3).
    marked = await markRunWrites(scope, source);
    await meta.query('BEGIN');
    if (source !== meta) await source.query('BEGIN');
    // A deferred constraint refusing one item's value then fails in the item's savepoint, not the page's COMMIT.
    await checkConstraintsPerStatement(source);
    const out = await fn(source, meta);
    scope.assertLockHeld();
    if (source !== meta && !scope.dryRun) await beforeSourceCommit?.(source, meta);
    if (source !== meta) await source.query(end);
    await meta.query(end);
    return out;
  } catch (err) {
    if (source !== meta) await source.query('ROLLBACK').catch(() => undefined);
    await meta.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    const stuck = await unmarkForRelease(source, marked);
    if (source !== meta) source.release(stuck);
    meta.release(source === meta ? stuck : undefined);
  }
}

/**
 * Whether decoded transactions are visible to a new snapshot yet. Logical decoding returns a transaction once its
 * commit record is flushed, and the committing backend becomes visible to other sessions only later: with
 * synchronous replication (synchronous_standby_names, Azure zone-redundant HA) it waits for the standby between the
 * two, and even without it the gap is there for a moment. A push reads the touched rows by key: read in that gap,
 * an insert is "not there", an update reads the old version and a delete finds the row, and the slot would then
 * move past a change never pushed (docs/design.md, I17).
 */
import type { Pool } from 'pg';

/** How long a push waits for decoded transactions to become visible before it stops in front of them. */
export const VISIBILITY_WAIT_MS = 5000;
const POLL_MS = 50;

const XID_SPAN = 2n ** 32n;

/**
 * The 64-bit id of a 32-bit xid, taken in the epoch nearest the snapshot's xmax (a decoded transaction is
 * within 2^31 transactions of any current snapshot, or the server would have wrapped around).
 */
function widen(xid: number, xmax: bigint): bigint {
  const low = xmax % XID_SPAN;
  let diff = (BigInt(xid) - low) % XID_SPAN;
  if (diff < 0n) diff += XID_SPAN;
  return diff < XID_SPAN / 2n ? xmax + diff : xmax - (XID_SPAN - diff);
}

/** The xids of `xids` a snapshot taken now does not see (still running, or completing). */
export async function invisibleXids(pool: Pool, xids: Iterable<number>): Promise<number[]> {
  const wanted = [...new Set(xids)];
  if (wanted.length === 0) return [];
  const { rows } = await pool.query<{ snapshot: string }>('SELECT pg_current_snapshot()::text AS snapshot');
  const [, xmaxText, xipText] = rows[0].snapshot.split(':');
  const xmax = BigInt(xmaxText);
  const running = new Set(xipText ? xipText.split(',').map((x) => BigInt(x)) : []);
  return wanted.filter((xid) => {
    const full = widen(xid, xmax);
    return full >= xmax || running.has(full);
  });
}

/**
 * Waits (at most `waitMs`) until every one of `xids` is visible; returns those still not visible then (empty when
 * all are).
 */
export async function awaitVisible(pool: Pool, xids: Iterable<number>, waitMs: number): Promise<number[]> {
  let pending = [...xids];
  const deadline = Date.now() + waitMs;
  for (;;) {
    pending = await invisibleXids(pool, pending);
    if (pending.length === 0 || Date.now() >= deadline) return pending;
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, deadline - Date.now())));
  }
}

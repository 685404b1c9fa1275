import type { Pool } from 'pg';
import { lsnNames } from '../capture/lsn/names';

/**
 * The part of a definition's slot, publication and origin names that never changes: lsnNames adds the
 * definition's name as a hint after it, so a renamed definition's objects are found by this prefix.
 */
export function replicationBaseName(installationId: string, definitionId: string): string {
  return lsnNames(installationId, definitionId, '').slot;
}

/** SQL true when the name in `col` is `base` or `base_<hint>` (LIKE would read the underscores as wildcards). */
const belongsTo = (col: string, base: string) =>
  `(${col} = ${base} OR left(${col}, length(${base}) + 1) = ${base} || '_')`;

/** A replication slot as the server reports it (pg_replication_slots), WAL figures in bytes. */
export interface SlotFigures {
  slot: string;
  /** A session is reading the slot right now. */
  active: boolean;
  /** reserved, extended, unreserved or lost (invalidated: its WAL is gone); null before WAL was reserved. */
  walStatus: string | null;
  /** WAL the server keeps for the slot: pg_current_wal_lsn() − restart_lsn. */
  retainedWalBytes: number | null;
  /** How far the slot's consumer is behind: pg_current_wal_lsn() − confirmed_flush_lsn. */
  lagBytes: number | null;
  /** PostgreSQL 17+: why the slot was invalidated (wal_removed, idle_timeout, …). */
  invalidationReason: string | null;
  /** confirmed_flush_lsn: what the slot's reader confirmed (compared with the push's recorded position). */
  confirmedLsn: string | null;
}

// to_jsonb keeps the query valid on servers without invalidation_reason (before PostgreSQL 17).
const SLOTS_SQL = `
SELECT b.base, s.slot_name::text AS slot, s.active, s.wal_status,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::text AS retained,
       pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::text AS lag,
       to_jsonb(s) ->> 'invalidation_reason' AS invalidation_reason, s.confirmed_flush_lsn::text AS confirmed
  FROM unnest($1::text[]) AS b(base)
  JOIN pg_replication_slots s ON ${belongsTo('s.slot_name', 'b.base')}
 ORDER BY b.base, s.slot_name`;

const bytes = (value: string | null): number | null => (value === null ? null : Number(value));

/**
 * The slots of the given definitions (by replicationBaseName) that exist on the server of `pool`, by base name:
 * one query for any number of definitions.
 */
export async function readSlotFigures(
  pool: Pool,
  bases: readonly string[],
): Promise<Map<string, SlotFigures>> {
  if (bases.length === 0) return new Map();
  const { rows } = await pool.query<{
    base: string;
    slot: string;
    active: boolean;
    wal_status: string | null;
    retained: string | null;
    lag: string | null;
    invalidation_reason: string | null;
    confirmed: string | null;
  }>(SLOTS_SQL, [bases]);
  return new Map(
    rows.map((r) => [
      r.base,
      {
        slot: r.slot,
        active: r.active,
        walStatus: r.wal_status,
        retainedWalBytes: bytes(r.retained),
        lagBytes: bytes(r.lag),
        invalidationReason: r.invalidation_reason,
        confirmedLsn: r.confirmed,
      },
    ]),
  );
}

/** One object of a definition on its source server. */
export type ReplicationObjectKind = 'slot' | 'publication' | 'origin';

/** An object that could not be dropped, with the statement an operator runs instead. */
export interface ReplicationObjectLeft {
  kind: ReplicationObjectKind;
  name: string;
  error: string;
  sql: string;
}

export interface DropReport {
  /** The objects that existed and were dropped, e.g. `slot arcore_…`. */
  dropped: { kind: ReplicationObjectKind; name: string }[];
  left: ReplicationObjectLeft[];
}

const literal = (name: string) => `'${name.replace(/'/g, "''")}'`;
const identifier = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** How to find a definition's objects of one kind, and the statement that drops one (names quoted). */
const DROP_SQL: Record<ReplicationObjectKind, { find: string; drop: (name: string) => string }> = {
  slot: {
    find: `SELECT slot_name::text AS name FROM pg_replication_slots WHERE ${belongsTo('slot_name', '$1')}`,
    drop: (name) => `SELECT pg_drop_replication_slot(${literal(name)})`,
  },
  publication: {
    find: `SELECT pubname::text AS name FROM pg_publication WHERE ${belongsTo('pubname', '$1')}`,
    drop: (name) => `DROP PUBLICATION IF EXISTS ${identifier(name)}`,
  },
  origin: {
    find: `SELECT roname::text AS name FROM pg_replication_origin WHERE ${belongsTo('roname', '$1')}`,
    drop: (name) => `SELECT pg_replication_origin_drop(${literal(name)})`,
  },
};

/**
 * Drops a definition's slot (freeing the WAL it holds), publication and replication origin on its source
 * server, each that exists (found by replicationBaseName, so a renamed definition's too). One that cannot be
 * dropped (a slot another session is reading, an origin the role may not drop, the server unreachable) is
 * reported with the statement to run by hand, and the others are still dropped.
 */
export async function dropReplicationObjects(pool: Pool, base: string): Promise<DropReport> {
  if (!/^[a-z0-9_]{1,63}$/.test(base)) throw new Error(`"${base}" is not a replication base name`);
  const report: DropReport = { dropped: [], left: [] };
  for (const kind of ['slot', 'publication', 'origin'] as const) {
    const sql = DROP_SQL[kind];
    let names: string[];
    try {
      names = (await pool.query<{ name: string }>(sql.find, [base])).rows.map((r) => r.name);
    } catch (err) {
      report.left.push({ kind, name: `${base}*`, error: (err as Error).message, sql: `${sql.drop(base)};` });
      continue;
    }
    for (const name of names) {
      try {
        await pool.query(sql.drop(name));
        report.dropped.push({ kind, name });
      } catch (err) {
        report.left.push({ kind, name, error: (err as Error).message, sql: `${sql.drop(name)};` });
      }
    }
  }
  return report;
}

/** `slot arcore_…, publication arcore_…`: what a drop did, as a user reads it. */
export function describeDropped(report: DropReport): string {
  return report.dropped.map((d) => `${d.kind} ${d.name}`).join(', ');
}

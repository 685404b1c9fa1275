import type { Pool } from 'pg';
import type { SlotPolicy } from '../engine/types';
import { readInstallationId } from '../store/installation';
import { readSlotFigures, replicationBaseName, type SlotFigures } from './replicationObjects';
import { groupBy } from '../groupBy';
import { parseLsnCursor } from '../capture/lsn/cursor';
import { parseLsn } from '../capture/lsn/pgoutput';

/** The settings' defaults (src/config/settings.ts), for callers without an engine context. */
export const DEFAULT_SLOT_POLICY: SlotPolicy = { warnBytes: 1024 ** 3, dropAfterDisabledHours: 72 };

/** What `status` shows of an LSN definition's replication slot. */
export interface SlotStatus {
  /** The slot's name on the source server; null when none exists. */
  slot: string | null;
  exists: boolean;
  /** A session is reading it right now (a push in progress). */
  active: boolean | null;
  /** reserved, extended, unreserved or lost (invalidated). */
  walStatus: string | null;
  /** WAL the server keeps for the slot (pg_current_wal_lsn() − restart_lsn). */
  retainedWalBytes: number | null;
  /** Bytes of WAL the slot's reader is behind (pg_current_wal_lsn() − confirmed_flush_lsn). */
  lagBytes: number | null;
  /** SLOT_WAL_WARN_BYTES. */
  warnBytes: number;
  /** False when the slot needs an operator: over the warning threshold, invalidated, missing, or unreadable. */
  healthy: boolean;
  /** Why it is unhealthy, or what happens to it next, in a sentence; null when there is nothing to say. */
  message: string | null;
  /** When the push timer dropped the slot of this disabled definition; null otherwise. */
  droppedAt: string | null;
}

/** An LSN definition as slot safety sees it. */
export interface LsnDefinitionRow {
  id: string;
  name: string;
  enabled: boolean;
  connection: string;
  disabledAt: Date | null;
  slotDroppedAt: Date | null;
  /** A push cursor is held: the slot was created and read before. */
  hasCursor: boolean;
  /** The slot position the push last recorded (its LSN cursor); null without one. */
  recordedLsn: string | null;
}

/** LSN definitions (all, or the one named), with what slot safety needs to know about them. */
export async function lsnDefinitionRows(meta: Pool, name?: string): Promise<LsnDefinitionRow[]> {
  const { rows } = await meta.query<{
    id: string;
    name: string;
    enabled: boolean;
    source_connection: string;
    disabled_at: Date | null;
    slot_dropped_at: Date | null;
    has_cursor: boolean;
    recorded: string | null;
  }>(
    `SELECT d.id::text AS id, d.name, d.enabled, d.source_connection, d.disabled_at, d.slot_dropped_at,
            EXISTS (SELECT 1 FROM arcore.sync_cursors c WHERE c.definition_id = d.id AND c.scope = 'SOURCE')
              AS has_cursor,
            (SELECT c.value FROM arcore.sync_cursors c
              WHERE c.definition_id = d.id AND c.scope = 'SOURCE' AND c.cursor_type = 'LSN') AS recorded
       FROM arcore.sync_definitions d
      WHERE d.cursor_type = 'LSN' AND ($1::text IS NULL OR d.name = $1)
      ORDER BY d.name`,
    [name ?? null],
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    enabled: r.enabled,
    connection: r.source_connection,
    disabledAt: r.disabled_at,
    slotDroppedAt: r.slot_dropped_at,
    hasCursor: r.has_cursor,
    recordedLsn: parseLsnCursor(r.recorded)?.lsn ?? null,
  }));
}

/** `1.5 GiB`: a byte count as an operator reads it. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

const RECOVERY = 'its next push re-reads the table and compares it with the list (no duplicates)';

/**
 * A definition's slot status from the server's figures (undefined: no slot), or from the error met reading
 * them. Pure, so that every branch is testable without a server in that state.
 */
export function slotStatusOf(
  def: LsnDefinitionRow,
  figures: SlotFigures | undefined,
  policy: SlotPolicy,
  readError?: string,
): SlotStatus {
  const base = {
    slot: figures?.slot ?? null,
    exists: figures !== undefined,
    active: figures?.active ?? null,
    walStatus: figures?.walStatus ?? null,
    retainedWalBytes: figures?.retainedWalBytes ?? null,
    lagBytes: figures?.lagBytes ?? null,
    warnBytes: policy.warnBytes,
    droppedAt: def.slotDroppedAt?.toISOString() ?? null,
  };
  if (readError !== undefined)
    return { ...base, exists: false, healthy: false, message: `the slot could not be read: ${readError}` };
  if (!figures) {
    if (def.slotDroppedAt)
      return {
        ...base,
        healthy: true,
        message:
          `dropped at ${def.slotDroppedAt.toISOString()}, the definition being disabled longer than ` +
          `SLOT_DROP_AFTER_DISABLED_HOURS (${policy.dropAfterDisabledHours}); enabled again, ${RECOVERY}`,
      };
    if (def.enabled && def.hasCursor)
      return { ...base, healthy: false, message: `the slot is missing: ${RECOVERY}` };
    return {
      ...base,
      healthy: true,
      message: def.enabled ? 'no slot yet: the first push creates it' : null,
    };
  }
  if (figures.walStatus === 'lost')
    return {
      ...base,
      healthy: false,
      message:
        `the slot was invalidated${figures.invalidationReason ? ` (${figures.invalidationReason})` : ''} and its ` +
        `changes are gone: ${RECOVERY}`,
    };
  // The push records a position before it moves the slot there: a slot past it was moved by someone else.
  if (
    def.recordedLsn !== null &&
    figures.confirmedLsn !== null &&
    parseLsn(figures.confirmedLsn) > parseLsn(def.recordedLsn)
  )
    return {
      ...base,
      healthy: false,
      message:
        `the slot's confirmed position ${figures.confirmedLsn} is past ${def.recordedLsn}, the one its push ` +
        'recorded: it was dropped and created again, or advanced, outside the push, and lacks the changes in ' +
        `between: ${RECOVERY}`,
    };
  const retained = figures.retainedWalBytes ?? 0;
  if (retained > policy.warnBytes)
    return {
      ...base,
      healthy: false,
      message:
        `the slot holds back ${formatBytes(retained)} of WAL, more than SLOT_WAL_WARN_BYTES ` +
        `(${formatBytes(policy.warnBytes)}): ` +
        (def.enabled
          ? 'pushes are not keeping up or not running; run one (arcore-sync push) and check its errors'
          : 'the definition is disabled; enable it, or remove it to drop the slot'),
    };
  if (!def.enabled && def.disabledAt) {
    const dropAt = new Date(def.disabledAt.getTime() + policy.dropAfterDisabledHours * 3_600_000);
    return {
      ...base,
      healthy: true,
      message: `disabled since ${def.disabledAt.toISOString()}: the push timer drops the slot after ${dropAt.toISOString()}`,
    };
  }
  return { ...base, healthy: true, message: null };
}

/** Opens (or returns) the pool of a named source connection. */
export type SourcePoolOf = (connection: string) => Pool | Promise<Pool>;

/**
 * The slot status of each LSN definition (all, or the one named), by definition id: one query per source
 * connection. A connection that cannot be read makes its definitions' slots unhealthy, naming the error.
 */
export async function slotStatuses(
  meta: Pool,
  sourcePool: SourcePoolOf,
  policy: SlotPolicy,
  name?: string,
): Promise<Map<string, SlotStatus>> {
  const defs = await lsnDefinitionRows(meta, name);
  const result = new Map<string, SlotStatus>();
  if (defs.length === 0) return result;
  const installation = await readInstallationId(meta);
  const read = new Map<string, SlotFigures | undefined>();
  const failed = new Map<string, string>();
  for (const [connection, group] of groupBy(defs, (def) => def.connection)) {
    const bases = group.map((d) => replicationBaseName(installation, d.id));
    try {
      const figures = await readSlotFigures(await sourcePool(connection), bases);
      group.forEach((d, i) => read.set(d.id, figures.get(bases[i])));
    } catch (err) {
      const message = `source connection "${connection}": ${(err as Error).message}`;
      for (const d of group) failed.set(d.id, message);
    }
  }
  // The recorded positions are read again after the slots: a push records its position before it moves its slot,
  // so read in this order the record is never behind the slot unless someone else moved it ('moved ahead').
  const fresh = new Map((await lsnDefinitionRows(meta, name)).map((d) => [d.id, d]));
  for (const d of defs) {
    const now = fresh.get(d.id) ?? d;
    const message = failed.get(d.id);
    result.set(
      d.id,
      message === undefined
        ? slotStatusOf(now, read.get(d.id), policy)
        : slotStatusOf(now, undefined, policy, message),
    );
  }
  return result;
}

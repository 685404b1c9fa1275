import type { Pool } from 'pg';
import type { EngineContext, SlotPolicy } from '../engine/types';
import { readInstallationId } from '../store/installation';
import { tryLockDefinition } from '../store/locks';
import {
  describeDropped,
  dropReplicationObjects,
  replicationBaseName,
  type DropReport,
} from './replicationObjects';
import { DEFAULT_SLOT_POLICY, lsnDefinitionRows, slotStatuses, type SlotStatus } from './slotHealth';
import { inTransaction } from '../db/transaction';

/** The slot of a definition disabled too long, dropped (or not) by the push timer. */
export interface SlotRetirement {
  definition: string;
  definitionId: string;
  disabledAt: string;
  dropped: DropReport['dropped'];
  left: DropReport['left'];
  /** One sentence for the logs and the timer's output. */
  message: string;
}

/** The slot of one LSN definition, as the push timer checked it. */
export interface CheckedSlot {
  definition: string;
  enabled: boolean;
  status: SlotStatus;
}

export interface SlotMaintenance {
  retired: SlotRetirement[];
  checked: CheckedSlot[];
}

/**
 * The metadata half of a dropped slot: the push cursor (an LSN the new slot would not have) goes, so the
 * definition's next push, once it is enabled, re-reads the table and compares it with the ledger instead of
 * reading changes; slot_dropped_at tells `status` what happened.
 */
async function recordSlotDropped(meta: Pool, definitionId: string): Promise<void> {
  await inTransaction(meta, async (client) => {
    await client.query("DELETE FROM arcore.sync_cursors WHERE definition_id = $1 AND scope = 'SOURCE'", [
      definitionId,
    ]);
    await client.query('UPDATE arcore.sync_definitions SET slot_dropped_at = now() WHERE id = $1', [
      definitionId,
    ]);
  });
}

/**
 * Drops the slot, publication and origin of every LSN definition disabled for longer than
 * `dropAfterDisabledHours`, so that a paused definition cannot fill its server's disk with WAL. A definition a
 * run holds (I11) is left for the next tick; one whose slot could not be dropped is retried on the next tick
 * and reported with the statement to run.
 */
export async function retireIdleSlots(
  ctx: EngineContext,
  policy: SlotPolicy = ctx.slotPolicy ?? DEFAULT_SLOT_POLICY,
  now = new Date(),
): Promise<SlotRetirement[]> {
  const cutoff = now.getTime() - policy.dropAfterDisabledHours * 3_600_000;
  const due = (await lsnDefinitionRows(ctx.meta)).filter(
    (d) =>
      !d.enabled && d.slotDroppedAt === null && d.disabledAt !== null && d.disabledAt.getTime() <= cutoff,
  );
  if (due.length === 0) return [];
  const installation = await readInstallationId(ctx.meta);
  const retired: SlotRetirement[] = [];
  for (const def of due) {
    const lock = await tryLockDefinition(ctx.meta, def.id);
    if (!lock) continue;
    try {
      const report = await dropReplicationObjects(
        ctx.sourcePool(def.connection),
        replicationBaseName(installation, def.id),
      );
      const slotLeft = report.left.some((l) => l.kind === 'slot');
      if (!slotLeft) await recordSlotDropped(ctx.meta, def.id);
      const disabledAt = (def.disabledAt as Date).toISOString();
      const why = `disabled since ${disabledAt}, longer than SLOT_DROP_AFTER_DISABLED_HOURS (${policy.dropAfterDisabledHours})`;
      const message = slotLeft
        ? `${def.name}: ${why}, but its slot could not be dropped (${report.left.map((l) => l.error).join('; ')}); ` +
          `retried on the next tick, or run on the source: ${report.left.map((l) => l.sql).join(' ')}`
        : `${def.name}: ${why}: dropped ${describeDropped(report) || 'nothing (no slot existed)'}` +
          `${report.left.length ? `; left ${report.left.map((l) => `${l.kind} ${l.name} (${l.error}; run ${l.sql})`).join(', ')}` : ''}` +
          '. Enabled again, its next push re-reads the table and compares it with the list (no duplicates)';
      if (slotLeft) ctx.log.warn(message);
      else ctx.log.info(message);
      retired.push({
        definition: def.name,
        definitionId: def.id,
        disabledAt,
        dropped: report.dropped,
        left: report.left,
        message,
      });
    } finally {
      await lock.release();
    }
  }
  return retired;
}

/**
 * What the push timer does for slot safety on each tick: drop the slots of definitions disabled too long,
 * then read every LSN definition's slot (retained WAL, lag) and log a warning for each unhealthy one.
 */
export async function maintainSlots(ctx: EngineContext, now = new Date()): Promise<SlotMaintenance> {
  const policy = ctx.slotPolicy ?? DEFAULT_SLOT_POLICY;
  const retired = await retireIdleSlots(ctx, policy, now);
  const defs = await lsnDefinitionRows(ctx.meta);
  if (defs.length === 0) return { retired, checked: [] };
  const statuses = await slotStatuses(ctx.meta, (c) => ctx.sourcePool(c), policy);
  const checked = defs.flatMap((d) => {
    const status = statuses.get(d.id);
    return status ? [{ definition: d.name, enabled: d.enabled, status }] : [];
  });
  for (const c of checked)
    if (!c.status.healthy) ctx.log.warn(`${c.definition}: replication slot unhealthy: ${c.status.message}`);
  return { retired, checked };
}

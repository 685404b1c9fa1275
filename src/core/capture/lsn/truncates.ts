/**
 * TRUNCATEs met by the push of an LSN definition, under deletes.truncate (arcore.capture_truncates):
 * PROPAGATE handles the items of rows not in the table now under deletes.push (the full comparison), IGNORE carries on, PARK records the TRUNCATE and
 * stops the definition's pushes at it until an operator decides (`arcore-sync truncate-decide`). A decision
 * is applied once: the row is marked applied before the slot moves past the TRUNCATE, and a PROPAGATE cut short
 * by a crash, applied again, finds the items it already deleted gone from the ledger.
 */
import type { Pool, PoolClient } from 'pg';
import type { TruncatePolicy } from '../../definition/schema';
import type { ErrorKind } from '../../errors/kind';
import {
  continueOwedComparison,
  forgetOwedComparison,
  oweFullComparison,
  reconcileDeletes,
} from '../../engine/push/deletes';
import type { RunScope } from '../../engine/runner';
import type { CapturedTransaction } from './changes';

export type TruncateDecision = Exclude<TruncatePolicy, 'PARK'>;

export interface TruncateRecord {
  id: string;
  definitionId: string;
  lsn: string;
  detectedAt: Date;
  decision: TruncateDecision | null;
  decidedAt: Date | null;
  decidedBy: string | null;
  appliedAt: Date | null;
}

interface Row {
  id: string;
  definition_id: string;
  lsn: string;
  detected_at: Date;
  decision: TruncateDecision | null;
  decided_at: Date | null;
  decided_by: string | null;
  applied_at: Date | null;
}

const COLUMNS = `id::text, definition_id::text, lsn::text, detected_at, decision, decided_at, decided_by, applied_at`;

function toRecord(r: Row): TruncateRecord {
  return {
    id: r.id,
    definitionId: r.definition_id,
    lsn: r.lsn,
    detectedAt: r.detected_at,
    decision: r.decision,
    decidedAt: r.decided_at,
    decidedBy: r.decided_by,
    appliedAt: r.applied_at,
  };
}

/** The definition's TRUNCATEs not applied yet (a parked one waits for a decision), oldest first. */
export async function openTruncates(db: Pool | PoolClient, definitionId: string): Promise<TruncateRecord[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM arcore.capture_truncates WHERE definition_id = $1 AND applied_at IS NULL ORDER BY lsn`,
    [definitionId],
  );
  return rows.map(toRecord);
}

export class TruncateDecisionError extends Error {
  readonly errorKind: ErrorKind;

  constructor(message: string, kind: ErrorKind) {
    super(message);
    this.name = 'TruncateDecisionError';
    this.errorKind = kind;
  }
}

/**
 * An operator's decision on the definition's parked TRUNCATE: the next push applies it and carries on.
 * Refuses when nothing is parked, or when it was already decided.
 */
export async function decideTruncate(
  db: Pool,
  definitionId: string,
  definition: string,
  decision: TruncateDecision,
  by: string,
): Promise<TruncateRecord> {
  const { rows } = await db.query<Row>(
    `UPDATE arcore.capture_truncates SET decision = $2, decided_at = now(), decided_by = $3
      WHERE id = (SELECT id FROM arcore.capture_truncates
                   WHERE definition_id = $1 AND applied_at IS NULL AND decision IS NULL ORDER BY lsn LIMIT 1)
      RETURNING ${COLUMNS}`,
    [definitionId, decision, by],
  );
  if (!rows[0])
    throw new TruncateDecisionError(
      `Definition "${definition}" has no TRUNCATE waiting for a decision (only a push under ` +
        'deletes.truncate PARK parks one)',
      'not_found',
    );
  return toRecord(rows[0]);
}

/**
 * Records the TRUNCATE committed at `lsn` (once: a second record of the same TRUNCATE returns the first), decided
 * at once unless deletes.truncate is PARK.
 */
export async function recordTruncate(scope: RunScope, lsn: string): Promise<TruncateRecord> {
  const policy = scope.def.deletes.truncate;
  const { rows } = await scope.ctx.meta.query<Row>(
    `INSERT INTO arcore.capture_truncates (definition_id, lsn, run_id, decision, decided_at, decided_by)
     VALUES ($1, $2::pg_lsn, $3, $4, CASE WHEN $4::text IS NULL THEN NULL ELSE now() END,
             CASE WHEN $4::text IS NULL THEN NULL ELSE 'deletes.truncate' END)
     ON CONFLICT (definition_id, lsn) DO UPDATE SET definition_id = EXCLUDED.definition_id
     RETURNING ${COLUMNS}`,
    [scope.definitionId, lsn, scope.runId === '0' ? null : scope.runId, policy === 'PARK' ? null : policy],
  );
  return toRecord(rows[0]);
}

/** Handles the TRUNCATE of `txn`; false when it is parked and the run must stop. */
export async function applyTruncate(
  scope: RunScope,
  txn: Pick<CapturedTransaction, 'commitLsn'>,
): Promise<boolean> {
  const { def, ctx } = scope;
  if (scope.dryRun) {
    scope.details.truncate = { lsn: txn.commitLsn, policy: def.deletes.truncate, preview: true };
    return def.deletes.truncate !== 'PARK';
  }
  const truncate = await recordTruncate(scope, txn.commitLsn);
  if (truncate.appliedAt) return true; // applied before a crash; the slot had not moved past it yet
  if (truncate.decision === null) {
    const message =
      `TRUNCATE of ${def.source.schema}.${def.source.table} (at ${truncate.lsn}) is parked under ` +
      `deletes.truncate PARK; pushes stop here until an operator decides: arcore-sync truncate-decide ` +
      `${def.name} --propagate (delete the items of rows not in the table then, under deletes.push) or --ignore (keep them)`;
    // Not an incomplete run: a continuation would only meet the TRUNCATE again. The run says so instead.
    ctx.log.warn(`${def.name}: ${message}`);
    scope.details.truncateParked = {
      id: truncate.id,
      lsn: truncate.lsn,
      detectedAt: truncate.detectedAt,
      message,
    };
    return false;
  }
  // PROPAGATE deletes the items of the rows the TRUNCATE removed that are not there now, as a captured DELETE does
  // (rows are read as they are now): the full comparison of the ledger with the table. A table emptied and filled
  // again in one transaction (a reload) keeps the items of the rows it refilled, which the changes after the
  // TRUNCATE update, instead of deleting every item and creating it again under a new id (losing what only
  // SharePoint held of it). A comparison its time budget stops is owed, stored, and continued by the next run.
  if (truncate.decision === 'PROPAGATE') await reconcileDeletes(scope, { force: true });
  scope.assertLockHeld();
  await ctx.meta.query('UPDATE arcore.capture_truncates SET applied_at = now() WHERE id = $1', [truncate.id]);
  scope.details.truncate = { lsn: truncate.lsn, decision: truncate.decision };
  ctx.log.info(`${def.name}: TRUNCATE at ${truncate.lsn} applied: ${truncate.decision}`);
  return true;
}

/**
 * A full comparison of the ledger with the table (a load after reset-cursor, a lost, dropped or invalidated slot,
 * routes changed, a switch to TIMESTAMP) while a TRUNCATE is open: the new slot starts after it and never meets it
 * again, and the comparison would find every truncated row gone and delete its item, a decision PARK leaves to the
 * operator. Undecided: the comparison stays owed and its deletes are held (the run says so and names
 * truncate-decide). IGNORE: the comparison is forgotten (the items of the truncated rows are kept, as IGNORE says)
 * and the TRUNCATE applied. PROPAGATE: the comparison deletes the rows gone under deletes.push, then the TRUNCATE
 * is applied. `force`: a comparison newly owed (else one already owed, if any, continues). False when the time
 * budget stopped the comparison.
 */
export async function compareUnlessTruncateHeld(scope: RunScope, force: boolean): Promise<boolean> {
  const { def, ctx } = scope;
  const open = await openTruncates(ctx.meta, scope.definitionId);
  const waiting = open.find((t) => t.decision === null);
  if (waiting) {
    if (force) await oweFullComparison(scope);
    const message =
      `TRUNCATE of ${def.source.schema}.${def.source.table} (at ${waiting.lsn}) is parked under deletes.truncate ` +
      'PARK: the full comparison of the ledger with the table, which would delete the items of the truncated ' +
      `rows, is held until an operator decides: arcore-sync truncate-decide ${def.name} --propagate (delete ` +
      'the items of rows gone under deletes.push) or --ignore (keep them)';
    ctx.log.warn(`${def.name}: ${message}`);
    scope.details.truncateParked = {
      id: waiting.id,
      lsn: waiting.lsn,
      detectedAt: waiting.detectedAt,
      message,
    };
    return true;
  }
  let compared = true;
  if (open.length > 0 && open.every((t) => t.decision === 'IGNORE')) {
    if (!scope.dryRun) await forgetOwedComparison(scope);
  } else {
    compared = force ? await reconcileDeletes(scope, { force: true }) : await continueOwedComparison(scope);
  }
  if (!compared || open.length === 0 || scope.dryRun) return compared;
  scope.assertLockHeld();
  await ctx.meta.query(
    'UPDATE arcore.capture_truncates SET applied_at = now() WHERE id = ANY($1::bigint[])',
    [open.map((t) => t.id)],
  );
  for (const t of open) {
    scope.details.truncate = { lsn: t.lsn, decision: t.decision };
    ctx.log.info(`${def.name}: TRUNCATE at ${t.lsn} applied by the full comparison: ${t.decision}`);
  }
  return true;
}

/**
 * A switch to TIMESTAMP while a TRUNCATE is open: the slot that holds it is dropped and the TIMESTAMP push compares
 * the whole table, which deletes the items of the truncated rows under deletes.push (as TIMESTAMP's delete detection
 * always does, so IGNORE cannot keep them past the switch). Undecided: the switch is refused (nothing is dropped)
 * naming truncate-decide. Decided: returns what marks them applied once the switch is recorded (a crash before it
 * switches again and finds them still open).
 */
export async function settleTruncatesBeforeLeaving(scope: RunScope): Promise<() => Promise<void>> {
  const { def, ctx } = scope;
  const open = await openTruncates(ctx.meta, scope.definitionId);
  const waiting = open.find((t) => t.decision === null);
  if (waiting)
    throw new TruncateDecisionError(
      `Definition "${def.name}": its TRUNCATE of ${def.source.schema}.${def.source.table} (at ${waiting.lsn}) is ` +
        'parked under deletes.truncate PARK; the switch to TIMESTAMP compares the whole table and would delete the ' +
        `items of the truncated rows. Decide it first: arcore-sync truncate-decide ${def.name} --propagate or ` +
        '--ignore (a TIMESTAMP definition deletes items whose rows are gone under deletes.push either way); the ' +
        'next push then switches',
      'invalid_definition',
    );
  return async () => {
    if (open.length === 0 || scope.dryRun) return;
    await ctx.meta.query(
      'UPDATE arcore.capture_truncates SET applied_at = now() WHERE id = ANY($1::bigint[])',
      [open.map((t) => t.id)],
    );
  };
}

import type { Pool } from 'pg';
import { definitionIdByName } from './definitionIds';
import { UnknownConflictError } from './errors';
import type { ConflictRecord, ConflictStatus } from './records';

interface ConflictRow {
  id: string;
  definition: string;
  run_id: string | null;
  source_identity: unknown;
  sp_item_id: string | null;
  detected_by: ConflictRecord['detectedBy'];
  kind: ConflictRecord['kind'];
  fields: string[];
  policy: string;
  base_values: unknown;
  postgres_values: unknown;
  sharepoint_values: unknown;
  outcome: string;
  resolved_values: unknown;
  status: ConflictStatus;
  reason: string | null;
  created_at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
  push_delete_policy: string;
  pull_delete_policy: string;
}

const CONFLICT_COLUMNS = `c.id::text AS id, d.name AS definition, c.run_id::text AS run_id, c.source_identity,
  c.sp_item_id, c.detected_by, c.kind, c.fields, c.policy, c.base_values, c.postgres_values, c.sharepoint_values, c.outcome,
  c.resolved_values, c.status, c.reason, c.created_at, c.resolved_at, c.resolved_by, d.push_delete_policy,
  d.pull_delete_policy`;

function toConflictRecord(row: ConflictRow): ConflictRecord {
  return {
    conflictId: row.id,
    definition: row.definition,
    runId: row.run_id,
    sourceIdentity: row.source_identity,
    spItemId: row.sp_item_id,
    detectedBy: row.detected_by,
    kind: row.kind,
    fields: row.fields,
    policy: row.policy,
    baseValues: row.base_values,
    postgresValues: row.postgres_values,
    sharepointValues: row.sharepoint_values,
    outcome: row.outcome,
    resolvedValues: row.resolved_values,
    status: row.status,
    reason: row.reason,
    createdAt: row.created_at.toISOString(),
    resolvedAt: row.resolved_at ? row.resolved_at.toISOString() : null,
    resolvedBy: row.resolved_by,
    // A side with no values was deleted (a delete against an edit, I8); a copy has both.
    deleted:
      row.kind !== 'CHANGE'
        ? null
        : row.postgres_values === null
          ? 'POSTGRES'
          : row.sharepoint_values === null
            ? 'SHAREPOINT'
            : null,
    deletes: { push: row.push_delete_policy, pull: row.pull_delete_policy },
  };
}

/** Conflicts of a definition, newest first; all statuses unless `status` is given. */
export async function listConflicts(
  meta: Pool,
  name: string,
  status?: ConflictStatus,
): Promise<ConflictRecord[]> {
  const definitionId = await definitionIdByName(meta, name);
  const { rows } = await meta.query<ConflictRow>(
    `SELECT ${CONFLICT_COLUMNS} FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
     WHERE c.definition_id = $1 AND ($2::text IS NULL OR c.status = $2)
     ORDER BY c.created_at DESC, c.id DESC`,
    [definitionId, status ?? null],
  );
  return rows.map(toConflictRecord);
}

/** One conflict by id; UnknownConflictError when there is none. */
export async function getConflict(meta: Pool, conflictId: string): Promise<ConflictRecord> {
  if (!/^[1-9][0-9]{0,18}$/.test(conflictId)) throw new UnknownConflictError(conflictId);
  const { rows } = await meta.query<ConflictRow>(
    `SELECT ${CONFLICT_COLUMNS} FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
     WHERE c.id = $1`,
    [conflictId],
  );
  if (rows.length === 0) throw new UnknownConflictError(conflictId);
  return toConflictRecord(rows[0]);
}

/** One field of a conflict as `conflicts show` prints it: the value the pair last synced and each side's. */
export interface ConflictFieldValues {
  field: string;
  base: unknown;
  postgres: unknown;
  sharepoint: unknown;
}

function valuesOf(record: unknown): Record<string, unknown> {
  return record !== null && typeof record === 'object' ? (record as Record<string, unknown>) : {};
}

/**
 * The fields where base, Postgres and SharePoint do not all agree, the conflict's own fields first (I7). A
 * side that was deleted has no values: every field it had differs.
 */
export function differingFields(c: ConflictRecord): ConflictFieldValues[] {
  const base = valuesOf(c.baseValues);
  const pg = valuesOf(c.postgresValues);
  const sp = valuesOf(c.sharepointValues);
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const names = [...new Set([...c.fields, ...Object.keys(base), ...Object.keys(pg), ...Object.keys(sp)])];
  return names
    .filter(
      (f) =>
        c.fields.includes(f) ||
        c.postgresValues === null ||
        c.sharepointValues === null ||
        !same(base[f], pg[f]) ||
        !same(base[f], sp[f]),
    )
    .map((f) => ({ field: f, base: base[f] ?? null, postgres: pg[f] ?? null, sharepoint: sp[f] ?? null }));
}

/** Writing a pair's decided values: the Graph body push may send (I9), and the Postgres side of a decision. */
import type { PoolClient } from 'pg';
import {
  toCanonical,
  toGraphFields,
  type CanonicalRecord,
  type CanonicalValue,
  type FieldKind,
} from '../../canonical';
import { KeyMatchError } from '../../source/postgres/keys';
import { pick } from '../plan';
import { pulledValue } from '../transform';
import { type PairDecision } from '../reconcile';
import { type RunScope } from '../runner';

/** The Graph `fields` body for canonical values, keeping only the fields push may write (I9). */
export function graphFields(scope: RunScope, values: CanonicalRecord): Record<string, unknown> {
  return toGraphFields(
    pick(
      values,
      Object.keys(values).filter((f) => scope.plan.byTarget.get(f)?.pushable),
    ),
    scope.plan.columns,
  );
}

/**
 * What a write to the item of an ORPHANED entry adds, its row being back (I8): under SOFT, the soft-delete flag
 * cleared. Other entries, and IGNORE: nothing.
 */
export function revivedFields(scope: RunScope, entry: { state: string }): Record<string, unknown> {
  const { push, pushSoftColumn } = scope.def.deletes;
  return entry.state === 'ORPHANED' && push === 'SOFT' && pushSoftColumn ? { [pushSoftColumn]: false } : {};
}

/**
 * The `fields` body creating a row's item: every field push may write (`toSharePoint`, I9), and the row's hidden
 * key, by which a create of unknown outcome is found again (I6). graphFields and a spread did the same with three
 * more copies of every row's values.
 */
export function createFields(
  scope: RunScope,
  values: CanonicalRecord,
  hash: string,
): Record<string, unknown> {
  const fields = toGraphFields(pick(values, scope.plan.toSharePoint), scope.plan.columns);
  fields[scope.def.target.keyColumn] = hash;
  return fields;
}

/**
 * The source columns a decision's values write (pullable, non-key fields; pipelines run here) and, into
 * `written`, the Postgres value of each field with a pipeline. Pure: the pull plans a page's writes with it.
 * `insert`: the values make a row (re-created), which also takes the fields a row inserted for a new item takes
 * (PlannedField.pulledOnInsert) when they are given.
 */
export function postgresValues(
  scope: RunScope,
  decided: CanonicalRecord,
  written: Record<string, CanonicalValue>,
  insert = false,
): Record<string, { kind: FieldKind; value: CanonicalValue }> {
  const values: Record<string, { kind: FieldKind; value: CanonicalValue }> = {};
  for (const [target, value] of Object.entries(decided)) {
    const f = scope.plan.byTarget.get(target);
    if (f && (insert ? f.pulledOnInsert : f.pullable) && !scope.def.source.key.includes(f.source)) {
      if (f.transforms) {
        const pulled = pulledValue(f, value);
        values[f.source] = { kind: f.sourceKind, value: pulled };
        written[target] = pulled;
      } else values[f.source] = { kind: f.kind, value };
    }
  }
  return values;
}

/**
 * Writes Postgres-side actions of a decision (conflict outcomes taken from SharePoint). Returns, for fields
 * with pipelines, the Postgres value written (the pull pipeline's output), for the ledger's pairs.
 */
export async function applyToPostgres(
  scope: RunScope,
  client: PoolClient,
  key: unknown[],
  identity: Record<string, unknown>,
  decision: PairDecision,
): Promise<Record<string, CanonicalValue>> {
  const written: Record<string, CanonicalValue> = {};
  const action = decision.postgres;
  if (action.kind === 'none') return written;
  if (action.kind === 'delete') {
    const policy = scope.def.deletes.pull;
    if (policy === 'PROPAGATE') await scope.source.deleteRow(client, key);
    else if (policy === 'SOFT' && scope.def.deletes.pullSoftColumn)
      await scope.source.setFlag(client, key, scope.def.deletes.pullSoftColumn);
    return written;
  }
  const values = postgresValues(scope, action.values, written, action.kind === 'recreate');
  if (action.kind === 'write') {
    await scope.source.updateRow(client, key, values);
    return written;
  }
  for (const k of scope.def.source.key) {
    if (!(k in values))
      values[k] = {
        kind: scope.plan.keyKinds[k] ?? 'text',
        value: toCanonical(scope.plan.keyKinds[k] ?? 'text', identity[k]),
      };
  }
  const row = await scope.source.insertRow(client, values);
  // Re-creating a row of a view: nothing refuses a key another row took meanwhile (a new item of the same pull
  // page): ask it, inside the caller's transaction (I13).
  if (scope.keyUnenforced) {
    const inserted = scope.def.source.key.map((k) => row.values[k]);
    const [held] = await scope.source.keysHeldTwice([inserted], client);
    if (held)
      throw new KeyMatchError(scope.source.qualified, 'insert', scope.source.keyRecord(inserted), held.rows);
  }
  return written;
}

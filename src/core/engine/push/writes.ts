/** Writing a pair's decided values: the Graph body push may send (I9), and the Postgres side of a decision. */
import type { PoolClient } from 'pg';
import {
  identityOf,
  toCanonical,
  toGraphFields,
  type CanonicalRecord,
  type CanonicalValue,
  type FieldKind,
} from '../../canonical';
import { describeKey, KeyMatchError } from '../../source/postgres/keys';
import type { SourceRow } from '../../source/postgres/PostgresSource';
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
 * Where a re-created row went when Postgres gave it a key other than the one asked for (a view's INSTEAD OF trigger
 * or a column default making the key): its identity, as the ledger keys it (I1), and the row as inserted.
 */
export interface Rekeyed {
  to: { identity: Record<string, unknown>; hash: string; row: SourceRow } | null;
}

/**
 * A re-created row got another key than its pair's, and the caller cannot move the pair to it: the row is refused
 * (I12), so the pair is never left under a key no row holds, where the next push created a second item for the row.
 */
export class RecreatedKeyError extends Error {
  constructor(
    readonly table: string,
    readonly asked: Record<string, unknown>,
    readonly got: Record<string, unknown>,
  ) {
    super(
      `re-creating the row of ${table} with key ${describeKey(asked)}, Postgres gave it key ${describeKey(got)} ` +
        `(a trigger or a default makes the key): the row was not re-created and its pair is held. Resolve its ` +
        `conflict (resolve --take sharepoint re-creates the row and pairs it under the key it gets, --take postgres ` +
        `keeps it deleted), or let the INSERT keep the key it is given`,
    );
    this.name = 'RecreatedKeyError';
  }
}

/**
 * Writes Postgres-side actions of a decision (conflict outcomes taken from SharePoint). Returns, for fields
 * with pipelines, the Postgres value written (the pull pipeline's output), for the ledger's pairs.
 * `rekeyed`: a re-created row may take the key Postgres gives it, which is set there, for the caller to move the
 * pair to (design.md I1); without it such a row is refused (RecreatedKeyError).
 */
export async function applyToPostgres(
  scope: RunScope,
  client: PoolClient,
  key: unknown[],
  identity: Record<string, unknown>,
  decision: PairDecision,
  rekeyed?: Rekeyed,
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
  const keyColumns = scope.def.source.key;
  const inserted = keyColumns.map((k) => row.values[k]);
  // A view's INSTEAD OF trigger (or a default) may make the key whatever the INSERT asked: the row is where the
  // INSERT returned it, and its pair must follow it there (I1), or be refused.
  const asked = identityOf(
    keyColumns,
    Object.fromEntries(keyColumns.map((k, i) => [k, key[i]])),
    scope.plan.keyKinds,
  );
  const got = identityOf(keyColumns, row.values, scope.plan.keyKinds);
  if (got.hash !== asked.hash) {
    const gotIdentity = scope.source.keyRecord(inserted);
    if (!rekeyed)
      throw new RecreatedKeyError(scope.source.qualified, scope.source.keyRecord(key), gotIdentity);
    rekeyed.to = { identity: gotIdentity, hash: got.hash, row };
  }
  // Re-creating a row of a view: nothing refuses a key another row took meanwhile (a new item of the same pull
  // page): ask it, inside the caller's transaction (I13).
  if (scope.keyUnenforced) {
    const [held] = await scope.source.keysHeldTwice([inserted], client);
    if (held)
      throw new KeyMatchError(scope.source.qualified, 'insert', scope.source.keyRecord(inserted), held.rows);
  }
  return written;
}

import type { CanonicalRecord } from '../canonical';
import { resolveConflict, type ConflictOutcome } from '../conflict';
import type { SyncDefinition } from '../definition/schema';
import { differs, pick, type FieldPlan } from './plan';

/** What both sides look like now, against the values they last agreed on (the ledger's synced values). */
export interface PairState {
  base: CanonicalRecord | null;
  /** null: the row is gone. */
  postgres: CanonicalRecord | null;
  /** null: the item is gone. */
  sharepoint: CanonicalRecord | null;
  postgresModifiedAt?: string | null;
  sharepointModifiedAt?: string | null;
}

export type SideAction =
  | { kind: 'none' }
  | { kind: 'write'; values: CanonicalRecord } // only the fields that must change
  | { kind: 'recreate'; values: CanonicalRecord } // the other side's record is gone and must come back
  | { kind: 'delete' };

export interface PairDecision {
  outcome: ConflictOutcome;
  /** A conflict to record (I7): a field changed on both sides (ROW: any change on both), a delete against an edit, or a key field edited in SharePoint. */
  conflict: boolean;
  /** The fields in conflict, for the conflict record; empty when there is none. */
  conflictFields: string[];
  /** Key fields whose SharePoint value differs from the synced one: Postgres keeps its value and SharePoint gets it back. */
  keyEdits: string[];
  sharepoint: SideAction;
  postgres: SideAction;
  /** The synced values after the actions; null: the pair is gone. */
  synced: CanonicalRecord | null;
  reason: string;
}

/** Key fields the item changed since the last sync; a field the ledger never held (added later) is not an edit. */
function keyFieldEdits(plan: FieldPlan, s: PairState): string[] {
  const { base, sharepoint } = s;
  if (base === null || sharepoint === null) return [];
  return [...plan.keyFields, ...plan.oneWayFields, ...plan.computedFields].filter(
    (f) => f in base && differs(base, sharepoint, [f]).length > 0,
  );
}

/** Whether both sides changed the shared fields in a way the definition's detection calls a conflict (I7). */
function sharedConflict(
  def: SyncDefinition,
  shared: string[],
  s: PairState & { postgres: CanonicalRecord; sharepoint: CanonicalRecord },
): boolean {
  const pgEdits = differs(s.base, s.postgres, shared);
  const spEdits = differs(s.base, s.sharepoint, shared);
  if (def.conflictDetection === 'ROW') {
    const either = shared.filter((f) => pgEdits.includes(f) || spEdits.includes(f));
    return pgEdits.length > 0 && spEdits.length > 0 && differs(s.postgres, s.sharepoint, either).length > 0;
  }
  return pgEdits.some((f) => spEdits.includes(f) && differs(s.postgres, s.sharepoint, [f]).length > 0);
}

/**
 * The one decision both directions share. Given base, Postgres and SharePoint states, it says what to
 * write where. A side that did not change in the fields flowing out of it is not written from (I3); a
 * change on one side only flows to the other. Under FIELD detection (the default) edits to different fields on
 * the two sides are all kept, whatever the policy, and only fields changed on both sides are a conflict the
 * policy decides; under ROW any change to shared fields on both sides is a conflict of the whole row. A delete
 * against an edit is a conflict under both (I7). Push-only fields always follow Postgres and pull-only fields
 * always follow SharePoint, whatever the policy (I9). A key field edited in SharePoint is a conflict Postgres
 * wins: its value is written back to SharePoint (I13).
 */
export function decidePair(plan: FieldPlan, def: SyncDefinition, s: PairState): PairDecision {
  const { shared, toSharePoint, toPostgres } = plan;
  const pgChanged =
    s.postgres === null ? s.base !== null : differs(s.base, s.postgres, toSharePoint).length > 0;
  const spChanged =
    s.sharepoint === null ? s.base !== null : differs(s.base, s.sharepoint, toPostgres).length > 0;
  const keyEdits = keyFieldEdits(plan, s);
  const none: SideAction = { kind: 'none' };
  const quiet = { conflict: false, conflictFields: [], keyEdits: [] };

  if (s.postgres === null && s.sharepoint === null) {
    return {
      outcome: 'NO_CONFLICT',
      ...quiet,
      sharepoint: none,
      postgres: none,
      synced: null,
      reason: 'both sides deleted',
    };
  }
  if (!pgChanged && !spChanged && keyEdits.length === 0) {
    return {
      outcome: 'NO_CONFLICT',
      ...quiet,
      sharepoint: none,
      postgres: none,
      synced: s.base,
      reason: 'unchanged',
    };
  }

  const deletion = s.postgres === null || s.sharepoint === null;
  const conflict =
    s.postgres === null || s.sharepoint === null
      ? pgChanged && spChanged
      : sharedConflict(def, shared, { ...s, postgres: s.postgres, sharepoint: s.sharepoint });

  let agreedShared: CanonicalRecord | null;
  let outcome: ConflictOutcome = 'NO_CONFLICT';
  let reason: string;
  let conflictFields: string[] = [];
  if (conflict) {
    const d = resolveConflict({
      policy: def.conflictPolicy,
      detection: def.conflictDetection,
      tieBreaker: def.mergeTieBreaker,
      fields: shared,
      base: s.base ? pick(s.base, shared) : null,
      postgres: s.postgres ? pick(s.postgres, shared) : null,
      sharepoint: s.sharepoint ? pick(s.sharepoint, shared) : null,
      postgresModifiedAt: s.postgresModifiedAt ?? null,
      sharepointModifiedAt: s.sharepointModifiedAt ?? null,
    });
    outcome = d.outcome;
    reason = d.reason;
    conflictFields = d.fields;
    if (d.outcome === 'PARKED') {
      return {
        outcome,
        conflict,
        conflictFields: [...conflictFields, ...keyEdits],
        keyEdits,
        sharepoint: none,
        postgres: none,
        synced: s.base,
        reason,
      };
    }
    agreedShared = d.values;
  } else if (s.postgres === null) {
    agreedShared = null;
    reason = 'deleted in Postgres';
  } else if (s.sharepoint === null) {
    agreedShared = null;
    reason = 'deleted in SharePoint';
  } else {
    // No conflict on shared fields: each shared field takes the side that changed it.
    agreedShared = {};
    for (const f of shared) {
      const pgMoved = differs(s.base, s.postgres, [f]).length > 0;
      agreedShared[f] = (pgMoved ? s.postgres[f] : s.sharepoint[f]) ?? null;
    }
    reason =
      pgChanged && spChanged
        ? 'both sides changed different fields: every edit kept'
        : pgChanged
          ? 'changed in Postgres'
          : spChanged
            ? 'changed in SharePoint'
            : 'unchanged';
  }
  if (keyEdits.length > 0 && !deletion) {
    const describeEdits = (fields: string[]) =>
      fields
        .map((f) => `${f} (SharePoint ${show(s.sharepoint?.[f])}, Postgres ${show(s.postgres?.[f])})`)
        .join(', ');
    const keys = keyEdits.filter((f) => plan.keyFields.includes(f));
    const computed = keyEdits.filter((f) => plan.computedFields.includes(f));
    const oneWay = keyEdits.filter((f) => !plan.keyFields.includes(f) && !computed.includes(f));
    const reasons: string[] = [];
    if (keys.length > 0)
      reasons.push(
        `key field${keys.length > 1 ? 's' : ''} ${describeEdits(keys)} edited in SharePoint: key fields are not ` +
          "editable from SharePoint, Postgres's value is kept and written back",
      );
    if (oneWay.length > 0)
      reasons.push(
        `field${oneWay.length > 1 ? 's' : ''} ${describeEdits(oneWay)} edited in SharePoint: ` +
          `${oneWay.length > 1 ? 'their push transforms' : 'its push transform'} cannot be undone, so the field is ` +
          "push-only; Postgres's value is kept and written back",
      );
    if (computed.length > 0)
      reasons.push(
        `field${computed.length > 1 ? 's' : ''} ${describeEdits(computed)} edited in SharePoint: Postgres cannot ` +
          `write ${computed.length > 1 ? 'their columns' : 'its column'} (computed in the view, or generated), so ` +
          "the field is push-only; Postgres's value is kept and written back",
      );
    const keyReason = reasons.join('; ');
    reason = conflict ? `${reason}; ${keyReason}` : keyReason;
    if (!conflict) outcome = 'TAKE_POSTGRES';
    conflictFields = [...conflictFields, ...keyEdits];
  }

  if (agreedShared === null) {
    // The agreed state is "deleted": delete whichever side still exists.
    return {
      outcome,
      conflict,
      conflictFields,
      keyEdits: [],
      sharepoint: s.sharepoint === null ? none : { kind: 'delete' },
      postgres: s.postgres === null ? none : { kind: 'delete' },
      synced: null,
      reason,
    };
  }

  const pushOnly = toSharePoint.filter((f) => !shared.includes(f));
  const pullOnly = toPostgres.filter((f) => !shared.includes(f));
  const spTarget: CanonicalRecord = { ...agreedShared, ...pick(s.postgres ?? s.base, pushOnly) };
  const pgTarget: CanonicalRecord = { ...agreedShared, ...pick(s.sharepoint ?? s.base, pullOnly) };
  const synced: CanonicalRecord = { ...(s.base ?? {}), ...spTarget, ...pgTarget };

  const sideAction = (
    current: CanonicalRecord | null,
    wanted: CanonicalRecord,
    fields: string[],
  ): SideAction => {
    if (current === null) return { kind: 'recreate', values: pick(wanted, fields) };
    const changed = differs(current, wanted, fields);
    return changed.length === 0 ? none : { kind: 'write', values: pick(wanted, changed) };
  };
  const keyConflict = keyEdits.length > 0 && !deletion;
  return {
    outcome,
    conflict: conflict || keyConflict,
    conflictFields,
    keyEdits: keyConflict ? keyEdits : [],
    sharepoint: sideAction(s.sharepoint, spTarget, toSharePoint),
    // A row re-created from its item takes a field one-way by its pipeline too, as a row inserted for a new item
    // does (PlannedField.pulledOnInsert): left empty, the next push would clear the item's value.
    postgres:
      s.postgres === null
        ? sideAction(null, { ...pgTarget, ...pick(synced, plan.oneWayFields) }, [
            ...toPostgres,
            ...plan.oneWayFields,
          ])
        : sideAction(s.postgres, pgTarget, toPostgres),
    synced,
    reason,
  };
}

function show(value: CanonicalRecord[string] | undefined): string {
  return value === undefined || value === null ? 'empty' : JSON.stringify(value);
}

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
  /** Both sides changed the same record since the last sync (I7). */
  conflict: boolean;
  sharepoint: SideAction;
  postgres: SideAction;
  /** The synced values after the actions; null: the pair is gone. */
  synced: CanonicalRecord | null;
  reason: string;
}

/**
 * The one decision both directions share. Given base, Postgres and SharePoint states, it says what to
 * write where. A side that did not change in the fields flowing out of it is not written from (I3); a
 * change on one side only flows to the other; a change on both (or a delete against an edit) is a conflict
 * settled by the definition's policy (I7). Push-only fields always follow Postgres and pull-only fields
 * always follow SharePoint, whatever the policy (I9).
 */
export function decidePair(plan: FieldPlan, def: SyncDefinition, s: PairState): PairDecision {
  const { shared, toSharePoint, toPostgres } = plan;
  const pgChanged =
    s.postgres === null ? s.base !== null : differs(s.base, s.postgres, toSharePoint).length > 0;
  const spChanged =
    s.sharepoint === null ? s.base !== null : differs(s.base, s.sharepoint, toPostgres).length > 0;
  const none: SideAction = { kind: 'none' };

  if (s.postgres === null && s.sharepoint === null) {
    return {
      outcome: 'NO_CONFLICT',
      conflict: false,
      sharepoint: none,
      postgres: none,
      synced: null,
      reason: 'both sides deleted',
    };
  }
  if (!pgChanged && !spChanged) {
    return {
      outcome: 'NO_CONFLICT',
      conflict: false,
      sharepoint: none,
      postgres: none,
      synced: s.base,
      reason: 'unchanged',
    };
  }

  const pgSharedChanged = s.postgres === null || differs(s.base, s.postgres, shared).length > 0;
  const spSharedChanged = s.sharepoint === null || differs(s.base, s.sharepoint, shared).length > 0;
  const deletion = s.postgres === null || s.sharepoint === null;
  const conflict = pgChanged && spChanged && (deletion || (pgSharedChanged && spSharedChanged));

  let agreedShared: CanonicalRecord | null;
  let outcome: ConflictOutcome = 'NO_CONFLICT';
  let reason: string;
  if (conflict) {
    const d = resolveConflict({
      policy: def.conflictPolicy,
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
    if (d.outcome === 'PARKED') {
      return { outcome, conflict, sharepoint: none, postgres: none, synced: s.base, reason };
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
        ? 'both sides changed different fields'
        : pgChanged
          ? 'changed in Postgres'
          : 'changed in SharePoint';
  }

  if (agreedShared === null) {
    // The agreed state is "deleted": delete whichever side still exists.
    return {
      outcome,
      conflict,
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
  return {
    outcome,
    conflict,
    sharepoint: sideAction(s.sharepoint, spTarget, toSharePoint),
    postgres: sideAction(s.postgres, pgTarget, toPostgres),
    synced,
    reason,
  };
}

import type { CanonicalRecord, CanonicalValue } from '../canonical';
import { canonicalEquals } from '../canonical/equality';
import type { SyncDefinition } from '../definition/schema';
import type { FieldPlan, PlannedField } from './plan';
import { decidePair, type PairDecision, type PairState, type SideAction } from './reconcile';

/**
 * Definitions evolve (I14). A field mapped after a pair last synced has no synced value in that pair's ledger
 * entry: the entry was built without it. Such a field is *unaligned* for the pair, and nothing on either side is
 * written because of it until both sides have been read once and aligned:
 * - equal values: nothing to write;
 * - one side empty: the other fills it, in the field's direction (an empty value never overwrites a full one);
 * - both full and different: both count as changed since an empty base, so the conflict policy decides that
 *   field, as on a first sync.
 * The pull aligns fields: a delta link that does not select a new field is not used, the list is read once
 * with the new selection (see `needsFullRead`), and every item read then is aligned. The push, which reads only
 * Postgres, leaves unaligned fields alone, except where it is the only writer of the field (see
 * `pushPlanFor`).
 * A backfill of the field (`arcore-sync backfill NAME --fields F`, src/core/engine/backfill) aligns it at once:
 * it reads both sides of each pair and decides through `decideAligned` too, so the rules above are one code path
 * whether a pull or a backfill meets the field.
 */

/** Targets of mapped fields that the pair's synced values do not carry. A pair never synced has none. */
export function unalignedFields(plan: FieldPlan, base: CanonicalRecord | null): string[] {
  if (base === null) return [];
  const out: string[] = [];
  for (const f of plan.fields) if (!Object.prototype.hasOwnProperty.call(base, f.target)) out.push(f.target);
  return out;
}

const restricted = new WeakMap<FieldPlan, Map<string, FieldPlan>>();

/** The plan without some fields (cached: the same few sets recur for every pair of a run). */
export function planWithout(plan: FieldPlan, excluded: string[]): FieldPlan {
  if (excluded.length === 0) return plan;
  let cache = restricted.get(plan);
  if (!cache) restricted.set(plan, (cache = new Map()));
  const cacheKey = [...excluded].sort().join('\u0000');
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  const out = new Set(excluded);
  const keep = (names: string[]) => names.filter((n) => !out.has(n));
  const fields = plan.fields.filter((f) => !out.has(f.target));
  const made: FieldPlan = {
    ...plan,
    fields,
    byTarget: new Map(fields.map((f) => [f.target, f])),
    columns: new Map([...plan.columns].filter(([t]) => !out.has(t))),
    shared: keep(plan.shared),
    toSharePoint: keep(plan.toSharePoint),
    toPostgres: keep(plan.toPostgres),
  };
  cache.set(cacheKey, made);
  return made;
}

const isEmpty = (v: CanonicalValue | undefined): boolean => v === null || v === undefined;

/** A pair's state with its unaligned fields aligned, ready for `decidePair`, and the fills that go with it. */
export interface AlignedPair {
  plan: FieldPlan;
  state: PairState;
  /** Fields to write into Postgres (SharePoint's value) and into SharePoint (Postgres's value). */
  fillPostgres: CanonicalRecord;
  fillSharePoint: CanonicalRecord;
}

/**
 * For a pair read on both sides (either may be gone), aligns its unaligned fields (rules above). A fill is
 * taken out of the decision (both sides are presented as already holding the value, so no conflict policy can
 * turn it into a clear) and added to the decision's actions afterwards by `decideAligned`. A field held back
 * (one side empty, and the field may not flow from the full side to it) stays out of the plan and unaligned,
 * so it is looked at again the next time the pair is read.
 */
export function alignPair(plan: FieldPlan, state: PairState): AlignedPair {
  const base = state.base;
  const unaligned = unalignedFields(plan, base);
  const none = { plan, state, fillPostgres: {}, fillSharePoint: {} };
  if (unaligned.length === 0 || base === null) return none;
  const alignedBase: CanonicalRecord = { ...base };
  const postgres = state.postgres === null ? null : { ...state.postgres };
  const sharepoint = state.sharepoint === null ? null : { ...state.sharepoint };
  const fillPostgres: CanonicalRecord = {};
  const fillSharePoint: CanonicalRecord = {};
  const held: string[] = [];
  for (const target of unaligned) {
    const field = plan.byTarget.get(target) as PlannedField;
    if (postgres === null || sharepoint === null) {
      // One side is gone: the pair is decided as a delete; the new field must not make it look edited.
      alignedBase[target] = (postgres ?? sharepoint)?.[target] ?? null;
      continue;
    }
    const pg = postgres[target] ?? null;
    const sp = sharepoint[target] ?? null;
    if (canonicalEquals(pg, sp)) {
      alignedBase[target] = pg;
    } else if (isEmpty(pg) || isEmpty(sp)) {
      const fromSharePoint = isEmpty(pg);
      if (fromSharePoint ? !field.pullable : !field.pushable) {
        held.push(target);
        continue;
      }
      const value = fromSharePoint ? sp : pg;
      alignedBase[target] = value;
      postgres[target] = value;
      sharepoint[target] = value;
      if (fromSharePoint) fillPostgres[target] = value;
      else fillSharePoint[target] = value;
    } else {
      alignedBase[target] = null; // both full and different: both changed since an empty base; the policy decides
    }
  }
  return {
    plan: planWithout(plan, held),
    state: { ...state, base: alignedBase, postgres, sharepoint },
    fillPostgres,
    fillSharePoint,
  };
}

function withFill(action: SideAction, fill: CanonicalRecord): SideAction {
  if (Object.keys(fill).length === 0) return action;
  if (action.kind === 'none') return { kind: 'write', values: { ...fill } };
  if (action.kind === 'write') return { kind: 'write', values: { ...action.values, ...fill } };
  return action; // recreated from the other side's values, or deleted: nothing to fill
}

/** `decidePair` for a pair read on both sides, aligning the fields mapped since it last synced (I14). */
export function decideAligned(plan: FieldPlan, def: SyncDefinition, state: PairState): PairDecision {
  const a = alignPair(plan, state);
  const decision = decidePair(a.plan, def, a.state);
  if (decision.outcome === 'PARKED' || decision.synced === null) return decision;
  return {
    ...decision,
    postgres: withFill(decision.postgres, a.fillPostgres),
    sharepoint: withFill(decision.sharepoint, a.fillSharePoint),
  };
}

/**
 * The plan a push decides a pair with when only Postgres was read. An unaligned field stays out of it (the pull
 * aligns it, reading both sides) unless the push is its only writer: the definition does not pull, or the field
 * is push-only and the list has been read with it once already (`listReadWithAllFields`). Even then, an empty
 * Postgres value is not written over whatever SharePoint holds.
 */
export function pushPlanFor(
  plan: FieldPlan,
  base: CanonicalRecord | null,
  postgres: CanonicalRecord,
  opts: { pullEnabled: boolean; listReadWithAllFields: boolean },
): FieldPlan {
  const unaligned = unalignedFields(plan, base);
  if (unaligned.length === 0) return plan;
  const excluded = unaligned.filter((target) => {
    const field = plan.byTarget.get(target) as PlannedField;
    if (!field.pushable || isEmpty(postgres[target])) return true;
    if (!opts.pullEnabled) return false;
    return !(!field.pullable && opts.listReadWithAllFields);
  });
  return planWithout(plan, excluded);
}

/**
 * The decision of a backfill for one pair, restricted to the chosen fields. It is the engine's own pair decision
 * (`decideAligned`: alignment of fields mapped since the pair last synced, I14, then `decidePair`, I3/I7/I9/I13)
 * with one rule of its own: the backfill's side is taken as the side that changed, unless the other side was
 * edited since the ledger's synced value — then both changed and the definition's policy decides (I7), so a
 * concurrent edit is never overwritten blindly. A newly mapped field is therefore aligned by the same code
 * whether a pull meets it or a backfill is asked for it.
 */
import { canonicalEquals, type CanonicalRecord, type CanonicalValue } from '../../canonical';
import type { SyncDefinition } from '../../definition/schema';
import type { BackfillDirection } from '../../store/backfills';
import { decideAligned, planWithout } from '../alignment';
import type { FieldPlan } from '../plan';
import type { PairDecision, PairState } from '../reconcile';

/**
 * Stands in the base for a field the other side edited since the last sync while the backfill's side kept
 * the synced value: unequal to every real value, so the decision sees both sides as changed (a conflict). It
 * never reaches the ledger: every planned field of a decision's synced values is taken from a side.
 */
const EDITED_ELSEWHERE: CanonicalValue = '\u0000arcore:edited-on-the-other-side-since-the-last-sync';

/**
 * Stands in, on the side a backfill writes and in the base, for a value the side holds as a pipeline since
 * changed made it (`rebuild`): unchanged since the last sync, yet not what the current pipeline gives, so the
 * decision writes the backfill's side over it. Like EDITED_ELSEWHERE, it never reaches the ledger or a write.
 */
const HELD_UNDER_OLD_PIPELINE: CanonicalValue = '\u0000arcore:held-as-a-changed-pipeline-made-it';

const has = (r: CanonicalRecord, f: string) => Object.prototype.hasOwnProperty.call(r, f);

/** The plan with only `fields` (SharePoint internal names) in it. */
export function planOnly(plan: FieldPlan, fields: string[]): FieldPlan {
  const keep = new Set(fields);
  return planWithout(
    plan,
    plan.fields.filter((f) => !keep.has(f.target)).map((f) => f.target),
  );
}

/**
 * Decides one pair for a backfill of `plan`'s fields (a plan restricted with `planOnly`). `state.base` is the
 * ledger's synced values; the side the backfill reads from (Postgres for push) and the other side are as read,
 * or, for a push that does not read SharePoint, the synced values (If-Match proves them on write). `rebuild`
 * names synced fields the other side holds unchanged but as a pipeline since changed made them (I14): they are
 * written from the backfill's side.
 */
export function decideBackfill(
  plan: FieldPlan,
  def: SyncDefinition,
  direction: BackfillDirection,
  state: PairState,
  rebuild: readonly string[] = [],
): PairDecision {
  const { base } = state;
  const from = direction === 'push' ? state.postgres : state.sharepoint;
  const to = direction === 'push' ? state.sharepoint : state.postgres;
  if (base === null || from === null || to === null) return decideAligned(plan, def, state);
  let biased: CanonicalRecord | null = null;
  for (const f of plan.fields) {
    const t = f.target;
    if (!has(base, t)) continue; // unaligned: alignment's rules apply
    const b = base[t] ?? null;
    const ours = from[t] ?? null;
    const theirs = to[t] ?? null;
    if (!canonicalEquals(ours, theirs) && canonicalEquals(ours, b) && !canonicalEquals(theirs, b)) {
      biased ??= { ...base };
      biased[t] = EDITED_ELSEWHERE;
    }
  }
  let decided: PairState = biased ? { ...state, base: biased } : state;
  const held = rebuild.filter((t) => has(base, t));
  if (held.length > 0) {
    const heldBase: CanonicalRecord = { ...decided.base };
    const heldTo: CanonicalRecord = { ...to };
    for (const t of held) {
      heldBase[t] = HELD_UNDER_OLD_PIPELINE;
      heldTo[t] = HELD_UNDER_OLD_PIPELINE;
    }
    decided =
      direction === 'push'
        ? { ...decided, base: heldBase, sharepoint: heldTo }
        : { ...decided, base: heldBase, postgres: heldTo };
  }
  return decideAligned(plan, def, decided);
}

/**
 * The ledger's synced values after a backfill's decision: the chosen fields take the decided values; every
 * other field keeps its synced value, so the next push and pull still see their changes.
 */
export function mergeSynced(
  base: CanonicalRecord | null,
  decided: CanonicalRecord,
  fields: string[],
): CanonicalRecord {
  const out: CanonicalRecord = { ...(base ?? {}) };
  for (const f of fields) {
    if (!has(decided, f) || decided[f] === EDITED_ELSEWHERE || decided[f] === HELD_UNDER_OLD_PIPELINE)
      continue;
    out[f] = decided[f];
  }
  return out;
}

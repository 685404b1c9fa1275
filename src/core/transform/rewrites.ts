/**
 * What a changed pipeline would rewrite, judged from the ledger alone (no read of either side): for every synced
 * pair, the input the pipeline reads is taken from the ledger — the recorded Postgres input of a transformed
 * field (migration 013), the synced value of a field that had no pipeline, or the old pipeline undone — and the
 * new pipeline's result is compared with the synced value.
 */
import { canonicalEquals, stableStringify, type CanonicalValue } from '../canonical';
import type { PipelineRewrites } from '../definition/changes';
import { invertPipeline, parsePipeline, runPipeline, type Pipeline, type TransformSpec } from './pipeline';
import type { PipelineValue } from './steps';

export interface LedgerPairValues {
  /** The field's synced value (SharePoint side). */
  synced: CanonicalValue | undefined;
  /** The recorded pair of the field, if any. */
  pair: { sp: CanonicalValue; pg: unknown } | null;
}

const asCanonical = (v: PipelineValue): CanonicalValue => (v === '' || v === undefined ? null : v);

const parsed = (spec: TransformSpec | undefined): Pipeline | null =>
  spec === undefined ? null : parsePipeline(spec);

/**
 * Counts pairs whose value changes under the new pipeline in `direction`: push compares the new push result
 * with the synced SharePoint value; pull compares the new pull result with what Postgres was last given.
 */
export function countRewrites(
  direction: 'transform' | 'pullTransform',
  before: { transform?: TransformSpec; pullTransform?: TransformSpec },
  after: { transform?: TransformSpec; pullTransform?: TransformSpec },
  entries: LedgerPairValues[],
  /** Called for an entry without a valid pair whose Postgres input could be told: apply records it. */
  onInput?: (index: number, pair: { sp: CanonicalValue; pg: unknown }) => void,
): PipelineRewrites {
  const out: PipelineRewrites = { evaluated: 0, wouldRewrite: 0, unknown: 0 };
  const oldPush = parsed(before.transform);
  const oldPull = parsed(before.pullTransform);
  const newPush = parsed(after.transform);
  const newPull = parsed(after.pullTransform);
  for (const [index, e] of entries.entries()) {
    if (e.synced === undefined) continue; // not aligned yet: nothing to rewrite
    out.evaluated++;
    const synced = e.synced;
    const validPair = e.pair && canonicalEquals(e.pair.sp, synced) ? e.pair : null;
    try {
      // What Postgres holds for this pair, as the old definition left it.
      let pgInput: unknown;
      if (validPair) pgInput = validPair.pg;
      else if (!oldPush && !oldPull) pgInput = synced;
      else if (oldPull) pgInput = runPipeline(oldPull, synced as PipelineValue);
      else pgInput = invertPipeline(oldPush as Pipeline, synced as PipelineValue);
      if (!validPair) onInput?.(index, { sp: synced, pg: pgInput ?? null });
      if (Array.isArray(pgInput) && newPush?.columns.length) {
        out.unknown++; // CONCAT's other columns are not in the ledger
        continue;
      }
      if (direction === 'transform') {
        const next = newPush
          ? runPipeline(newPush, pgInput as PipelineValue)
          : newPull
            ? invertPipeline(newPull, pgInput as PipelineValue)
            : (pgInput as PipelineValue);
        if (!canonicalEquals(asCanonical(next), synced)) out.wouldRewrite++;
      } else {
        const next = newPull
          ? runPipeline(newPull, synced as PipelineValue)
          : newPush
            ? invertPipeline(newPush, synced as PipelineValue)
            : (synced as PipelineValue);
        if (stableStringify(asCanonical(next)) !== stableStringify(pgInput ?? null)) out.wouldRewrite++;
      }
    } catch {
      out.unknown++;
    }
  }
  return out;
}

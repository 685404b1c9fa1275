import { IDLE_PULL_TRIGGERS, idlePullSummary, probePullIdle } from '../idlePull';
import { forList, forListId, skipUnusableList } from '../routing';
import { withRun, type RunOptions } from '../runner';
import type { EngineContext, RunSummary } from '../types';
import type { RunScope } from '../runner';
import { leastRecentlyPulledFirst } from './cursor';
import { pullList } from './feed';
import { confirmListStands } from '../listGone';
import { applyEntries } from './applyPage';
import { dueRetries, retiredListsParked } from './parked';
import { settleInsertIntents } from './intents';

/** Options of a pull run. */
export interface PullOptions extends RunOptions {
  /**
   * Read the delta feed's next page while the current one is applied to Postgres (default true). false keeps
   * the one-page-at-a-time loop, for comparison in benchmarks and tests.
   */
  pipeline?: boolean;
}

/**
 * Pull: SharePoint → Postgres for one definition, through the list's delta feed. Parked items are retried
 * first; the feed resumes from the page in progress, or the stored delta link, or enumerates the list; an
 * expired link (410) re-enumerates and reconciles. The new delta link is stored only once the feed is applied.
 */
export async function runPull(
  ctx: EngineContext,
  definitionName: string,
  opts: PullOptions,
): Promise<RunSummary> {
  // A scheduled pull of a quiet list costs one query and one delta request per list (I18). When the feed has
  // something, the run reads it again from the same stored link: one extra request, only when there is work.
  if (!opts.dryRun && !opts.full && IDLE_PULL_TRIGGERS.has(opts.trigger)) {
    const started = Date.now();
    const verdict = await probePullIdle(ctx, definitionName);
    if (verdict?.idle) return idlePullSummary(definitionName, started, verdict);
  }
  return withRun(ctx, definitionName, 'PULL', opts, async (scope) => {
    // New items a stopped pull inserted without recording them are paired before any page is read again (I6).
    const settled = await settleInsertIntents(scope);
    if (settled) {
      scope.counts.processed += settled;
      scope.counts.created += settled;
      scope.details.settledInserts = settled;
    }
    if (!scope.def.pull.enabled) {
      scope.details.pullDisabled = true;
      return;
    }
    // Routed: each list in turn, each with its own delta link, those pulled least recently first; a run out of time
    // leaves the rest to its continuation, which starts with them (I16).
    const lists = scope.route ? await leastRecentlyPulledFirst(scope) : scope.lists;
    for (const [index, list] of lists.entries()) {
      if (skipUnusableList(scope, list)) continue;
      await pullList(forList(scope, list), opts.pipeline ?? true);
      if (!scope.route) break;
      const left = lists.slice(index + 1);
      if (left.length > 0 && scope.timeLeft() <= 0) {
        scope.stopIncomplete(
          `time budget spent before pulling ${left.length === 1 ? 'list' : 'lists'} ` +
            left.map((l) => `"${l.name}"`).join(', '),
        );
        return;
      }
    }
    await retryRetiredLists(scope);
  });
}

/**
 * Routed: parked items of this definition's pairs in lists a routes change retired are retried by id, as the items of
 * a routed list are (their feed is no longer read; retiredListsParked). Left alone they waited for ever, the park's
 * next step ("change the item in SharePoint") leading nowhere. A retired list that is gone is left as it is: its items
 * went with it, and no pull decides deletes from that (the push settles the moves and deletes of its rows,
 * listGone.ts).
 */
async function retryRetiredLists(scope: RunScope): Promise<void> {
  for (const [listId, itemIds] of await retiredListsParked(scope)) {
    if (scope.timeLeft() <= 0) {
      scope.stopIncomplete('time budget spent before retrying the parked items of lists no longer routed to');
      return;
    }
    if ((await confirmListStands(scope, listId)) === 'retired-gone') continue;
    const retired = forListId(scope, listId);
    const retry = await dueRetries(retired, itemIds);
    if (retry.entries.length) await applyEntries(retired, retry.entries, null, null);
    if (!retry.complete) {
      scope.stopIncomplete('time budget spent retrying parked items');
      return;
    }
  }
}

import type { EngineContext } from '../engine/types';
import { getDefinitionById } from '../store/definitions';
import { GraphRequestError, type SharePointTarget } from '../target/sharepoint';
import { clientStateMatches } from './clientState';
import { isRouted } from '../routing/lists';
import {
  createUnlessServed,
  renewSubscription,
  routedListIds,
  type SubscriptionUrls,
} from './ensureSubscriptions';
import { NotificationBodyError, SubscriptionUpkeepError } from './errors';
import type { WantedPull } from './pendingPulls';
import {
  describeIssues,
  lifecycleNotificationSchema,
  notificationBodySchema,
  type LifecycleEvent,
} from './schemas';
import { claimRemoval, getStoredSubscription, hasLiveSubscription, markState } from './store';

export interface LifecycleAction {
  subscriptionId: string;
  event: LifecycleEvent;
  /** `superseded`: the removed subscription was no longer the definition's current one; nothing to recreate. */
  action: 'reauthorized' | 'renewed' | 'recreated' | 'superseded' | 'pull-requested' | 'failed';
  /** The new subscription when the old one was recreated. */
  newSubscriptionId?: string;
  error?: string;
}

export interface LifecycleResult {
  handled: LifecycleAction[];
  ignored: { index: number; reason: string; subscriptionId?: string }[];
  /**
   * Pulls wanted (a `missed` event, or a subscription that was gone for a while), not yet requested: the caller
   * requests them (`requestPulls`) and sends the messages of those it armed, or, when it can no longer send a
   * message, records them owed (`owePulls`). So no pending row ever stands for a message that was not sent.
   */
  pulls: WantedPull[];
}

export interface LifecycleOptions {
  /** Needed to recreate a removed subscription; without it the subscription timer recreates it later. */
  urls?: SubscriptionUrls;
  now?: Date;
}

/**
 * Handles one POST of lifecycle notifications (graph.md "Change notifications"): each entry is
 * authenticated by its subscription's clientState like a change notification, then
 * - `reauthorizationRequired`: reauthorize, falling back to a renewal when reauthorizing fails;
 * - `subscriptionRemoved`: recreate the subscription and queue a pull (changes may have gone unnoticed),
 *   once per removed subscription however often Graph repeats the notification;
 * - `missed`: queue a pull, since notifications were dropped.
 * Throws NotificationBodyError for a body that is not `{ value: [...] }`. Graph failures are reported
 * per entry, never thrown: the subscription timer repairs whatever is left.
 */
export async function handleLifecycle(
  ctx: EngineContext,
  body: unknown,
  options: LifecycleOptions = {},
): Promise<LifecycleResult> {
  const outer = notificationBodySchema.safeParse(body);
  if (!outer.success) throw new NotificationBodyError('lifecycle', describeIssues(outer.error));
  const now = options.now ?? new Date();
  const result: LifecycleResult = { handled: [], ignored: [], pulls: [] };
  let target: SharePointTarget | undefined;
  const graph = () => (target ??= ctx.target());

  try {
    for (const [index, raw] of outer.data.value.entries()) {
      await handleOne(ctx, index, raw, options, now, graph, result);
    }
  } finally {
    await target?.close();
  }
  return result;
}

async function handleOne(
  ctx: EngineContext,
  index: number,
  raw: unknown,
  options: LifecycleOptions,
  now: Date,
  graph: () => SharePointTarget,
  result: LifecycleResult,
): Promise<void> {
  const parsed = lifecycleNotificationSchema.safeParse(raw);
  if (!parsed.success) {
    result.ignored.push({
      index,
      reason: `malformed lifecycle notification: ${describeIssues(parsed.error).join('; ')}`,
    });
    return;
  }
  const { subscriptionId, lifecycleEvent: event, clientState } = parsed.data;
  const stored = await getStoredSubscription(ctx.meta, subscriptionId);
  if (!stored) {
    result.ignored.push({ index, subscriptionId, reason: 'unknown subscription' });
    return;
  }
  if (!clientStateMatches(clientState, stored.clientStateHash)) {
    result.ignored.push({ index, subscriptionId, reason: 'clientState does not match the subscription' });
    return;
  }
  const def = await getDefinitionById(ctx.meta, stored.definitionId);
  if (!def) {
    result.ignored.push({ index, subscriptionId, reason: 'the definition no longer exists' });
    return;
  }
  const name = def.definition.name;
  const queuePull = (reason: string) => {
    result.pulls.push({ definitionId: def.id, definition: name, reason });
  };
  const fail = (action: SubscriptionUpkeepError['action'], cause: unknown) => {
    const error = new SubscriptionUpkeepError(name, action, subscriptionId, { cause });
    ctx.log.warn(error.message, { definition: name, subscriptionId, event });
    result.handled.push({ subscriptionId, event, action: 'failed', error: error.message });
  };
  const recreate = async () => {
    // At-least-once delivery: only the copy that flips the row to REMOVED recreates, and only when no
    // other live subscription (from upkeep or an earlier removal) already serves the definition.
    if (!(await claimRemoval(ctx.meta, subscriptionId))) {
      result.ignored.push({
        index,
        subscriptionId,
        reason: 'removal already handled (a repeated notification)',
      });
      // Graph repeats a notification we answered with an error, perhaps after the recreation but before its pull
      // was requested: ask again (it folds into a pull still pending).
      queuePull(`subscription ${subscriptionId} was removed`);
      return;
    }
    // A routed definition has one subscription per routed list: only one to this list serves it.
    const routed = isRouted(def.definition);
    if (await hasLiveSubscription(ctx.meta, def.id, subscriptionId, routed ? stored.listId : undefined)) {
      result.handled.push({ subscriptionId, event, action: 'superseded' });
      return;
    }
    if (!options.urls) {
      // The stored URL has its function key replaced by a fingerprint: upkeep recreates it instead.
      result.handled.push({
        subscriptionId,
        event,
        action: 'failed',
        error: 'no notification URL to recreate with',
      });
      queuePull(`subscription ${subscriptionId} was removed`);
      return;
    }
    try {
      let listName: string | undefined;
      if (routed) {
        listName = (await routedListIds(ctx.meta, graph(), def)).find(
          (l) => l.listId === stored.listId,
        )?.name;
        if (listName === undefined) {
          // Its list is no longer routed: nothing to recreate (upkeep keeps one per routed list).
          result.handled.push({ subscriptionId, event, action: 'superseded' });
          return;
        }
      }
      // Under the creation lock upkeep takes too: upkeep may be recreating it from what it read before this.
      const outcome = await createUnlessServed(
        ctx.meta,
        graph(),
        def,
        options.urls,
        now,
        listName === undefined ? undefined : { name: listName, listId: stored.listId },
        subscriptionId,
      );
      if ('servedBy' in outcome) {
        result.handled.push({ subscriptionId, event, action: 'superseded' });
        return;
      }
      const { created } = outcome;
      result.handled.push({
        subscriptionId,
        event,
        action: 'recreated',
        newSubscriptionId: created.subscriptionId,
      });
    } catch (cause) {
      fail('create', cause);
    }
    queuePull(`subscription ${subscriptionId} was removed`);
  };

  if (event === 'missed') {
    queuePull('Graph reported missed notifications');
    result.handled.push({ subscriptionId, event, action: 'pull-requested' });
    return;
  }
  if (event === 'subscriptionRemoved') {
    await recreate();
    return;
  }
  if (stored.state === 'REMOVED') {
    // A repeated or late delivery for a subscription already replaced: never bring its row back to life.
    result.ignored.push({ index, subscriptionId, reason: 'subscription was removed' });
    queuePull(`subscription ${subscriptionId} was removed`);
    return;
  }
  await markState(ctx.meta, subscriptionId, 'REAUTHORIZATION_REQUIRED');
  try {
    await graph().reauthorizeSubscription(subscriptionId);
    await markState(ctx.meta, subscriptionId, 'ACTIVE');
    result.handled.push({ subscriptionId, event, action: 'reauthorized' });
    return;
  } catch (err) {
    ctx.log.warn(`reauthorizing subscription ${subscriptionId} failed; renewing instead`, {
      definition: name,
      error: err instanceof Error ? err.message : String(err),
    });
  }
  try {
    await renewSubscription(ctx.meta, graph(), subscriptionId, now);
    result.handled.push({ subscriptionId, event, action: 'renewed' });
  } catch (err) {
    if (err instanceof GraphRequestError && err.status === 404) await recreate();
    else fail('renew', err);
  }
}

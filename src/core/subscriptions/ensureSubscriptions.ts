import type { Pool } from 'pg';
import type { EngineContext } from '../engine/types';
import { listDefinitions, type StoredDefinition } from '../store/definitions';
import type { SharePointTarget, Subscription } from '../target/sharepoint';
import { GraphRequestError } from '../target/sharepoint';
import { generateClientState, hashClientState } from './clientState';
import { SubscriptionUpkeepError } from './errors';
import type { WantedPull } from './pendingPulls';
import { storedNotificationUrl } from './notificationUrl';
import {
  insertSubscription,
  listStoredSubscriptions,
  liveSubscriptionId,
  markRenewed,
  markState,
  type StoredSubscription,
} from './store';
import { isRouted, singleListOf, targetLists } from '../routing/lists';

/**
 * A routed definition's lists with their ids: the ids its runs bound (arcore.sync_definition_lists, no Graph
 * request), resolved only for a list no run has bound yet.
 */
export async function routedListIds(
  meta: Pool,
  target: SharePointTarget,
  def: StoredDefinition,
): Promise<{ name: string; listId: string }[]> {
  const { rows } = await meta.query<{ list_name: string; list_id: string }>(
    'SELECT list_name, list_id FROM arcore.sync_definition_lists WHERE definition_id = $1',
    [def.id],
  );
  const bound = new Map(rows.map((r) => [r.list_name, r.list_id]));
  const out: { name: string; listId: string }[] = [];
  let siteId: string | null = null;
  for (const name of targetLists(def.definition)) {
    let listId = bound.get(name);
    if (listId === undefined) {
      siteId ??= (await target.resolveSite(def.definition.target.site)).id;
      listId = (await target.resolveList(siteId, name)).id;
    }
    out.push({ name, listId });
  }
  return out;
}

/** Graph's maximum for list subscriptions is 42,300 minutes; asking a little less leaves clock slack. */
export const SUBSCRIPTION_LIFETIME_MINUTES = 42_000;
/** Renew once less than a third of the lifetime remains: many upkeep ticks get a chance before expiry. */
export const RENEW_WHEN_REMAINING_MINUTES = SUBSCRIPTION_LIFETIME_MINUTES / 3;
/** Rows of removed subscriptions are kept this long as history, then pruned. */
const REMOVED_HISTORY_DAYS = 30;
/** Serialises upkeep across instances and the CLI: two upkeeps at once would create two subscriptions. */
const UPKEEP_LOCK_KEY = 0x4152_5355; // 'ARSU'

export interface EnsureSubscriptionsOptions {
  /** Public URL of the webhook endpoint (with its function key). */
  notificationUrl: string;
  lifecycleNotificationUrl?: string;
  now?: Date;
}

export type SubscriptionActionKind = 'created' | 'renewed' | 'recreated' | 'deleted' | 'kept';

export interface SubscriptionAction {
  /** Null for a subscription Graph holds for our endpoint that belongs to no definition (an orphan). */
  definition: string | null;
  action: SubscriptionActionKind;
  subscriptionId: string;
  expiration?: string;
  reason?: string;
}

export interface EnsureSubscriptionsResult {
  /** False when another upkeep held the lock: nothing was done. */
  ran: boolean;
  actions: SubscriptionAction[];
  errors: SubscriptionUpkeepError[];
  /**
   * Catch-up pulls wanted, not yet requested: a subscription was created where none was live (a new one, or
   * one replacing a subscription that expired or that Graph no longer knows), so changes made meanwhile were
   * never notified. The caller requests them (`requestPulls`) and sends the messages of those it armed.
   */
  pulls: WantedPull[];
}

function isGone(err: unknown): boolean {
  return err instanceof GraphRequestError && err.status === 404;
}

function wantsSubscription(def: StoredDefinition): boolean {
  return def.definition.enabled && def.definition.pull.enabled;
}

export interface SubscriptionUrls {
  notificationUrl: string;
  lifecycleNotificationUrl?: string;
}

/**
 * Creates a subscription for one definition's list: a new random clientState (sent once, stored only
 * as its hash), resource `sites/{site-id}/lists/{list-id}`. Graph (or the emulator) validates the
 * notification URL before answering, so our endpoint must already be serving.
 */
export async function createSubscriptionFor(
  meta: Pool,
  target: SharePointTarget,
  def: StoredDefinition,
  urls: SubscriptionUrls,
  now: Date,
  /** A routed list's name; a single-list definition's list otherwise. */
  listName?: string,
): Promise<StoredSubscription> {
  const site = await target.resolveSite(def.definition.target.site);
  const list = await target.resolveList(
    site.id,
    listName ?? singleListOf(def.definition, 'a change-notification subscription'),
  );
  const resource = `sites/${site.id}/lists/${list.id}`;
  const clientState = generateClientState();
  const requestedExpiry = new Date(now.getTime() + SUBSCRIPTION_LIFETIME_MINUTES * 60_000);
  const created = await target.createSubscription({
    resource,
    notificationUrl: urls.notificationUrl,
    lifecycleNotificationUrl: urls.lifecycleNotificationUrl,
    clientState,
    expirationDateTime: requestedExpiry.toISOString(),
  });
  const row = {
    subscriptionId: created.id,
    definitionId: def.id,
    siteId: site.id,
    listId: list.id,
    resource,
    notificationUrl: storedNotificationUrl(urls.notificationUrl),
    expiration: new Date(created.expirationDateTime),
    clientStateHash: hashClientState(clientState),
  };
  await insertSubscription(meta, row);
  return { ...row, state: 'ACTIVE', createdAt: now, renewedAt: null };
}

/** Key class of the per-list creation locks (the object key is a hash of the definition and list ids). */
const CREATION_LOCK_CLASS = 0x4152_5343; // 'ARSC'

/**
 * Runs `work` under a lock per definition (and routed list) that every path creating a subscription takes: upkeep
 * and lifecycle handling each decide "none is live" from what they read before, so without it both could create
 * one at once. Blocking, on a connection of its own (a dead connection releases it).
 */
export async function withCreationLock<T>(
  meta: Pool,
  definitionId: string,
  listId: string | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const client = await meta.connect();
  const key = `${definitionId}:${listId ?? ''}`;
  try {
    await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [CREATION_LOCK_CLASS, key]);
    try {
      return await work();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [CREATION_LOCK_CLASS, key]);
    }
  } finally {
    client.release();
  }
}

/**
 * Creates a subscription for the definition (a routed definition: for its list `list`) unless, under the
 * creation lock, one other than `replacing` is live already: then `servedBy` names it (whoever created it also
 * asked for the catch-up pull).
 */
export async function createUnlessServed(
  meta: Pool,
  target: SharePointTarget,
  def: StoredDefinition,
  urls: SubscriptionUrls,
  now: Date,
  list?: { name: string; listId: string },
  replacing?: string,
): Promise<{ created: StoredSubscription } | { servedBy: string }> {
  return withCreationLock(meta, def.id, list?.listId, async () => {
    const servedBy = await liveSubscriptionId(meta, def.id, replacing, list?.listId);
    if (servedBy !== null) return { servedBy };
    return { created: await createSubscriptionFor(meta, target, def, urls, now, list?.name) };
  });
}

/** Renews for another full lifetime; returns the new expiry. Throws GraphRequestError 404 when gone. */
export async function renewSubscription(
  meta: Pool,
  target: SharePointTarget,
  subscriptionId: string,
  now: Date,
): Promise<Date> {
  const requested = new Date(now.getTime() + SUBSCRIPTION_LIFETIME_MINUTES * 60_000);
  const renewed = await target.renewSubscription(subscriptionId, requested.toISOString());
  const expiration = new Date(renewed.expirationDateTime);
  await markRenewed(meta, subscriptionId, expiration);
  return expiration;
}

/** Deletes at Graph (already gone counts as deleted) and marks the row REMOVED. */
export async function removeSubscription(
  meta: Pool,
  target: SharePointTarget,
  subscriptionId: string,
): Promise<void> {
  await target.deleteSubscription(subscriptionId);
  await markState(meta, subscriptionId, 'REMOVED');
}

async function withUpkeepLock<T>(meta: Pool, work: () => Promise<T>): Promise<T | null> {
  const client = await meta.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
      UPKEEP_LOCK_KEY,
    ]);
    if (!rows[0].locked) return null;
    try {
      return await work();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [UPKEEP_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

/**
 * Keeps exactly one live subscription per pull-enabled definition, and none for anything else:
 * - creates one where a definition has none (or only expired ones);
 * - renews one with less than a third of its lifetime left, recreating it when Graph says it is gone;
 * - recreates one whose endpoint URL or list changed;
 * - deletes duplicates, subscriptions of disabled or pull-disabled definitions, and subscriptions Graph
 *   holds for our endpoint that no definition owns (left by a removed definition or a crash);
 * and records every change in `graph_subscriptions`. One definition's failure never stops the others.
 */
export async function ensureSubscriptions(
  ctx: EngineContext,
  options: EnsureSubscriptionsOptions,
): Promise<EnsureSubscriptionsResult> {
  const target = ctx.target();
  try {
    const result = await withUpkeepLock(ctx.meta, () => upkeep(ctx, target, options));
    return result ?? { ran: false, actions: [], errors: [], pulls: [] };
  } finally {
    await target.close();
  }
}

async function upkeep(
  ctx: EngineContext,
  target: SharePointTarget,
  options: EnsureSubscriptionsOptions,
): Promise<EnsureSubscriptionsResult> {
  const now = options.now ?? new Date();
  const urls: SubscriptionUrls = {
    notificationUrl: options.notificationUrl,
    lifecycleNotificationUrl: options.lifecycleNotificationUrl,
  };
  const wantedUrl = storedNotificationUrl(options.notificationUrl);
  const actions: SubscriptionAction[] = [];
  const errors: SubscriptionUpkeepError[] = [];
  const pulls: WantedPull[] = [];

  const attempt = async (
    definition: string,
    action: SubscriptionUpkeepError['action'],
    subscriptionId: string | null,
    work: () => Promise<void>,
  ): Promise<void> => {
    try {
      await work();
    } catch (cause) {
      const error = new SubscriptionUpkeepError(definition, action, subscriptionId, { cause });
      errors.push(error);
      ctx.log.warn(error.message, { definition, subscriptionId, action });
    }
  };

  /** Deletes one subscription, recording why (a failure is recorded by `attempt` and does not stop upkeep). */
  const removeRecorded = (definition: string, subscriptionId: string, reason: string): Promise<void> =>
    attempt(definition, 'delete', subscriptionId, async () => {
      await removeSubscription(ctx.meta, target, subscriptionId);
      actions.push({ definition, action: 'deleted', subscriptionId, reason });
    });

  /** Keeps one live subscription among `mine` (a definition's, or a routed list's): create, renew, replace. */
  const maintain = async (
    def: StoredDefinition,
    mine: StoredSubscription[],
    /** A routed definition's list. */
    list?: { name: string; listId: string },
  ): Promise<void> => {
    const name = def.definition.name;
    const [keep, ...extras] = mine.filter((s) => s.expiration.getTime() > now.getTime());
    for (const sub of [...extras, ...mine.filter((s) => s.expiration.getTime() <= now.getTime())]) {
      const expired = sub.expiration.getTime() <= now.getTime();
      await removeRecorded(name, sub.subscriptionId, expired ? 'expired' : 'duplicate');
    }

    /**
     * `uncovered`: no live subscription served the list before this one, so a catch-up pull is wanted. Nothing is
     * created when a subscription other than `replacing` went live since the snapshot (a lifecycle notification
     * recreated it meanwhile): that one is kept.
     */
    const create = async (
      action: 'created' | 'recreated',
      uncovered: boolean,
      reason?: string,
      replacing?: string,
    ) =>
      attempt(name, 'create', null, async () => {
        const outcome = await createUnlessServed(ctx.meta, target, def, urls, now, list, replacing);
        if ('servedBy' in outcome) {
          actions.push({
            definition: name,
            action: 'kept',
            subscriptionId: outcome.servedBy,
            reason: 'created meanwhile (a lifecycle notification)',
          });
          return;
        }
        const { created } = outcome;
        actions.push({
          definition: name,
          action,
          subscriptionId: created.subscriptionId,
          expiration: created.expiration.toISOString(),
          reason,
        });
        if (uncovered)
          pulls.push({
            definitionId: def.id,
            definition: name,
            reason: `subscription ${action}${reason ? ` (${reason})` : ''}: changes made without one were not notified`,
          });
      });
    const replace = async (old: StoredSubscription, reason: string) => {
      // The old subscription serves until the new one exists: nothing went unnoticed.
      await create('recreated', false, reason, old.subscriptionId);
      await attempt(name, 'delete', old.subscriptionId, () =>
        removeSubscription(ctx.meta, target, old.subscriptionId),
      );
    };

    if (!keep) {
      await create('created', true);
      return;
    }
    if (keep.notificationUrl !== wantedUrl) {
      await replace(keep, 'notification URL changed');
      return;
    }
    // A routed list's subscriptions are matched to it by list id already. A single list is checked again when the
    // definition changed, or when it is bound to another list than the subscription's: `relink` binds the list
    // that replaced a deleted one without changing the definition (I15), and the old list's subscription went
    // with it. Subscribed to the list the name resolves to, so a list not yet relinked is not replaced again.
    const relinked = def.listId !== null && def.listId !== keep.listId;
    if (list === undefined && (relinked || def.updatedAt.getTime() > keep.createdAt.getTime())) {
      let listMoved = false;
      await attempt(name, 'resolve', keep.subscriptionId, async () => {
        const site = await target.resolveSite(def.definition.target.site);
        const list = await target.resolveList(
          site.id,
          singleListOf(def.definition, 'a change-notification subscription'),
        );
        listMoved = site.id !== keep.siteId || list.id !== keep.listId;
      });
      if (listMoved) {
        await replace(keep, 'target list changed');
        return;
      }
    }
    const remainingMinutes = (keep.expiration.getTime() - now.getTime()) / 60_000;
    // Left REAUTHORIZATION_REQUIRED by a lifecycle notification whose reauthorization and renewal both failed:
    // renew now, whatever the expiry (a renewal reauthorizes, graph.md), until it succeeds.
    const reauthorize = keep.state === 'REAUTHORIZATION_REQUIRED';
    if (!reauthorize && remainingMinutes >= RENEW_WHEN_REMAINING_MINUTES) {
      actions.push({
        definition: name,
        action: 'kept',
        subscriptionId: keep.subscriptionId,
        expiration: keep.expiration.toISOString(),
      });
      return;
    }
    try {
      const expiration = await renewSubscription(ctx.meta, target, keep.subscriptionId, now);
      actions.push({
        definition: name,
        action: 'renewed',
        subscriptionId: keep.subscriptionId,
        expiration: expiration.toISOString(),
        reason: reauthorize ? 'reauthorization was required' : undefined,
      });
    } catch (err) {
      if (isGone(err)) {
        await markState(ctx.meta, keep.subscriptionId, 'REMOVED');
        await create('recreated', true, 'Graph no longer knows the subscription', keep.subscriptionId);
      } else {
        const error = new SubscriptionUpkeepError(name, 'renew', keep.subscriptionId, { cause: err });
        errors.push(error);
        ctx.log.warn(error.message, { definition: name, subscriptionId: keep.subscriptionId });
      }
    }
  };

  // Graph's own list of the app's subscriptions, read first: a live row Graph no longer holds (deleted by an
  // admin, or by another upkeep's orphan sweep while its row was being stored) is forgotten here, so the
  // definition gets a new subscription and a catch-up pull now, not when its renewal meets a 404 weeks later.
  const listedAt = Date.now();
  let remote: Subscription[] | null = null;
  try {
    remote = await target.listSubscriptions();
  } catch (cause) {
    errors.push(new SubscriptionUpkeepError('(all)', 'resolve', null, { cause }));
  }
  if (remote) await forgetGoneAtGraph(ctx, remote, listedAt, actions);

  const definitions = await listDefinitions(ctx.meta);
  const stored = await listStoredSubscriptions(ctx.meta);
  const live = stored.filter((s) => s.state !== 'REMOVED');

  for (const def of definitions) {
    const name = def.definition.name;
    const mine = live
      .filter((s) => s.definitionId === def.id)
      .sort((a, b) => b.expiration.getTime() - a.expiration.getTime());

    if (!wantsSubscription(def)) {
      for (const sub of mine) {
        await removeRecorded(
          name,
          sub.subscriptionId,
          def.definition.enabled ? 'pull is disabled' : 'definition is disabled',
        );
      }
      continue;
    }

    if (!isRouted(def.definition)) {
      await maintain(def, mine);
      continue;
    }
    // Routed: one subscription per routed list; those of a list no route names any more go.
    let lists: { name: string; listId: string }[] = [];
    await attempt(name, 'resolve', null, async () => {
      lists = await routedListIds(ctx.meta, target, def);
    });
    if (lists.length === 0) continue;
    for (const list of lists)
      await maintain(
        def,
        mine.filter((s) => s.listId === list.listId),
        list,
      );
    for (const sub of mine.filter((s) => !lists.some((l) => l.listId === s.listId))) {
      await removeRecorded(name, sub.subscriptionId, 'its list is no longer routed');
    }
  }

  if (remote) await deleteOrphans(ctx, target, wantedUrl, remote, now, actions, errors);
  await ctx.meta.query(
    `DELETE FROM arcore.graph_subscriptions
     WHERE state = 'REMOVED' AND created_at < now() - make_interval(days => $1)`,
    [REMOVED_HISTORY_DAYS],
  );
  return { ran: true, actions, errors, pulls };
}

/**
 * A row is stored only after Graph created its subscription: one created in the last minutes may not be stored
 * yet (a lifecycle notification recreating it while upkeep runs), so the orphan sweep leaves it to a later upkeep.
 */
const ORPHAN_GRACE_MINUTES = 15;
/** Rows stored this long before Graph's list was read must be in it (clocks of hosts and database may differ). */
const LISTED_MARGIN_MS = 5 * 60_000;

/**
 * Live rows Graph does not list, stored well before the list was read: Graph no longer holds them. Marked REMOVED,
 * so the definition's upkeep below creates a new subscription and asks for a catch-up pull (changes made since
 * were not notified).
 */
async function forgetGoneAtGraph(
  ctx: EngineContext,
  remote: Subscription[],
  listedAt: number,
  actions: SubscriptionAction[],
): Promise<void> {
  const held = new Set(remote.map((s) => s.id));
  const definitions = new Map((await listDefinitions(ctx.meta)).map((d) => [d.id, d.definition.name]));
  for (const row of await listStoredSubscriptions(ctx.meta)) {
    if (row.state === 'REMOVED' || held.has(row.subscriptionId)) continue;
    if (row.createdAt.getTime() > listedAt - LISTED_MARGIN_MS) continue;
    await markState(ctx.meta, row.subscriptionId, 'REMOVED');
    const definition = definitions.get(row.definitionId) ?? null;
    ctx.log.warn(
      `subscription ${row.subscriptionId}${definition ? ` of ${definition}` : ''} is stored as live but Graph no ` +
        'longer holds it: forgotten; a new one is created and the list pulled',
    );
    actions.push({
      definition,
      action: 'deleted',
      subscriptionId: row.subscriptionId,
      reason: 'Graph no longer holds it',
    });
  }
}

/**
 * Subscriptions Graph holds for our endpoint that no live row of ours knows about, created more than
 * ORPHAN_GRACE_MINUTES ago (judged by their expiry: each is created for SUBSCRIPTION_LIFETIME_MINUTES).
 */
async function deleteOrphans(
  ctx: EngineContext,
  target: SharePointTarget,
  wantedUrl: string,
  remote: Subscription[],
  now: Date,
  actions: SubscriptionAction[],
  errors: SubscriptionUpkeepError[],
): Promise<void> {
  const known = new Set(
    (await listStoredSubscriptions(ctx.meta))
      .filter((s) => s.state !== 'REMOVED')
      .map((s) => s.subscriptionId),
  );
  const recentAfter = now.getTime() + (SUBSCRIPTION_LIFETIME_MINUTES - ORPHAN_GRACE_MINUTES) * 60_000;
  for (const sub of remote) {
    if (known.has(sub.id) || storedNotificationUrl(sub.notificationUrl) !== wantedUrl) continue;
    if (Date.parse(sub.expirationDateTime) > recentAfter) continue; // maybe being stored right now
    try {
      await target.deleteSubscription(sub.id);
      await markState(ctx.meta, sub.id, 'REMOVED');
      actions.push({ definition: null, action: 'deleted', subscriptionId: sub.id, reason: 'orphan' });
    } catch (cause) {
      errors.push(new SubscriptionUpkeepError('(orphan)', 'delete', sub.id, { cause }));
    }
  }
}

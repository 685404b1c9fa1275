import type { Pool } from 'pg';
import { clientStateMatches } from './clientState';
import { NotificationBodyError } from './errors';
import { requestPulls, type PullRequest } from './pendingPulls';
import { changeNotificationSchema, describeIssues, notificationBodySchema } from './schemas';

export interface IgnoredNotification {
  reason: string;
  /** Position in the body's `value` array. */
  index: number;
  subscriptionId?: string;
  /** The definition of the subscription, when the subscription is known. */
  definition?: string;
}

/** An authentic notification that asked for a pull of its definition (pending already or enqueued now). */
export interface RequestedNotification {
  index: number;
  subscriptionId: string;
  definition: string;
}

export type { PullRequest };

export interface AcceptResult {
  /** Entries whose subscription is known and whose clientState is that subscription's secret. */
  accepted: number;
  ignored: IgnoredNotification[];
  requested: RequestedNotification[];
  /** Pulls the caller must enqueue: only definitions that had no pull pending (a burst → one message). */
  enqueue: PullRequest[];
}

interface KnownSubscription {
  subscription_id: string;
  definition_id: string;
  client_state_hash: string;
  state: string;
  name: string;
  enabled: boolean;
  pull_enabled: boolean;
}

/**
 * Handles one POST of change notifications without calling Graph (the endpoint must answer within 3 s):
 * validates the body, authenticates each entry by its subscription's clientState hash (constant-time),
 * and turns the authentic ones into at most one pending pull per definition.
 *
 * Throws NotificationBodyError when the body is not `{ value: [...] }` (the caller answers 400); any
 * other error is a failure to persist (the caller answers 5xx so that Graph retries).
 */
export async function acceptNotifications(meta: Pool, body: unknown): Promise<AcceptResult> {
  const outer = notificationBodySchema.safeParse(body);
  if (!outer.success) throw new NotificationBodyError('notification', describeIssues(outer.error));

  const ignored: IgnoredNotification[] = [];
  const entries = outer.data.value.flatMap((raw, index) => {
    const parsed = changeNotificationSchema.safeParse(raw);
    if (parsed.success) return [{ index, notification: parsed.data }];
    ignored.push({ index, reason: `malformed notification: ${describeIssues(parsed.error).join('; ')}` });
    return [];
  });
  if (entries.length === 0) return { accepted: 0, ignored, requested: [], enqueue: [] };

  const ids = [...new Set(entries.map((e) => e.notification.subscriptionId))];
  const { rows } = await meta.query<KnownSubscription>(
    `SELECT s.subscription_id, s.definition_id::text AS definition_id, s.client_state_hash, s.state, d.name,
            d.enabled, COALESCE((d.document -> 'pull' ->> 'enabled')::boolean, true) AS pull_enabled
     FROM arcore.graph_subscriptions s JOIN arcore.sync_definitions d ON d.id = s.definition_id
     WHERE s.subscription_id = ANY($1::text[])`,
    [ids],
  );
  const known = new Map(rows.map((r) => [r.subscription_id, r]));

  let accepted = 0;
  const requested: RequestedNotification[] = [];
  const wanted = new Map<string, PullRequest>();
  for (const { index, notification } of entries) {
    const { subscriptionId } = notification;
    const subscription = known.get(subscriptionId);
    if (!subscription) {
      ignored.push({ index, subscriptionId, reason: 'unknown subscription' });
      continue;
    }
    const definition = subscription.name;
    if (!clientStateMatches(notification.clientState, subscription.client_state_hash)) {
      ignored.push({
        index,
        subscriptionId,
        definition,
        reason: 'clientState does not match the subscription',
      });
      continue;
    }
    accepted += 1;
    if (subscription.state === 'REMOVED') {
      ignored.push({ index, subscriptionId, definition, reason: 'subscription was removed' });
      continue;
    }
    if (!subscription.enabled || !subscription.pull_enabled) {
      ignored.push({ index, subscriptionId, definition, reason: `pull of "${definition}" is disabled` });
      continue;
    }
    requested.push({ index, subscriptionId, definition });
    wanted.set(subscription.definition_id, {
      definitionId: subscription.definition_id,
      definition: subscription.name,
    });
  }

  // All definitions of the body in one statement: a failure arms none, so Graph's retry of the body (we answer
  // 5xx) enqueues every pull it names.
  const enqueue = await requestPulls(
    meta,
    [...wanted.values()].map((r) => ({ ...r, reason: 'change notification' })),
  );
  return { accepted, ignored, requested, enqueue };
}

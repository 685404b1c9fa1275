import type { Pool } from 'pg';

/** One row of `arcore.graph_subscriptions`. */
export interface StoredSubscription {
  subscriptionId: string;
  definitionId: string;
  siteId: string;
  listId: string;
  resource: string;
  notificationUrl: string;
  expiration: Date;
  clientStateHash: string;
  state: 'ACTIVE' | 'REAUTHORIZATION_REQUIRED' | 'REMOVED';
  createdAt: Date;
  renewedAt: Date | null;
}

interface SubscriptionRow {
  subscription_id: string;
  definition_id: string;
  site_id: string;
  list_id: string;
  resource: string;
  notification_url: string;
  expiration: Date;
  client_state_hash: string;
  state: StoredSubscription['state'];
  created_at: Date;
  renewed_at: Date | null;
}

const COLUMNS = `subscription_id, definition_id, site_id, list_id, resource, notification_url, expiration,
  client_state_hash, state, created_at, renewed_at`;

function fromRow(row: SubscriptionRow): StoredSubscription {
  return {
    subscriptionId: row.subscription_id,
    definitionId: String(row.definition_id),
    siteId: row.site_id,
    listId: row.list_id,
    resource: row.resource,
    notificationUrl: row.notification_url,
    expiration: row.expiration,
    clientStateHash: row.client_state_hash,
    state: row.state,
    createdAt: row.created_at,
    renewedAt: row.renewed_at,
  };
}

export async function listStoredSubscriptions(meta: Pool): Promise<StoredSubscription[]> {
  const { rows } = await meta.query<SubscriptionRow>(
    `SELECT ${COLUMNS} FROM arcore.graph_subscriptions ORDER BY definition_id, created_at`,
  );
  return rows.map(fromRow);
}

export async function getStoredSubscription(
  meta: Pool,
  subscriptionId: string,
): Promise<StoredSubscription | null> {
  const { rows } = await meta.query<SubscriptionRow>(
    `SELECT ${COLUMNS} FROM arcore.graph_subscriptions WHERE subscription_id = $1`,
    [subscriptionId],
  );
  return rows.length === 0 ? null : fromRow(rows[0]);
}

export interface NewSubscriptionRow {
  subscriptionId: string;
  definitionId: string;
  siteId: string;
  listId: string;
  resource: string;
  notificationUrl: string;
  expiration: Date;
  clientStateHash: string;
}

export async function insertSubscription(meta: Pool, row: NewSubscriptionRow): Promise<void> {
  await meta.query(
    `INSERT INTO arcore.graph_subscriptions
       (subscription_id, definition_id, site_id, list_id, resource, notification_url, expiration, client_state_hash)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
     ON CONFLICT (subscription_id) DO UPDATE SET definition_id = EXCLUDED.definition_id,
       site_id = EXCLUDED.site_id, list_id = EXCLUDED.list_id, resource = EXCLUDED.resource,
       notification_url = EXCLUDED.notification_url, expiration = EXCLUDED.expiration,
       client_state_hash = EXCLUDED.client_state_hash, state = 'ACTIVE', renewed_at = NULL`,
    [
      row.subscriptionId,
      row.definitionId,
      row.siteId,
      row.listId,
      row.resource,
      row.notificationUrl,
      row.expiration,
      row.clientStateHash,
    ],
  );
}

export async function markRenewed(meta: Pool, subscriptionId: string, expiration: Date): Promise<void> {
  await meta.query(
    `UPDATE arcore.graph_subscriptions SET expiration = $2, renewed_at = now(), state = 'ACTIVE'
     WHERE subscription_id = $1`,
    [subscriptionId, expiration],
  );
}

export async function markState(
  meta: Pool,
  subscriptionId: string,
  state: StoredSubscription['state'],
): Promise<void> {
  await meta.query('UPDATE arcore.graph_subscriptions SET state = $2 WHERE subscription_id = $1', [
    subscriptionId,
    state,
  ]);
}

/**
 * Marks a subscription REMOVED unless it already is, and says whether this call did it. Graph delivers
 * lifecycle notifications at least once: of many copies of one `subscriptionRemoved`, delivered one after
 * another or at once, exactly one claims the removal (the row lock serialises the conditional UPDATE).
 */
export async function claimRemoval(meta: Pool, subscriptionId: string): Promise<boolean> {
  const { rowCount } = await meta.query(
    `UPDATE arcore.graph_subscriptions SET state = 'REMOVED'
     WHERE subscription_id = $1 AND state <> 'REMOVED'`,
    [subscriptionId],
  );
  return (rowCount ?? 0) > 0;
}

/** The definition's subscription that is neither REMOVED nor expired (other than `except`), if any. */
export async function liveSubscriptionId(
  meta: Pool,
  definitionId: string,
  except?: string,
  /** A routed definition's list: another routed list's subscription does not serve this one. */
  listId?: string,
): Promise<string | null> {
  const { rows } = await meta.query<{ subscription_id: string }>(
    `SELECT subscription_id FROM arcore.graph_subscriptions
     WHERE definition_id = $1 AND state <> 'REMOVED' AND expiration > now()
       AND subscription_id IS DISTINCT FROM $2 AND ($3::text IS NULL OR list_id = $3)
     ORDER BY expiration DESC LIMIT 1`,
    [definitionId, except ?? null, listId ?? null],
  );
  return rows[0]?.subscription_id ?? null;
}

/** True when the definition has a subscription that is neither REMOVED nor expired (other than `except`). */
export async function hasLiveSubscription(
  meta: Pool,
  definitionId: string,
  except?: string,
  listId?: string,
): Promise<boolean> {
  return (await liveSubscriptionId(meta, definitionId, except, listId)) !== null;
}

export async function deleteStoredSubscription(meta: Pool, subscriptionId: string): Promise<void> {
  await meta.query('DELETE FROM arcore.graph_subscriptions WHERE subscription_id = $1', [subscriptionId]);
}

import type { Pool } from 'pg';
import { loadSettings } from '../../../src/config/settings';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { createEngineContext } from '../../../src/core/engine/context';
import type { EngineContext } from '../../../src/core/engine/types';
import { getDefinition, upsertDefinitions } from '../../../src/core/store/definitions';
import { migrate } from '../../../src/core/store/migrate';
import { hashClientState } from '../../../src/core/subscriptions';
import { disabledTelemetry } from '../../../src/core/telemetry';
import { installRuntime } from '../../../src/functions/runtime';
import { freshDatabase, type TestDatabase } from '../../support/db';

/** A fresh database with the arcore schema. */
export async function metaDatabase(): Promise<TestDatabase> {
  const db = await freshDatabase();
  await migrate(db.pool);
  return db;
}

export function definitionInput(
  name: string,
  overrides: Partial<SyncDefinitionInput> = {},
): SyncDefinitionInput {
  return {
    name,
    source: {
      table: name.replace(/[^A-Za-z0-9_]/g, '_'),
      key: ['id'],
      cursor: { type: 'TIMESTAMP', column: 'updated_at' },
    },
    target: { site: 'contoso.sharepoint.com:/sites/demo', list: name },
    fields: [{ source: 'name', target: 'Title' }],
    ...overrides,
  };
}

/** Stores a definition (no table, no list: for metadata-only tests) and returns its id. */
export async function defineStored(
  pool: Pool,
  name: string,
  overrides: Partial<SyncDefinitionInput> = {},
): Promise<string> {
  await upsertDefinitions(pool, [parseDefinition(definitionInput(name, overrides))]);
  return (await getDefinition(pool, name)).id;
}

export async function storeSubscription(
  pool: Pool,
  row: {
    subscriptionId: string;
    definitionId: string;
    clientState: string;
    expiresInMinutes?: number;
    state?: string;
  },
): Promise<void> {
  await pool.query(
    `INSERT INTO arcore.graph_subscriptions
       (subscription_id, definition_id, site_id, list_id, resource, notification_url, expiration, client_state_hash, state)
     VALUES ($1, $2, 'site', 'list', 'sites/site/lists/list', 'https://example.test/api/graph/notifications',
             now() + make_interval(mins => $3), $4, $5)`,
    [
      row.subscriptionId,
      row.definitionId,
      row.expiresInMinutes ?? 40000,
      hashClientState(row.clientState),
      row.state ?? 'ACTIVE',
    ],
  );
}

/** A change notification as Graph sends it. */
export function notification(
  subscriptionId: string,
  clientState: string | undefined,
): Record<string, unknown> {
  return {
    subscriptionId,
    ...(clientState === undefined ? {} : { clientState }),
    changeType: 'updated',
    resource: '/sites/site-guid/lists/list-guid',
    tenantId: '00000000-0000-0000-0000-000000000000',
    subscriptionExpirationDateTime: '2030-01-01T00:00:00Z',
    resourceData: { '@odata.type': '#Microsoft.Graph.ListItem' },
  };
}

/**
 * An engine context over the test database whose Graph is unreachable (a closed port): for handlers
 * that must not call Graph at all.
 */
export async function metaOnlyContext(
  db: TestDatabase,
): Promise<{ ctx: EngineContext; close(): Promise<void> }> {
  const settings = loadSettings({
    DATABASE_URL: db.url,
    GRAPH_BASE_URL: 'https://127.0.0.1:9/v1.0',
    GRAPH_TOKEN: 'no-graph-in-this-test',
  });
  return createEngineContext(settings, { graph: { maxTransientRetries: 0 } });
}

/** What the HTTP entry point tests stand on: definition `orders` and its subscription `sub-orders`. */
export interface OrdersFixture {
  db: TestDatabase;
  /** metaOnlyContext's: Graph unreachable. */
  ctx: EngineContext;
  ordersId: string;
  /** Closes the context and drops the database. */
  close(): Promise<void>;
}

/** A metaDatabase with definition `orders`, its subscription `sub-orders` (clientState 'right'), and a context. */
export async function ordersFixture(): Promise<OrdersFixture> {
  const db = await metaDatabase();
  const ordersId = await defineStored(db.pool, 'orders');
  await storeSubscription(db.pool, {
    subscriptionId: 'sub-orders',
    definitionId: ordersId,
    clientState: 'right',
  });
  const { ctx, close } = await metaOnlyContext(db);
  return {
    db,
    ctx,
    ordersId,
    async close() {
      await close();
      await db.drop();
    },
  };
}

export interface OrdersRuntime extends OrdersFixture {
  /** Installs the runtime over `ctx` in place of the fixture's, until the function returned puts it back. */
  runtimeOver(ctx: EngineContext): () => void;
}

/** ordersFixture with the functions' runtime installed over its context (no telemetry, no webhook URLs). */
export async function ordersRuntime(): Promise<OrdersRuntime> {
  const fixture = await ordersFixture();
  const install = (ctx: EngineContext) =>
    installRuntime({ ctx, telemetry: disabledTelemetry, webhookUrls: {} });
  let uninstall = install(fixture.ctx);
  return {
    ...fixture,
    runtimeOver(ctx) {
      uninstall();
      const off = install(ctx);
      return () => {
        off();
        uninstall = install(fixture.ctx);
      };
    },
    async close() {
      uninstall();
      await fixture.close();
    },
  };
}

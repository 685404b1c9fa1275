import { Agent } from 'undici';
import { loadSettings } from '../../src/config/settings';
import { parseDefinition } from '../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../src/core/definition/schema';
import { createEngineContext, type EngineContextOptions } from '../../src/core/engine/context';
import { provisionList } from '../../src/core/engine/provision';
import { PENDING_CREATE_SETTLE_SECONDS } from '../../src/core/engine/push/pendingCreates';
import type { EngineContext } from '../../src/core/engine/types';
import { installCursorTrigger } from '../../src/core/source/postgres/PostgresSource';
import { upsertDefinitions } from '../../src/core/store/definitions';
import { migrate } from '../../src/core/store/migrate';
import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator';
import { freshDatabase, type TestDatabase } from './db';

export const SITE = 'contoso.sharepoint.com:/sites/demo';

export interface Harness {
  db: TestDatabase;
  emulator: RunningEmulator;
  ctx: EngineContext;
  siteId: string;
  /** Graph as a named user (edits "in SharePoint"). */
  asUser(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: unknown }>;
  /** Current items of a list, straight from the emulator's state. */
  items(list: string): Promise<{ id: string; fields: Record<string, unknown>; eTag: string }[]>;
  define(def: SyncDefinitionInput): Promise<void>;
  /**
   * An engine context of its own over the same database and emulator, as another instance of the app has: its own
   * pools, Graph client, resolution cache and throttle gate (whose reads this process's context may have cached).
   * `env`: settings over the defaults (the harness's, without its fast retries); close it when done.
   */
  otherInstance(
    env?: Record<string, string>,
    onProgress?: EngineContextOptions['onProgress'],
  ): Promise<{ ctx: EngineContext; close(): Promise<void> }>;
  close(): Promise<void>;
}

/**
 * `adminUrl`: the Postgres server to create the test database on (default: the run's shared server). `graph`:
 * Graph client options over the harness's own.
 */
export async function startHarness(
  emulatorOptions: EmulatorOptions = {},
  adminUrl?: string,
  graph: EngineContextOptions['graph'] = {},
): Promise<Harness> {
  const db = await freshDatabase(adminUrl, { migrated: true });
  await migrate(db.pool);
  const emulator = await startEmulator({
    throttling: { enabled: false },
    notificationDelayMs: 0,
    ...emulatorOptions,
  });
  const settings = loadSettings({
    DATABASE_URL: db.url,
    GRAPH_BASE_URL: emulator.baseUrl,
    GRAPH_TOKEN: emulator.appToken,
    // Emulator throttling is off here: let the client go as fast as it can.
    GRAPH_RU_PER_MINUTE: '10000000',
    GRAPH_MAX_CONCURRENCY: '8',
    // Crash tests rerun at once and expect a pending create's missing item to be created again; the wait for a
    // create still landing has tests of its own (pendingCreates.test.ts).
    PENDING_CREATE_SETTLE_SECONDS: '0',
  });
  const { ctx, close } = await createEngineContext(settings, {
    caCert: emulator.caCert,
    // A transient failure the emulator injects is retried after 20 ms, not 500 ms doubling: what a test proves is
    // that the retry happens (the fault is spent by count, not by time); the back-off's steps have tests of their
    // own (pacing.test.ts, SharePointTarget.test.ts).
    graph: { retryBaseDelayMs: 20, ...graph },
  });
  const dispatcher = new Agent({ connect: { ca: emulator.caCert } });
  const siteId = emulator.control.getSiteId(SITE);
  return {
    db,
    emulator,
    ctx,
    siteId,
    async asUser(method, path, body, headers = {}) {
      const res = await fetch(`${emulator.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${emulator.userToken('alice')}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher,
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async items(list) {
      const items = await emulator.control.listItems(siteId, list);
      return items as { id: string; fields: Record<string, unknown>; eTag: string }[];
    },
    async define(input) {
      const def = parseDefinition(input);
      await upsertDefinitions(db.pool, [def]);
      await provisionList(ctx, def.name);
    },
    otherInstance(env = {}, onProgress) {
      return createEngineContext(
        loadSettings({
          DATABASE_URL: db.url,
          GRAPH_BASE_URL: emulator.baseUrl,
          GRAPH_TOKEN: emulator.appToken,
          GRAPH_RU_PER_MINUTE: '10000000',
          ...env,
        }),
        { caCert: emulator.caCert, onProgress },
      );
    },
    async close() {
      await close();
      await emulator.stop();
      await dispatcher.close();
      await db.drop();
    },
  };
}

/**
 * A harness and a context of it that waits for a create a stopped run sent as the app does
 * (PENDING_CREATE_SETTLE_SECONDS; the harness's own context waits none): for the tests of creates still landing.
 */
export async function startSettlingHarness(): Promise<{ h: Harness; ctx: EngineContext }> {
  const h = await startHarness();
  return { h, ctx: { ...h.ctx, pendingCreateSettleSeconds: PENDING_CREATE_SETTLE_SECONDS } };
}

/** A projects table with an updated_at trigger, as users of the tool have it. */
export async function createProjectsTable(db: TestDatabase, table = 'projects'): Promise<void> {
  await db.pool.query(`CREATE TABLE ${table} (
    id integer PRIMARY KEY,
    name text,
    budget numeric(12,2),
    due date,
    done boolean,
    tags text[],
    updated_at timestamptz NOT NULL DEFAULT now())`);
  await db.pool.query(`CREATE INDEX ON ${table} (updated_at, id)`);
  await installCursorTrigger(db.pool, 'public', table, 'updated_at');
}

/**
 * The source of a table like createProjectsTable's: keyed by id, read in updated_at order, `pageSize` rows a page
 * (the definition's default when omitted).
 */
export function timestampSource(table = 'projects', pageSize?: number): SyncDefinitionInput['source'] {
  return {
    table,
    key: ['id'],
    cursor: { type: 'TIMESTAMP', column: 'updated_at' },
    ...(pageSize === undefined ? {} : { pageSize }),
  };
}

export function projectsDefinition(
  overrides: Partial<SyncDefinitionInput> = {},
  list = 'Projects',
): SyncDefinitionInput {
  return {
    name: 'projects',
    source: timestampSource(),
    target: { site: SITE, list },
    fields: [
      { source: 'name', target: 'Title' },
      { source: 'budget', target: 'Budget' },
      { source: 'due', target: 'Due' },
      { source: 'done', target: 'Done' },
      { source: 'tags', target: 'Tags' },
    ],
    ...overrides,
  };
}

/**
 * Table `table` (id, name text, `column` of `sqlType`, updated_at) on list `list` made by hand before the definition,
 * its one column `spColumn` (a Graph columnDefinition body), defined as `table`: name → Title, `column` →
 * `spColumn.name`; `target` is merged into the definition's target (siteTimeZone). For cases about an existing
 * SharePoint column of a kind provision would not make.
 */
export async function defineOnHandMadeColumn(
  h: Harness,
  options: {
    table: string;
    list: string;
    column: string;
    sqlType: string;
    spColumn: { name: string } & Record<string, unknown>;
    target?: Partial<SyncDefinitionInput['target']>;
  },
): Promise<void> {
  const { table, list, column, sqlType, spColumn } = options;
  await h.db.pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text, ${column} ${sqlType},
    updated_at timestamptz NOT NULL DEFAULT now())`);
  await installCursorTrigger(h.db.pool, 'public', table, 'updated_at');
  const target = h.ctx.target();
  try {
    const created = await target.createList(h.siteId, list, []);
    await target.addColumn(h.siteId, created.id, spColumn);
  } finally {
    await target.close();
  }
  await h.define({
    name: table,
    source: timestampSource(table),
    target: { site: SITE, list, ...options.target },
    fields: [
      { source: 'name', target: 'Title' },
      { source: column, target: spColumn.name },
    ],
  });
}

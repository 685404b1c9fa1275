import type { Pool } from 'pg';
import { resolveConnectionString, type Settings } from '../../config/settings';
import { PgBudgetStore } from '../budget/pgBudgetStore';
import { poolFromSettings } from '../db/pool';
import {
  graphOptionsFromSettings,
  PgThrottleGate,
  SharePointTarget,
  type GraphClientOptions,
} from '../target/sharepoint';
import {
  silentLogger,
  type EngineContext,
  type Logger,
  type ProgressEvent,
  type RunStart,
  type RunSummary,
} from './types';

export interface EngineContextOptions {
  log?: Logger;
  onProgress?: (event: ProgressEvent) => void;
  onRunStarted?: (start: RunStart) => void;
  onRunFinished?: (summary: RunSummary) => void;
  /** PEM to trust for Graph (the emulator), overriding GRAPH_CA_CERT_FILE. */
  caCert?: string;
  /** Overrides of the Graph client options (tests, benchmarks). */
  graph?: Partial<Omit<GraphClientOptions, 'baseUrl' | 'auth'>>;
  env?: NodeJS.ProcessEnv;
}

/**
 * The process-wide engine context: one metadata pool, one pool per named source connection (the default
 * connection shares the metadata pool, so a page's row and ledger writes can share a transaction), and a
 * SharePoint target factory (one per run, so column caches live for a run). Workers of one app share 429
 * back-offs through the metadata store (I10).
 */
export async function createEngineContext(
  settings: Settings,
  options: EngineContextOptions = {},
): Promise<{ ctx: EngineContext; close(): Promise<void> }> {
  const meta = poolFromSettings(settings);
  const pools = new Map<string, Pool>([['default', meta]]);
  const gate = new PgThrottleGate(meta);
  const graphOptions = graphOptionsFromSettings(settings, {
    throttleGate: gate,
    // Every process of the app draws from one resource-unit bucket in the metadata store (I16).
    budgetStore: new PgBudgetStore(meta),
    ...(options.caCert ? { caCert: options.caCert } : {}),
    ...options.graph,
  });
  const ctx: EngineContext = {
    meta,
    sourcePool(connection: string): Pool {
      const existing = pools.get(connection);
      if (existing) return existing;
      // Same auth (and Entra identity) as the metadata store.
      const pool = poolFromSettings(
        settings,
        resolveConnectionString(connection, settings, options.env ?? process.env),
      );
      pools.set(connection, pool);
      return pool;
    },
    target: (run) => new SharePointTarget({ ...graphOptions, ...run }),
    runMaxSeconds: settings.RUN_MAX_SECONDS,
    pendingCreateSettleSeconds: settings.PENDING_CREATE_SETTLE_SECONDS,
    ruPerMinute: settings.GRAPH_RU_PER_MINUTE,
    slotPolicy: {
      warnBytes: settings.SLOT_WAL_WARN_BYTES,
      dropAfterDisabledHours: settings.SLOT_DROP_AFTER_DISABLED_HOURS,
    },
    log: options.log ?? silentLogger,
    onProgress: options.onProgress,
    onRunStarted: options.onRunStarted,
    onRunFinished: options.onRunFinished,
  };
  return {
    ctx,
    async close() {
      await Promise.all([...pools.values()].map((p) => p.end()));
    },
  };
}

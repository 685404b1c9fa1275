/**
 * What the conformance checks share: the options, the transport, the site, the scratch lists the probe
 * created (the only lists it ever writes to) and what earlier checks found.
 */
import {
  SharePointTarget,
  type GraphClientOptions,
  type GraphResponse,
  type GraphTransport,
  type HttpMethod,
} from '../core/target/sharepoint';
import type { CheckOutcome } from './types';

export const SCRATCH_PREFIX = 'arcore-conformance-';

export interface ConformanceOptions {
  graph: GraphClientOptions;
  /** `host:/server-relative-path`. */
  site: string;
  /** An HTTPS endpoint that answers Graph's validation handshake (the deployed webhook); optional. */
  notificationUrl?: string;
  /** The deployment's lifecycle endpoint (WEBHOOK_LIFECYCLE_URL), which the engine's subscriptions carry; optional. */
  lifecycleNotificationUrl?: string;
  /** The zone the engine is told for date-only values (a definition's `target.siteTimeZone`); default UTC. */
  siteTimeZone?: string;
  /** Names the scratch lists (tests); random otherwise. */
  scratchSuffix?: string;
}

/** Thrown when the probe would touch a list it did not create. */
export class ScratchListConflictError extends Error {
  constructor(readonly listName: string) {
    super(
      `a list named "${listName}" already exists: the conformance probe writes only to lists it creates ` +
        'itself, so it stops here. Delete that list if an earlier probe left it, or run again (a new name is drawn).',
    );
    this.name = 'ScratchListConflictError';
  }
}

/** What checks share: the transport, the site, the scratch lists and what earlier checks found. */
export class ProbeContext {
  siteId: string | undefined;
  listId: string | undefined;
  lookupListId: string | undefined;
  /** Internal names of the scratch list's columns by role. */
  readonly columns = new Map<string, string>();
  /** Items the probe created in its list, by role. */
  readonly items = new Map<string, string>();
  /** The app's row id in the site's user list (person values). */
  userLookupId: number | undefined;
  /** Subscriptions the probe created (on its scratch list), deleted at the end. */
  readonly subscriptionIds = new Set<string>();
  deltaLink: string | undefined;
  /** Lists created by this probe (only these are ever written to or deleted). */
  readonly created = new Set<string>();
  /** The engine's own SharePoint client, for the checks that must send what the engine sends (engineChecks.ts). */
  private engine: SharePointTarget | undefined;

  constructor(
    readonly transport: GraphTransport,
    readonly options: ConformanceOptions,
    readonly listName: string,
  ) {}

  send(
    method: HttpMethod,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<GraphResponse> {
    this.assertOwnPath(method, path, body);
    return this.transport.send(method, path, {
      ...(body === undefined ? {} : { body }),
      ...(headers ? { headers } : {}),
      // The probe observes what Graph answers: an unknown outcome is reported, never retried blindly.
      safeToRetry: method === 'GET',
    });
  }

  /** Every write goes to a list this probe created (or creates one, or is a subscription on it). */
  private assertOwnPath(method: HttpMethod, path: string, body?: unknown): void {
    if (path === '$batch') {
      const requests = (body as { requests?: { method: string; url: string }[] } | undefined)?.requests ?? [];
      for (const inner of requests) this.assertOwnPath(inner.method.toUpperCase() as HttpMethod, inner.url);
      return;
    }
    if (method === 'GET') return;
    const list = /\/lists\/([^/?]+)/.exec(path)?.[1];
    if (list === undefined) return; // list creation, subscriptions
    if (!this.created.has(decodeURIComponent(list)))
      throw new Error(`conformance probe: refusing ${method} ${path}: not a list this probe created`);
  }

  /** `/sites/{site}/lists/{scratch}` (throws when setup did not get that far). */
  listPath(): string {
    if (!this.siteId || !this.listId) throw new Error('the scratch list was not created');
    return `/sites/${this.siteId}/lists/${this.listId}`;
  }

  /**
   * The engine's SharePointTarget and the scratch list it may write to: its writes bypass `send`, so the list is
   * checked here to be one this probe created.
   */
  engineList(): { target: SharePointTarget; siteId: string; listId: string } {
    if (!this.siteId || !this.listId || !this.created.has(this.listId))
      throw new Error('the scratch list was not created');
    this.engine ??= new SharePointTarget(this.options.graph);
    return { target: this.engine, siteId: this.siteId, listId: this.listId };
  }

  /** Releases the engine client's connections. */
  async closeEngine(): Promise<void> {
    await this.engine?.close();
  }

  column(role: string): string {
    const name = this.columns.get(role);
    if (name === undefined) throw new Error(`column ${role} was not created`);
    return name;
  }
}

/** A check: its name, the documentation behind it, and how it is probed. */
export interface Check {
  name: string;
  source: string;
  run(ctx: ProbeContext): Promise<CheckOutcome>;
}

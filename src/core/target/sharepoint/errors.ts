import type { ErrorKind } from '../../errors/kind';

/**
 * Typed errors of the SharePoint target. Each carries what an operator needs to act on it: the HTTP
 * method, the URL (never a token: our URLs carry none), the status, Graph's error code and message.
 */

/** Removes query parameters that may carry secrets so URLs are safe to log. Delta tokens are not secret. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    for (const key of [...parsed.searchParams.keys()]) {
      if (/sig|secret|password|access_token|code/i.test(key)) parsed.searchParams.set(key, 'REDACTED');
    }
    return parsed.toString();
  } catch {
    return url;
  }
}

export interface GraphErrorContext {
  method: string;
  url: string;
  status: number;
  code: string;
  message: string;
  requestId?: string;
}

/** A Graph request that failed for a reason retrying will not fix (4xx other than 401/429), or gave up. */
export class GraphRequestError extends Error {
  override readonly name: string = 'GraphRequestError';
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly code: string;
  readonly graphMessage: string;
  readonly requestId?: string;

  constructor(context: GraphErrorContext) {
    super(
      (context.status === 0
        ? // No HTTP answer: name Graph and the request, then the network or TLS reason.
          `${context.code === 'tlsFailure' ? 'cannot connect securely to' : 'cannot reach'} Microsoft Graph: ` +
          `${context.method} ${redactUrl(context.url)}: ${context.message}`
        : `${context.method} ${redactUrl(context.url)} failed with ${context.status} ${context.code}: ${context.message}`) +
        (context.requestId ? ` (request-id ${context.requestId})` : ''),
    );
    this.method = context.method;
    this.url = redactUrl(context.url);
    this.status = context.status;
    this.code = context.code;
    this.graphMessage = context.message;
    this.requestId = context.requestId;
  }

  /** Status 0 is no HTTP answer at all (network or TLS); otherwise Graph's status decides. */
  get errorKind(): ErrorKind {
    if (this.status === 0) return this.code === 'tlsFailure' ? 'tls' : 'unreachable';
    if (this.status === 401) return 'authentication';
    if (this.status === 403) return 'permission';
    if (this.status === 404) return 'not_found';
    if (this.status === 429) return 'throttled';
    if (this.status >= 500) return 'unreachable';
    // A column the definition maps is not in the list (deleted, renamed): the definition no longer fits it.
    if (this.status === 400 && this.missingColumn !== null) return 'invalid_definition';
    // A 400 on a read says nothing of a row's value (the whole read failed): only a write's 400 is a bad value.
    if (this.status === 400) return this.method === 'GET' ? 'internal' : 'data';
    return 'internal';
  }

  /** The column a 400 says does not exist (`Column 'Budget' does not exist. …`); null for any other answer. */
  get missingColumn(): string | null {
    if (this.status !== 400) return null;
    return /Column '([^']+)' does not exist/i.exec(this.graphMessage)?.[1] ?? null;
  }

  /** For a 403: the Graph application permission the request needs (graph.md "Permissions"); for a missing column, the fix. */
  get hint(): string | undefined {
    const column = this.missingColumn;
    if (column !== null)
      return (
        `the list has no column "${column}", which the definition maps (deleted or renamed in SharePoint): restore ` +
        `the column in the list ("arcore-sync provision NAME" re-creates missing columns), or remove the field from ` +
        'the definition and save it with apply; then run again'
      );
    if (this.status !== 403) return undefined;
    const needed =
      this.method === 'GET'
        ? 'Sites.Read.All (or Sites.Selected with read access to the site)'
        : /\/lists$/.test(this.url)
          ? 'Sites.Manage.All (or Sites.Selected with manage access to the site) to create a list'
          : 'Sites.ReadWrite.All (or Sites.Selected with write access to the site)';
    return `the app needs the Graph application permission ${needed}; grant it (admin consent) and run again`;
  }
}

/**
 * Graph refused our credentials (401), or no token could be obtained. Names the base URL and the auth
 * kind so a misconfigured GRAPH_AUTH / GRAPH_TOKEN / identity is obvious from the message alone.
 */
export class GraphAuthError extends GraphRequestError {
  override readonly name = 'GraphAuthError';
  override get errorKind(): ErrorKind {
    return 'authentication';
  }
  readonly baseUrl: string;
  readonly authKind: string;

  constructor(context: GraphErrorContext & { baseUrl: string; authKind: string }) {
    super(context);
    this.baseUrl = context.baseUrl;
    this.authKind = context.authKind;
    this.message =
      context.status === 0
        ? `could not obtain a Graph token for ${context.baseUrl} with auth kind "${context.authKind}": ${context.message}`
        : `Graph at ${context.baseUrl} rejected the credentials (auth kind "${context.authKind}"): ` +
          `${context.status} ${context.code}: ${context.message} [${context.method} ${this.url}]`;
  }
}

/**
 * The request may or may not have been applied: the connection failed (reset, dropped, timed out) or
 * the server answered 5xx to a request that is not safe to repeat. Callers reconcile before retrying.
 */
export class GraphOutcomeUnknownError extends Error {
  override readonly name = 'GraphOutcomeUnknownError';
  readonly errorKind: ErrorKind = 'unreachable';
  readonly method: string;
  readonly url: string;
  readonly status?: number;

  constructor(method: string, url: string, reason: string, status?: number, options?: { cause?: unknown }) {
    super(`${method} ${redactUrl(url)}: outcome unknown (${reason})`, options);
    this.method = method;
    this.url = redactUrl(url);
    this.status = status;
  }
}

/**
 * A delta link is no longer valid (410 Gone): the caller must re-enumerate from `freshLink` and
 * reconcile (sync-model I8, graph.md "Delta"). `freshLink` is always the engine's own first-enumeration URL, which
 * selects the fields the caller asked for; `location` is the restart link Graph offered, kept for the log only.
 * Graph documents that Location as "a new nextLink to start a fresh delta enumeration" for a token the service
 * "can't provide a list of changes for" (https://learn.microsoft.com/en-us/graph/api/listitem-delta, "Response"),
 * and nothing about which query options it keeps: options are encoded in the token ("you must specify it in the
 * initial delta request", https://learn.microsoft.com/en-us/graph/delta-query-overview, "State tokens"), so a
 * service that cannot read the token cannot know the `$expand=fields(...)` it carried.
 */
export class ResyncRequiredError extends Error {
  override readonly name = 'ResyncRequiredError';

  constructor(
    readonly freshLink: string,
    readonly code: string,
    readonly expiredLink: string,
    readonly location?: string,
  ) {
    super(`delta link expired (${code}): re-enumerate from ${redactUrl(freshLink)}`);
  }
}

/**
 * Graph answered items without the `fields` the request expanded. An item without `fields` is unreadable, never
 * "every field empty" (inside a `fields` object Graph leaves out empty values, so there absence means null; the
 * object missing says nothing about any value). Nothing of the answer is applied: reading such an item as empty
 * would write NULL into every mapped column of its row (I12, I14).
 */
export class FieldsMissingError extends Error {
  override readonly name = 'FieldsMissingError';
  readonly errorKind: ErrorKind = 'internal';

  constructor(
    readonly method: string,
    readonly url: string,
    readonly itemIds: string[],
  ) {
    const shown =
      itemIds.slice(0, 5).join(', ') + (itemIds.length > 5 ? ` and ${itemIds.length - 5} more` : '');
    super(
      `${method} ${redactUrl(url)}: Graph answered item(s) ${shown} without the fields the request selected; ` +
        'an item without fields cannot be read, so nothing of this answer was applied (no column was emptied). ' +
        'Run again; if it persists, run `arcore-sync conformance` against this site and report its output',
    );
  }
}

/** A field mapping names a column the SharePoint list does not have (sync-model I12). */
export class UnknownColumnError extends Error {
  override readonly name = 'UnknownColumnError';
  readonly errorKind: ErrorKind = 'not_found';

  constructor(
    readonly listName: string,
    readonly columnName: string,
    readonly suggestion?: string,
  ) {
    super(
      `list "${listName}" has no column with internal name "${columnName}"` +
        (suggestion
          ? `; did you mean "${suggestion}"? Mappings name a column by its internal name, not its display name`
          : "; mappings name a column by its internal name (see the list's columns)"),
    );
  }
}

/** Graph answered with a body we cannot make sense of (sync-model I12): names what was expected. */
export class GraphResponseShapeError extends Error {
  override readonly name = 'GraphResponseShapeError';

  constructor(
    readonly method: string,
    readonly url: string,
    readonly expected: string,
    readonly problems: string,
  ) {
    super(`${method} ${redactUrl(url)}: response is not ${expected}: ${problems}`);
  }
}

/**
 * The least-privileged application permission a Graph operation needs (Microsoft's permission tables):
 * - read items, columns, lists, delta: Sites.Read.All (https://learn.microsoft.com/en-us/graph/api/listitem-delta)
 * - create, update, delete items: Sites.ReadWrite.All (https://learn.microsoft.com/en-us/graph/api/listitem-create)
 * - create lists and columns: Sites.Manage.All (https://learn.microsoft.com/en-us/graph/api/list-post-columns)
 * - list subscriptions: Sites.ReadWrite.All, not Sites.Selected
 *   (https://learn.microsoft.com/en-us/graph/api/subscription-post-subscriptions)
 * A Sites.Selected app needs the matching grant (read / write / manage) on the site instead.
 */
export function permissionNeededFor(method: string, url: string): string {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    // a relative path already
  }
  const upper = method.toUpperCase();
  if (/\/subscriptions(\/|$)/.test(path)) return 'Sites.ReadWrite.All (Sites.Selected cannot subscribe)';
  if (upper === 'GET') return 'Sites.Read.All (or a Sites.Selected "read" grant on the site)';
  if (
    /\/lists\/?$/.test(path) ||
    /\/columns\/?$/.test(path) ||
    (upper === 'DELETE' && /\/lists\/[^/]+\/?$/.test(path))
  )
    return 'Sites.Manage.All (or a Sites.Selected "manage" grant on the site)';
  return 'Sites.ReadWrite.All (or a Sites.Selected "write" grant on the site)';
}

/** Graph answered 403: the app lacks a permission. Names the one the operation needs. */
export class GraphPermissionError extends GraphRequestError {
  override readonly name = 'GraphPermissionError';
  readonly neededPermission: string;

  constructor(context: GraphErrorContext) {
    super(context);
    this.neededPermission = permissionNeededFor(context.method, context.url);
    this.message =
      `permission denied: ${context.method} ${this.url} answered 403 ${context.code}; ` +
      `the app needs ${this.neededPermission}. Grant it to the app registration (admin consent) and rerun.` +
      (context.requestId ? ` (request-id ${context.requestId})` : '');
  }
}

import { isTlsFailure } from '../errors/classify';
import type { ErrorKind } from '../errors/kind';
/** Where a pool connects, as much as may be shown in logs and errors (never the password). */
export interface PostgresEndpoint {
  host: string;
  port: number;
  database: string;
  user: string | undefined;
}

/** `host:port`, the server alone (an IPv6 host in brackets). */
export function describeServer(endpoint: Pick<PostgresEndpoint, 'host' | 'port'>): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${host}:${endpoint.port}`;
}

/** `host:port/database`, the form every database error names its target in. */
export function describeEndpoint(endpoint: PostgresEndpoint): string {
  return `${describeServer(endpoint)}/${endpoint.database}`;
}

function messageOf(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return String(cause);
}

/** Replaces every occurrence of each secret with `***`, so a secret echoed by a driver never reaches a log. */
function redact(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length > 0).reduce((acc, secret) => acc.split(secret).join('***'), text);
}

/** A connection string the pool cannot use; names the problem, never the password. */
export class DatabaseConfigError extends Error {
  readonly errorKind: ErrorKind = 'invalid_input';

  constructor(message: string) {
    super(message);
    this.name = 'DatabaseConfigError';
  }
}

/** The Entra token provider failed or returned something that is not a token. */
export class DatabaseTokenError extends Error {
  readonly errorKind: ErrorKind = 'authentication';

  constructor(
    readonly scope: string,
    cause: unknown,
  ) {
    super(`could not get an Entra access token for Postgres (scope ${scope}): ${messageOf(cause)}`, {
      cause,
    });
    this.name = 'DatabaseTokenError';
  }
}

/** SQLSTATE invalid_catalog_name: the server has no database of the name connected to. */
const NO_SUCH_DATABASE = '3D000';

/**
 * A connection to Postgres could not be opened: network, TLS, authentication or token failure.
 * Carries the endpoint (host, port, database, user) and the original error as `cause`.
 */
export class DatabaseUnreachableError extends Error {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string | undefined;

  constructor(
    endpoint: PostgresEndpoint,
    cause: unknown,
    secrets: readonly string[] = [],
    lead = 'Cannot connect to',
  ) {
    const who = endpoint.user ? ` as "${endpoint.user}"` : '';
    super(redact(`${lead} Postgres at ${describeEndpoint(endpoint)}${who}: ${messageOf(cause)}`, secrets), {
      cause,
    });
    this.name = 'DatabaseUnreachableError';
    this.host = endpoint.host;
    this.port = endpoint.port;
    this.database = endpoint.database;
    this.user = endpoint.user;
  }

  /**
   * Refused credentials, TLS failures and a database the server does not have are not network trouble: they need
   * different fixes.
   */
  get errorKind(): ErrorKind {
    const code = (this.cause as { code?: unknown } | undefined)?.code;
    if (code === '28P01' || code === '28000') return 'authentication';
    if (code === NO_SUCH_DATABASE) return 'not_found';
    if (isTlsFailure(this.cause)) return 'tls';
    return 'unreachable';
  }

  /** The next step where it is not the kind's: the server answered, and has no database of that name. */
  get hint(): string | undefined {
    if ((this.cause as { code?: unknown } | undefined)?.code !== NO_SUCH_DATABASE) return undefined;
    return (
      `the server at ${describeServer(this)} has no database ` +
      `"${this.database}": check the database name at the end of the connection string (DATABASE_URL, or ` +
      "ARCORE_CONNECTION_<NAME> for a definition's source.connection), or create the database, then run again"
    );
  }
}

/**
 * An open connection died under a query or while held (server stopped or restarted, failover, network cut).
 * A DatabaseUnreachableError, so callers that map "Postgres is not there" (CLI exit 3, queue retries) treat
 * both alike; its message says the connection was lost and names host:port/database.
 */
export class DatabaseConnectionLostError extends DatabaseUnreachableError {
  constructor(endpoint: PostgresEndpoint, cause: unknown, secrets: readonly string[] = []) {
    super(endpoint, cause, secrets, 'Lost the connection to');
    this.name = 'DatabaseConnectionLostError';
  }
}

/**
 * SQLSTATE classes and codes that mean the session is gone or the server is going away: 08 connection
 * exception, 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now.
 */
const LOST_SQLSTATE = /^(08...|57P0[123])$/;
/** What pg and Node say when the socket under a session closes or breaks. */
const LOST_MESSAGE =
  /Connection terminated unexpectedly|Client has encountered a connection error and is not queryable|Client was closed and is not queryable/;
const LOST_ERRNO = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * True when `error` says the connection to Postgres was lost, as opposed to a query the server refused.
 * Reads only `code` and `message`, never `instanceof`, so errors created in another realm (jest's sandbox,
 * a worker) are recognised too.
 */
export function isConnectionLoss(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (LOST_SQLSTATE.test(code) || LOST_ERRNO.has(code))) return true;
  return typeof message === 'string' && LOST_MESSAGE.test(message);
}

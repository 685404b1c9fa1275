import { isTlsFailure } from '../errors/classify';
import type { ErrorKind } from '../errors/kind';
/** Where a pool connects, as much as may be shown in logs and errors (never the password). */
export interface PostgresEndpoint {
  host: string;
  port: number;
  database: string;
  user: string | undefined;
}

/** `host:port/database`, the form every database error names its target in. */
export function describeEndpoint(endpoint: PostgresEndpoint): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `${host}:${endpoint.port}/${endpoint.database}`;
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

/**
 * A connection to Postgres could not be opened: network, TLS, authentication or token failure.
 * Carries the endpoint (host, port, database, user) and the original error as `cause`.
 */
export class DatabaseUnreachableError extends Error {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string | undefined;

  constructor(endpoint: PostgresEndpoint, cause: unknown, secrets: readonly string[] = []) {
    const who = endpoint.user ? ` as "${endpoint.user}"` : '';
    super(
      redact(
        `Cannot connect to Postgres at ${describeEndpoint(endpoint)}${who}: ${messageOf(cause)}`,
        secrets,
      ),
      { cause },
    );
    this.name = 'DatabaseUnreachableError';
    this.host = endpoint.host;
    this.port = endpoint.port;
    this.database = endpoint.database;
    this.user = endpoint.user;
  }

  /** Refused credentials and TLS failures are not network trouble: they need different fixes. */
  get errorKind(): ErrorKind {
    const code = (this.cause as { code?: unknown } | undefined)?.code;
    if (code === '28P01' || code === '28000') return 'authentication';
    if (isTlsFailure(this.cause)) return 'tls';
    return 'unreachable';
  }
}

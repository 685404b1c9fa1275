/**
 * One classification of failures, used by the CLI (exit codes), the ops API and run records: every
 * engine error class carries a `kind`, and errors from libraries (pg, fetch) are classified by their codes.
 */
export const ERROR_KINDS = [
  /** The network path to Postgres or Graph failed: refused, reset, DNS, timeout, server gone. */
  'unreachable',
  /** The TLS handshake failed: most often a certificate no trusted CA signed. */
  'tls',
  /** A credential is missing or was refused (Graph 401, Postgres password, token provider). */
  'authentication',
  /** Authenticated but not allowed (Graph 403, Postgres 42501). */
  'permission',
  /** A named thing is not there: site, list, column, table, definition, conflict. */
  'not_found',
  /** The server asked us to slow down and the wait would exceed what the run may spend. */
  'throttled',
  /** Something must end first (a source transaction still open): nothing is wrong, run again later. */
  'busy',
  /** A definition is invalid or does not fit its table or list. */
  'invalid_definition',
  /** Bad command-line input or settings. */
  'invalid_input',
  /** One row's value cannot be synced. */
  'data',
  /** Anything else: a bug or an unexpected answer. */
  'internal',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

const KINDS: ReadonlySet<string> = new Set(ERROR_KINDS);

export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === 'string' && KINDS.has(value);
}

/** An error class that says which kind of failure it is. */
export interface KindedError extends Error {
  readonly errorKind: ErrorKind;
}

import { CommanderError } from 'commander';
import { DatabaseTokenError, DatabaseUnreachableError, describeServer } from '../core/db/errors';
import { causeChain, errorKindOf, hintFor } from '../core/errors/classify';
import type { ErrorKind } from '../core/errors/kind';
import {
  GraphAuthError,
  GraphOutcomeUnknownError,
  GraphRequestError,
} from '../core/target/sharepoint/errors';

/** The process exit codes of `arcore-sync`, documented in docs/cli.md. */
export const ExitCode = {
  /** Success, including runs that parked failures or conflicts (they are reported, not fatal). */
  OK: 0,
  /** `verify`: the command worked and found that Postgres and SharePoint differ. */
  DIFFERS: 1,
  /** `conformance`: the probe ran and at least one check failed (the report says which). */
  CHECKS_FAILED: 1,
  /** Invalid usage, settings or definitions; an unknown definition, or one that does not fit its table or list. */
  INVALID: 2,
  /** Postgres or Graph unreachable, TLS, refused credentials or permissions, or another runtime failure. */
  RUNTIME: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The one mapping from failure kinds to exit codes: what the user must fix (2) or the environment (3). */
export function exitCodeOf(kind: ErrorKind): ExitCode {
  switch (kind) {
    case 'not_found':
    case 'invalid_definition':
    case 'invalid_input':
    case 'data':
      return ExitCode.INVALID;
    case 'unreachable':
    case 'tls':
    case 'authentication':
    case 'permission':
    case 'throttled':
    case 'busy':
    case 'internal':
      return ExitCode.RUNTIME;
  }
}

/** Bad command-line input the CLI itself detects (commander catches the rest). */
export class CliUsageError extends Error {
  readonly errorKind: ErrorKind = 'invalid_input';

  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

/** The live check found errors in a definitions file (already printed in full); nothing was saved. */
export class DefinitionsRejectedError extends Error {
  readonly errorKind: ErrorKind = 'invalid_definition';
  readonly hint = 'fix the errors listed above and run the command again; nothing was saved';

  constructor(
    readonly file: string,
    readonly problems: { definition: string; path: string; message: string }[],
    /** What `--json` prints next to the error: the validation report. */
    readonly jsonDetails?: Record<string, unknown>,
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} against the live database, ` +
        `first: ${problems[0] ? `${problems[0].definition} ${problems[0].path}: ${problems[0].message}` : '(none)'}`,
    );
    this.name = 'DefinitionsRejectedError';
  }
}

/** `verify` found differences (already printed); the process exits 1. */
export class SidesDifferError extends Error {
  constructor(
    readonly definition: string,
    readonly differences: number,
    readonly unpaired: number,
  ) {
    super(
      `"${definition}": Postgres and SharePoint differ (${differences} field difference(s), ${unpaired} unpaired)`,
    );
    this.name = 'SidesDifferError';
  }
}

/** The conformance probe ran and some checks failed: exit 1, the report is already printed. */
export class ChecksFailedError extends Error {
  constructor(readonly failed: number) {
    super(`${failed} conformance check(s) failed`);
    this.name = 'ChecksFailedError';
  }
}

/** A run finished with status FAILED: carries its summary, whose error kind decides the exit code. */
export class RunFailedError extends Error {
  readonly errorKind: ErrorKind;
  readonly hint: string | undefined;

  constructor(
    readonly definition: string,
    readonly runType: string,
    readonly runError: string,
    failure: { errorKind?: ErrorKind; errorHint?: string } = {},
    /** What `--json` prints next to the error: the run summary. */
    readonly jsonDetails?: Record<string, unknown>,
  ) {
    super(`${runType.toLowerCase()} of "${definition}" failed: ${runError}`);
    this.name = 'RunFailedError';
    this.errorKind = failure.errorKind ?? 'internal';
    this.hint = failure.errorHint;
  }
}

export interface Failure {
  exitCode: ExitCode;
  kind: ErrorKind;
  message: string;
  hint: string;
}

/**
 * The one object `--json` prints on stdout when a command fails: the error, the exit code and, when the
 * command got that far, what it has to show (the run summary as `run`, a validation report as `report`).
 */
export function failureJson(failure: Failure, error: unknown): Record<string, unknown> {
  const details =
    error instanceof RunFailedError || error instanceof DefinitionsRejectedError
      ? error.jsonDetails
      : undefined;
  return {
    error: { kind: failure.kind, message: failure.message, hint: failure.hint },
    exitCode: failure.exitCode,
    ...details,
  };
}

/** Where the CLI was pointed, to name the unreachable side in messages. */
export interface FailureContext {
  graphBaseUrl?: string;
  /** Values that must never be printed (passwords, tokens, secrets). */
  secrets?: string[];
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The innermost network-level reason in a chain: `connect ECONNREFUSED 127.0.0.1:5999`, a TLS error… */
function networkReason(error: unknown): string | undefined {
  const codes =
    /ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|CERT|SELF_SIGNED|UND_ERR/;
  const found = causeChain(error)
    .reverse()
    .find((e) => {
      const code = e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined;
      return (code !== undefined && codes.test(code)) || codes.test(messageOf(e));
    });
  return found === undefined ? undefined : messageOf(found);
}

/** Secrets shorter than this are only removed where they sit in a URL: a short one ("postgres") is also a word. */
const MIN_SECRET_LENGTH = 12;

/** Removes `user:password@` credentials from URLs and every occurrence of a long secret. */
export function redact(text: string, secrets: readonly string[]): string {
  const withoutUrlPasswords = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+):[^\s@/]+@/gi, '$1:***@');
  return secrets
    .filter((s) => s.length >= MIN_SECRET_LENGTH)
    .reduce((acc, secret) => acc.split(secret).join('***'), withoutUrlPasswords);
}

function endpointOf(error: DatabaseUnreachableError): string {
  const host = error.host.includes(':') ? `[${error.host}]` : error.host;
  return `${host}:${error.port}/${error.database}`;
}

/** The message for an error, naming the failing side ("cannot reach Postgres at host:port/db: …"). */
function messageFor(error: unknown, kind: ErrorKind, graph: string): string {
  const chain = causeChain(error);
  const find = <T>(type: abstract new (...args: never[]) => T): T | undefined =>
    chain.find((e): e is T => e instanceof type);

  if (error instanceof RunFailedError) return error.message;
  const unreachableDb = find(DatabaseUnreachableError);
  if (unreachableDb) {
    const cause = unreachableDb.cause === undefined ? unreachableDb.message : messageOf(unreachableDb.cause);
    if (kind === 'not_found') {
      return `Postgres at ${describeServer(unreachableDb)} has no database "${unreachableDb.database}": ${cause}`;
    }
    const verb =
      kind === 'authentication' ? 'Postgres refused the credentials at' : 'cannot reach Postgres at';
    return `${verb} ${endpointOf(unreachableDb)}: ${cause}`;
  }
  const tokenError = find(DatabaseTokenError);
  if (tokenError) return `cannot reach Postgres: ${tokenError.message}`;
  const authError = find(GraphAuthError);
  if (authError) return `cannot use Microsoft Graph at ${graph}: ${authError.message}`;
  const outcomeUnknown = find(GraphOutcomeUnknownError);
  if (outcomeUnknown) {
    return `cannot reach Microsoft Graph at ${graph}: ${networkReason(outcomeUnknown) ?? outcomeUnknown.message}`;
  }
  // The outermost error names the definition, list or column when there is one; a bare Graph error does not.
  const requestError = find(GraphRequestError);
  if (requestError && requestError === error) {
    if (requestError.status === 0) {
      const what = kind === 'tls' ? 'cannot connect securely to' : 'cannot reach';
      return `${what} Microsoft Graph at ${graph}: ${requestError.graphMessage}`;
    }
    return `Microsoft Graph request failed: ${requestError.message}`;
  }
  // A network failure nobody wrapped: fetch (Graph) reports "fetch failed" with the socket error as cause.
  const reason = networkReason(error);
  if (reason !== undefined && chain.some((e) => messageOf(e) === 'fetch failed')) {
    return `cannot reach Microsoft Graph at ${graph}: ${reason}`;
  }
  return messageOf(error);
}

/**
 * Turns whatever a command threw into one failure: its kind (src/core/errors/kind.ts), the exit code
 * that kind maps to, one message naming the failing side, and the next step. Secrets are redacted.
 */
export function describeFailure(error: unknown, context: FailureContext = {}): Failure {
  const graph = context.graphBaseUrl ?? 'Microsoft Graph';
  const secrets = context.secrets ?? [];
  const result = (kind: ErrorKind, message: string, hint: string): Failure => ({
    exitCode: exitCodeOf(kind),
    kind,
    message: redact(message, secrets),
    hint: redact(hint, secrets),
  });

  if (error instanceof CommanderError) {
    return result('invalid_input', error.message, 'see "arcore-sync --help" for usage');
  }
  if (error instanceof ChecksFailedError) {
    return {
      exitCode: ExitCode.CHECKS_FAILED,
      kind: 'data',
      message: redact(error.message, secrets),
      hint: '',
    };
  }
  if (error instanceof SidesDifferError) {
    return { exitCode: ExitCode.DIFFERS, kind: 'data', message: redact(error.message, secrets), hint: '' };
  }
  const missingTable = causeChain(error).find(
    (e) => e instanceof Error && (e as { code?: unknown }).code === '42P01' && /arcore\./.test(e.message),
  );
  if (missingTable) {
    return result(
      'invalid_input',
      `the metadata store is not set up in this database (${messageOf(missingTable)})`,
      'run "arcore-sync migrate" first',
    );
  }
  const kind = errorKindOf(error);
  return result(kind, messageFor(error, kind, graph), hintFor(error, kind));
}

import { CommanderError } from 'commander';
import { SettingsError } from '../config/settings';
import { DefinitionValidationError } from '../core/definition/parse';
import { DatabaseConfigError, DatabaseTokenError, DatabaseUnreachableError } from '../core/db/errors';
import { UnknownConflictError, UnknownFailureError } from '../core/ops/errors';
import { UnknownDefinitionError } from '../core/store/definitions';
import {
  GraphAuthError,
  GraphOutcomeUnknownError,
  GraphRequestError,
} from '../core/target/sharepoint/errors';
import { DemoDataDirError } from '../demo/dataDir';
import { LocalSettingsError } from './localSettings';

/** The process exit codes of `arcore-sync`, documented in docs/cli.md. */
export const ExitCode = {
  /** Success, including runs that parked failures or conflicts (they are reported, not fatal). */
  OK: 0,
  /** `conformance`: the probe ran and at least one check failed (the report says which). */
  CHECKS_FAILED: 1,
  /** Invalid usage, settings or definitions; an unknown definition, or one that does not fit its table or list. */
  INVALID: 2,
  /** Postgres or Graph unreachable, or another runtime failure. Fix the environment and run again. */
  RUNTIME: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The conformance probe ran and some checks failed: exit 1, the report is already printed. */
export class ChecksFailedError extends Error {
  constructor(readonly failed: number) {
    super(`${failed} conformance check(s) failed`);
    this.name = 'ChecksFailedError';
  }
}

/** Bad command-line input the CLI itself detects (commander catches the rest). */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

/** The live check found errors in a definitions file (already printed in full); nothing was saved. */
export class DefinitionsRejectedError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { definition: string; path: string; message: string }[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} against the live database, ` +
        `first: ${problems[0] ? `${problems[0].definition} ${problems[0].path}: ${problems[0].message}` : '(none)'}`,
    );
    this.name = 'DefinitionsRejectedError';
  }
}

/** A run finished with status FAILED: carries the summary's error text so it can be classified. */
export class RunFailedError extends Error {
  constructor(
    readonly definition: string,
    readonly runType: string,
    readonly runError: string,
  ) {
    super(`${runType.toLowerCase()} of "${definition}" failed: ${runError}`);
    this.name = 'RunFailedError';
  }
}

const ENGINE_USAGE_ERRORS = new Set([
  'ConflictNotFoundError',
  'ConflictAlreadyResolvedError',
  'ResolutionValueError',
]);
/** Engine errors (matched by name, see above) that mean the definition does not fit the table or list. */
const DEFINITION_MISMATCH_ERRORS = new Set([
  'ListNotFoundError',
  'SourceTableNotFoundError',
  'MappingError',
  'UnsupportedMappingError',
  'UnknownColumnError',
]);
/** The same errors as a failed run records them (src/core/engine/runner.ts and plan.ts word them so). */
const RUN_DEFINITION_MISMATCH =
  /^Definition "[^"]*": (list "[^"]*" not found|source table "[^"]*" does not exist|fields\[\d+\]\.|source\.key)/;

export interface Failure {
  exitCode: ExitCode;
  message: string;
}

/** Where the CLI was pointed, to name the unreachable side in messages. */
export interface FailureContext {
  graphBaseUrl?: string;
  /** Values that must never be printed (passwords, tokens, secrets). */
  secrets?: string[];
}

function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < 10 && !chain.includes(current)) {
    chain.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return chain;
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

/**
 * Turns whatever a command threw into an exit code and one message that names the failing side
 * ("cannot reach Postgres at host:port/db: …", "cannot reach Microsoft Graph at https://…: …").
 * Secrets are redacted from every message.
 */
export function describeFailure(error: unknown, context: FailureContext = {}): Failure {
  const graph = context.graphBaseUrl ?? 'Microsoft Graph';
  const chain = causeChain(error);
  const find = <T>(type: abstract new (...args: never[]) => T): T | undefined =>
    chain.find((e): e is T => e instanceof type);
  const result = (exitCode: ExitCode, message: string): Failure => ({
    exitCode,
    message: redact(message, context.secrets ?? []),
  });

  if (error instanceof CommanderError) return result(ExitCode.INVALID, error.message);
  if (error instanceof ChecksFailedError) return result(ExitCode.CHECKS_FAILED, error.message);
  if (
    error instanceof CliUsageError ||
    error instanceof DefinitionsRejectedError ||
    error instanceof SettingsError ||
    error instanceof LocalSettingsError ||
    error instanceof DemoDataDirError ||
    error instanceof DefinitionValidationError ||
    error instanceof UnknownDefinitionError ||
    error instanceof UnknownConflictError ||
    // The engine's resolve errors, matched by name so that classifying a failure never loads the engine.
    (error instanceof Error && ENGINE_USAGE_ERRORS.has(error.name)) ||
    error instanceof UnknownFailureError
  ) {
    return result(ExitCode.INVALID, error.message);
  }
  if (error instanceof DatabaseConfigError) return result(ExitCode.INVALID, `DATABASE_URL: ${error.message}`);

  const missingTable = chain.find(
    (e) => e instanceof Error && (e as { code?: unknown }).code === '42P01' && /arcore\./.test(e.message),
  );
  if (missingTable) {
    return result(
      ExitCode.INVALID,
      `the metadata store is not set up in this database (${messageOf(missingTable)}): run "arcore-sync migrate" first`,
    );
  }

  const unreachableDb = find(DatabaseUnreachableError);
  if (unreachableDb) {
    const cause = unreachableDb.cause === undefined ? unreachableDb.message : messageOf(unreachableDb.cause);
    return result(ExitCode.RUNTIME, `cannot reach Postgres at ${endpointOf(unreachableDb)}: ${cause}`);
  }
  const tokenError = find(DatabaseTokenError);
  if (tokenError) return result(ExitCode.RUNTIME, `cannot reach Postgres: ${tokenError.message}`);

  const authError = find(GraphAuthError);
  if (authError)
    return result(ExitCode.RUNTIME, `cannot use Microsoft Graph at ${graph}: ${authError.message}`);
  const outcomeUnknown = find(GraphOutcomeUnknownError);
  if (outcomeUnknown) {
    return result(
      ExitCode.RUNTIME,
      `cannot reach Microsoft Graph at ${graph}: ${networkReason(outcomeUnknown) ?? outcomeUnknown.message}`,
    );
  }
  const requestError = find(GraphRequestError);
  const transportFailure = requestError !== undefined && requestError.status === 0;

  // The definition names a list, table or column that is not there: fix the definition (or provision).
  const mismatch = chain.find((e) => e instanceof Error && DEFINITION_MISMATCH_ERRORS.has(e.name));
  if (mismatch && !transportFailure) return result(ExitCode.INVALID, messageOf(mismatch));

  // Status 0: no HTTP answer at all (refused, reset, TLS, DNS) even after the client's retries.
  if (requestError && requestError.status === 0) {
    return result(ExitCode.RUNTIME, `cannot reach Microsoft Graph at ${graph}: ${requestError.graphMessage}`);
  }
  if (requestError)
    return result(ExitCode.RUNTIME, `Microsoft Graph request failed: ${requestError.message}`);

  if (error instanceof RunFailedError) {
    // A run records only its error text; the engine's messages name the side that failed.
    if (/Cannot connect to Postgres/.test(error.runError)) {
      return result(ExitCode.RUNTIME, `cannot reach Postgres: ${error.runError}`);
    }
    if (/transportFailure|fetch failed|outcome unknown/i.test(error.runError)) {
      return result(ExitCode.RUNTIME, `cannot reach Microsoft Graph at ${graph}: ${error.runError}`);
    }
    if (RUN_DEFINITION_MISMATCH.test(error.runError)) return result(ExitCode.INVALID, error.message);
    return result(ExitCode.RUNTIME, error.message);
  }

  // A network failure nobody wrapped: fetch (Graph) reports "fetch failed" with the socket error as cause.
  const reason = networkReason(error);
  if (reason !== undefined && chain.some((e) => messageOf(e) === 'fetch failed')) {
    return result(ExitCode.RUNTIME, `cannot reach Microsoft Graph at ${graph}: ${reason}`);
  }
  return result(ExitCode.RUNTIME, messageOf(error));
}

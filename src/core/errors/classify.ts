import { isErrorKind, type ErrorKind } from './kind';

/**
 * Classifies whatever was thrown. The outermost error in the cause chain that declares an `errorKind` decides;
 * otherwise library errors are recognised by their codes (Postgres SQLSTATE, Node socket and TLS codes).
 * Imports nothing from the engine, so the CLI can classify a failure without loading it.
 */
export function errorKindOf(error: unknown): ErrorKind {
  const chain = causeChain(error);
  for (const e of chain) {
    const kind = declaredKind(e);
    if (kind) return kind;
  }
  for (const e of chain) {
    const kind = kindFromCodes(e);
    if (kind) return kind;
  }
  return 'internal';
}

/** The error and its causes, outermost first (bounded, cycle-safe). */
export function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < 10 && !chain.includes(current)) {
    chain.push(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return chain;
}

/**
 * Errors of modules that do not declare a kind themselves, by class name (matching by name keeps this
 * module free of engine imports).
 */
const KIND_BY_NAME: Record<string, ErrorKind> = {
  ConflictNotFoundError: 'not_found',
  ConflictTargetGoneError: 'not_found',
  ConflictAlreadyResolvedError: 'invalid_input',
  ResolutionValueError: 'invalid_input',
  SettingsError: 'invalid_input',
  LocalSettingsError: 'invalid_input',
  DemoDataDirError: 'invalid_input',
  CursorFormatError: 'internal',
  KeyNotUniqueError: 'invalid_definition',
  KeyMatchError: 'data',
  CursorSetupError: 'invalid_definition',
};

function declaredKind(e: unknown): ErrorKind | undefined {
  if (!(e instanceof Error)) return undefined;
  const kind = (e as { errorKind?: unknown }).errorKind;
  if (isErrorKind(kind)) return kind;
  return KIND_BY_NAME[e.name];
}

/** Node's TLS verification and handshake failures (`SELF_SIGNED_CERT_IN_CHAIN`, `ERR_TLS_CERT_ALTNAME_INVALID`…). */
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|DEPTH_ZERO/;
const NETWORK_CODE =
  /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|ECONNABORTED|UND_ERR\w*)$/;

function codeOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** True when a TLS failure is somewhere in the chain (a certificate no trusted CA signed, a wrong host name). */
export function isTlsFailure(error: unknown): boolean {
  return causeChain(error).some((e) => {
    const code = codeOf(e);
    return (
      (code !== undefined && TLS_CODE.test(code)) ||
      (e instanceof Error && /certificate|self[- ]signed/i.test(e.message))
    );
  });
}

function kindFromCodes(e: unknown): ErrorKind | undefined {
  const code = codeOf(e);
  if (code === undefined) return undefined;
  if (TLS_CODE.test(code)) return 'tls';
  if (NETWORK_CODE.test(code)) return 'unreachable';
  // Postgres SQLSTATE codes (five characters).
  if (!/^[0-9A-Z]{5}$/.test(code)) return undefined;
  if (code === '28P01' || code === '28000') return 'authentication';
  if (code === '42501') return 'permission';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return 'unreachable';
  if (code === '3D000' || code === '42P01' || code === '42703') return 'not_found';
  if (code.startsWith('22') || code.startsWith('23')) return 'data';
  return undefined;
}

/** What to do next, for each kind; an error may carry a more specific `hint`. */
const DEFAULT_HINTS: Record<ErrorKind, string> = {
  unreachable: 'check that the server is up and reachable from here, then run again',
  tls:
    'the server’s certificate is not trusted: set GRAPH_CA_CERT_FILE to the PEM file of the CA that ' +
    'signed it (the emulator writes its certificate to its state dir and names it in emulator.env)',
  authentication:
    'check the credentials (GRAPH_AUTH, GRAPH_TOKEN, GRAPH_CLIENT_ID/SECRET, or the Postgres user and ' +
    'password in DATABASE_URL) and run again',
  permission: 'grant the permission named above to the identity the sync runs as, then run again',
  not_found: 'check the name in the definition (or the command line); a missing list is created by provision',
  throttled: 'the tenant is throttling this app: run again later, or lower GRAPH_RU_PER_MINUTE',
  busy: 'something the command waits for has not ended yet: run again later',
  invalid_definition: 'fix the definition, check it with "arcore-sync validate FILE" and save it with apply',
  invalid_input: 'see "arcore-sync --help" for usage and settings',
  data: 'fix the value named above in Postgres or SharePoint; the run goes on with the other rows',
  internal: 'this is unexpected: run again with -v and report the message with the run id',
};

export function hintFor(error: unknown, kind: ErrorKind = errorKindOf(error)): string {
  for (const e of causeChain(error)) {
    const hint = e instanceof Error ? (e as { hint?: unknown }).hint : undefined;
    if (typeof hint === 'string' && hint.length > 0) return hint;
  }
  return DEFAULT_HINTS[kind];
}

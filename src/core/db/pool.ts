import { Client, Pool, type ClientConfig, type PoolClient, type PoolConfig } from 'pg';
import { EventEmitter } from 'node:events';
import type { ConnectionOptions } from 'node:tls';
import type { Settings } from '../../config/settings';
import { parseConnectionString, type ParsedConnectionString } from './connectionString';
import { PIN_SESSION_SETTINGS_SQL, SessionSettingsError } from './sessionSettings';
import {
  cachedTokenPassword,
  defaultTokenProvider,
  lazyCredential,
  tokenProviderFromCredential,
  type EntraTokenProvider,
} from './entraToken';
import {
  DatabaseConfigError,
  DatabaseConnectionLostError,
  DatabaseUnreachableError,
  describeEndpoint,
  isConnectionLoss,
  type PostgresEndpoint,
} from './errors';

export type DatabaseAuth = 'password' | 'entra';

export interface CreatePoolOptions {
  /** `postgres://user[:password]@host[:port]/database[?sslmode=…&application_name=…&connect_timeout=…]` */
  connectionString: string;
  /** `password`: the password is in the connection string. `entra`: an Entra access token is the password. */
  auth: DatabaseAuth;
  /** Entra only. Defaults to DefaultAzureCredential (managed identity AZURE_CLIENT_ID when set). */
  tokenProvider?: EntraTokenProvider;
  max?: number;
  applicationName?: string;
  /** Clock for token expiry decisions; tests pass their own. */
  now?: () => number;
}

/** Host suffixes of Azure Database for PostgreSQL (public, China and US Government clouds). */
const AZURE_POSTGRES_HOST_SUFFIXES = [
  '.postgres.database.azure.com',
  '.postgres.database.chinacloudapi.cn',
  '.postgres.database.usgovcloudapi.net',
];

const DEFAULT_APPLICATION_NAME = 'arcore-sync-bridge';
/** Without a timeout, a connection blocked by a firewall hangs for the operating system's TCP timeout. */
const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
/** How long end() waits for its connections' sockets to close. */
const END_WAIT_MS = 5_000;

export function isAzurePostgresHost(host: string): boolean {
  const lower = host.toLowerCase();
  return AZURE_POSTGRES_HOST_SUFFIXES.some((suffix) => lower.endsWith(suffix));
}

/**
 * TLS settings. Azure hosts always get verified TLS whatever the URL says (the server requires TLS and its
 * certificate chains to a public root). Elsewhere `sslmode` follows libpq: require encrypts without
 * verifying, verify-ca/verify-full verify. pg cannot fall back from TLS to plain text as libpq's `prefer`
 * does, so `prefer` (TLS optional) connects without TLS rather than failing against servers that have none.
 */
/** By shape, not instanceof: pool errors may come from another realm. */
function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

function tlsFor(parsed: ParsedConnectionString): boolean | ConnectionOptions {
  if (isAzurePostgresHost(parsed.host)) return { rejectUnauthorized: true };
  switch (parsed.sslMode) {
    case undefined:
    case 'disable':
    case 'prefer':
      return false;
    case 'require':
    case 'no-verify':
      return { rejectUnauthorized: false };
    case 'verify-ca':
    case 'verify-full':
      return { rejectUnauthorized: true };
  }
}

type ClientConnectCallback = ((err: Error) => void) | ((err: null, client: Client) => void);
type QueryCallback = (err: Error | null, result?: unknown) => void;

/**
 * The client every pool hands out.
 * - pg leaves the socket open when a connection fails on the client side (the token provider threw while
 *   the server waited for the password): the server would keep that half-authenticated session until its
 *   authentication_timeout. This client closes its socket whenever connecting fails.
 * - pg emits 'error' on a client whose connection dies, and pg-pool listens only while the client is idle:
 *   a checked-out or held client (a transaction, the advisory lock) would crash the process with an
 *   unhandled 'error' event. This client always listens; the loss reaches its user as the failed query.
 * - Queries that fail because the connection died reject with DatabaseConnectionLostError, naming the
 *   database, instead of pg's bare "Connection terminated unexpectedly".
 */
class SocketClosingClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    this.on('error', () => undefined);
  }

  private get endpoint(): PostgresEndpoint {
    return { host: this.host, port: this.port, database: this.database ?? '', user: this.user };
  }

  /** The loss as a typed error naming host:port/database; any other error unchanged. */
  translate(error: unknown): unknown {
    if (error instanceof DatabaseUnreachableError || !isConnectionLoss(error)) return error;
    return new DatabaseConnectionLostError(this.endpoint, error);
  }

  /** Pins DateStyle, IntervalStyle and extra_float_digits (sessionSettings.ts explains why by SET). */
  private async pinSessionSettings(): Promise<void> {
    try {
      await (Client.prototype.query as (sql: string) => Promise<unknown>).call(
        this,
        PIN_SESSION_SETTINGS_SQL,
      );
    } catch (error) {
      if (isConnectionLoss(error)) throw error;
      throw new SessionSettingsError(this.endpoint, messageOf(error));
    }
  }

  override connect(): Promise<Client>;
  override connect(callback: ClientConnectCallback): void;
  override connect(callback?: ClientConnectCallback): Promise<Client> | void {
    const connected = super
      .connect()
      .then(async (client) => {
        await this.pinSessionSettings();
        return client;
      })
      .catch((error: unknown) => {
        this.end().catch(() => undefined);
        throw error;
      });
    if (!callback) return connected;
    connected.then(
      (client) => (callback as (err: null, client: Client) => void)(null, client),
      (error: Error) => (callback as (err: Error) => void)(error),
    );
  }
}

type UntypedQuery = (this: unknown, ...args: unknown[]) => unknown;

/**
 * `query` with its errors passed through `translate`, in all of pg's forms: promise, callback, submittable.
 * pg's query() is a set of overloads that a subclass cannot restate; the wrapper keeps every one of them.
 */
function translatingQuery<T>(original: UntypedQuery, translate: (self: T, error: unknown) => unknown) {
  return function (this: T, ...args: unknown[]): unknown {
    const callbackAt = args.findIndex((arg, i) => i > 0 && typeof arg === 'function');
    if (callbackAt > 0) {
      const callback = args[callbackAt] as QueryCallback;
      args[callbackAt] = (err: Error | null, result?: unknown) =>
        callback(err ? (translate(this, err) as Error) : err, result);
    }
    const result = original.apply(this, args);
    const submittable = typeof (args[0] as { submit?: unknown } | null)?.submit === 'function';
    const promised = typeof (result as PromiseLike<unknown> | undefined)?.then === 'function';
    if (submittable || !promised) return result;
    return (result as PromiseLike<unknown>).then(undefined, (error: unknown) => {
      throw translate(this, error);
    });
  };
}

// pg's query is looked up on each call, not captured here, so that a wrapper installed later on pg's Client
// (the benchmarks' Postgres timing, bench/pgTiming.ts) sees these clients' queries too.
SocketClosingClient.prototype.query = translatingQuery<SocketClosingClient>(
  function (this: unknown, ...args: unknown[]) {
    return (Client.prototype.query as UntypedQuery).apply(this, args);
  },
  (client, error) => client.translate(error),
) as unknown as Client['query'];

/** A pg Pool whose connection failures arrive as DatabaseUnreachableError naming host:port, never the password. */
class EndpointAwarePool extends Pool {
  /** Connections opened and not yet closed (their socket), whether idle, checked out or closing. */
  private readonly open = new Set<Client>();
  private readonly closed = new EventEmitter();

  constructor(
    config: PoolConfig,
    private readonly endpoint: PostgresEndpoint,
    private readonly secrets: readonly string[],
  ) {
    super(config);
    this.on('connect', (client) => this.open.add(client));
    this.on('remove', (client) => {
      this.open.delete(client);
      this.closed.emit('closed');
    });
  }

  /**
   * pg-pool's end() resolves as soon as it has asked its connections to close, while their sessions still
   * exist on the server. Whoever then drops the database, restarts the server or exits meets those closing
   * sessions (a DROP DATABASE … WITH (FORCE) terminates them, and each one's termination arrives as an
   * 'error'). This end() resolves once every connection is closed, or after END_WAIT_MS at the latest.
   */
  override end(): Promise<void>;
  override end(callback: () => void): void;
  override end(callback?: () => void): Promise<void> | void {
    const ended = super.end().then(() => this.allClosed());
    if (!callback) return ended;
    void ended.then(callback, callback);
  }

  private allClosed(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (this.open.size > 0) return;
        clearTimeout(timer);
        this.closed.off('closed', done);
        resolve();
      };
      // A socket that never reports its end must not keep a shutdown waiting forever.
      const timer = setTimeout(() => {
        this.closed.off('closed', done);
        resolve();
      }, END_WAIT_MS);
      timer.unref();
      this.closed.on('closed', done);
    });
  }

  /** A session whose settings could not be pinned is reachable: its error says what to configure. */
  private wrap(error: unknown): DatabaseUnreachableError | SessionSettingsError {
    return error instanceof DatabaseUnreachableError || error instanceof SessionSettingsError
      ? error
      : new DatabaseUnreachableError(this.endpoint, error, this.secrets);
  }

  /** A lost connection as DatabaseConnectionLostError; any other error unchanged. */
  translate(error: unknown): unknown {
    if (error instanceof DatabaseUnreachableError || !isConnectionLoss(error)) return error;
    return new DatabaseConnectionLostError(this.endpoint, error, this.secrets);
  }

  override connect(): Promise<PoolClient>;
  override connect(
    callback: (
      err: Error | undefined,
      client: PoolClient | undefined,
      done: (release?: unknown) => void,
    ) => void,
  ): void;
  override connect(
    callback?: (
      err: Error | undefined,
      client: PoolClient | undefined,
      done: (release?: unknown) => void,
    ) => void,
  ): Promise<PoolClient> | void {
    // pool.query() connects through the callback form, so both forms are wrapped.
    if (callback) {
      super.connect((err, client, done) => callback(err ? this.wrap(err) : undefined, client, done));
      return;
    }
    return super.connect().catch((error: unknown) => {
      throw this.wrap(error);
    });
  }
}

// pool.query() also fails with the checked-out client's raw 'error' (pg-pool listens for it during the query),
// which the client's own translation never sees.
EndpointAwarePool.prototype.query = translatingQuery<EndpointAwarePool>(
  Pool.prototype.query as UntypedQuery,
  (pool, error) => pool.translate(error),
) as unknown as Pool['query'];

/**
 * A pg Pool for the metadata store or a source database.
 * - `entra`: pg's `password` is an async function returning a cached Entra token, refreshed when it is within
 *   five minutes of expiry, so connections opened hours after start still log in. The URL must name the
 *   Postgres role (the managed identity's role) and carry no password.
 * - Azure hosts (`*.postgres.database.azure.com`) always use verified TLS.
 * Connection failures reject with DatabaseUnreachableError.
 */
export function createPool(options: CreatePoolOptions): Pool {
  const parsed = parseConnectionString(options.connectionString);
  const endpoint: PostgresEndpoint = {
    host: parsed.host,
    port: parsed.port,
    database: parsed.database,
    user: parsed.user,
  };

  let password: PoolConfig['password'];
  if (options.auth === 'entra') {
    if (parsed.password !== undefined) {
      throw new DatabaseConfigError(
        'DATABASE_AUTH=entra: the connection string must not carry a password (the Entra token is the password)',
      );
    }
    if (parsed.user === undefined) {
      throw new DatabaseConfigError(
        'DATABASE_AUTH=entra: the connection string must name the Postgres role mapped to the identity (postgres://<role>@host/db)',
      );
    }
    password = cachedTokenPassword(options.tokenProvider ?? defaultTokenProvider(), options.now);
  } else {
    if (options.tokenProvider !== undefined) {
      throw new DatabaseConfigError('a token provider was given but auth is "password"');
    }
    password = parsed.password;
  }

  const config: PoolConfig = {
    host: parsed.host,
    port: parsed.port,
    database: parsed.database,
    user: parsed.user,
    password,
    ssl: tlsFor(parsed),
    application_name: options.applicationName ?? parsed.applicationName ?? DEFAULT_APPLICATION_NAME,
    connectionTimeoutMillis:
      parsed.connectTimeoutSeconds !== undefined
        ? parsed.connectTimeoutSeconds * 1000
        : DEFAULT_CONNECT_TIMEOUT_MS,
    options: parsed.options,
    max: options.max ?? 10,
    // TCP keepalive from a minute of silence on: a connection the network cut (no FIN from the server) is
    // then noticed once the operating system's probes fail (minutes), instead of never.
    keepAlive: true,
    keepAliveInitialDelayMillis: 60_000,
    Client: SocketClosingClient,
  };
  const pool = new EndpointAwarePool(config, endpoint, parsed.password ? [parsed.password] : []);
  // An idle connection the server drops (failover, maintenance) makes the pool emit 'error'; without a
  // listener Node would crash the worker. The pool discards that client and opens a new one on demand.
  // The warning is a string: emitWarning throws on an Error from another realm (jest's sandbox), and a throw
  // here would turn this harmless event into the crash the listener exists to prevent.
  pool.on('error', (error: unknown) => {
    process.emitWarning(
      `Postgres at ${describeEndpoint(endpoint)}: an idle connection was closed (${messageOf(error)}); ` +
        'the pool opens a new one when it needs one',
      { type: 'DatabaseConnectionWarning', code: 'ARCORE_PG_IDLE_CONNECTION_CLOSED' },
    );
  });
  return pool;
}

function required(value: string | undefined, name: string, mode: string): string {
  if (!value)
    throw new DatabaseConfigError(`${name} is required for DATABASE_AUTH=entra with GRAPH_AUTH=${mode}`);
  return value;
}

/**
 * The Entra identity the app connects to Postgres as is the one it uses for Graph, because the settings
 * carry one AZURE_CLIENT_ID: the app registration's secret or certificate when GRAPH_AUTH says so,
 * otherwise DefaultAzureCredential with the user-assigned managed identity AZURE_CLIENT_ID.
 */
export function tokenProviderForSettings(settings: Settings): EntraTokenProvider {
  switch (settings.GRAPH_AUTH) {
    case 'clientSecret': {
      const tenant = required(settings.AZURE_TENANT_ID, 'AZURE_TENANT_ID', 'clientSecret');
      const client = required(settings.AZURE_CLIENT_ID, 'AZURE_CLIENT_ID', 'clientSecret');
      const secret = required(settings.GRAPH_CLIENT_SECRET, 'GRAPH_CLIENT_SECRET', 'clientSecret');
      return tokenProviderFromCredential(
        lazyCredential((identity) => new identity.ClientSecretCredential(tenant, client, secret)),
      );
    }
    case 'certificate': {
      const tenant = required(settings.AZURE_TENANT_ID, 'AZURE_TENANT_ID', 'certificate');
      const client = required(settings.AZURE_CLIENT_ID, 'AZURE_CLIENT_ID', 'certificate');
      const certificatePath = required(
        settings.GRAPH_CERTIFICATE_PATH,
        'GRAPH_CERTIFICATE_PATH',
        'certificate',
      );
      return tokenProviderFromCredential(
        lazyCredential(
          (identity) => new identity.ClientCertificateCredential(tenant, client, { certificatePath }),
        ),
      );
    }
    case 'default':
    case 'token':
      return defaultTokenProvider(settings.AZURE_CLIENT_ID);
  }
}

/**
 * A pool described by the app settings: DATABASE_URL (the metadata store) or another source connection
 * string, with DATABASE_AUTH and the Entra identity the settings name (see tokenProviderForSettings).
 */
export function poolFromSettings(settings: Settings, connectionString: string = settings.DATABASE_URL): Pool {
  return createPool({
    connectionString,
    auth: settings.DATABASE_AUTH,
    tokenProvider: settings.DATABASE_AUTH === 'entra' ? tokenProviderForSettings(settings) : undefined,
    // Bounded per process: instances × PG_POOL_MAX must fit the server's connections (docs/deploy.md).
    max: settings.PG_POOL_MAX,
  });
}

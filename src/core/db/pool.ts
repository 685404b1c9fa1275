import { ClientCertificateCredential, ClientSecretCredential } from '@azure/identity';
import { Client, Pool, type PoolClient, type PoolConfig } from 'pg';
import type { ConnectionOptions } from 'node:tls';
import type { Settings } from '../../config/settings';
import { parseConnectionString, type ParsedConnectionString } from './connectionString';
import {
  cachedTokenPassword,
  defaultTokenProvider,
  tokenProviderFromCredential,
  type EntraTokenProvider,
} from './entraToken';
import { DatabaseConfigError, DatabaseUnreachableError, type PostgresEndpoint } from './errors';

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

/**
 * pg leaves the socket open when a connection fails on the client side (the token provider threw while the
 * server waited for the password): the server would keep that half-authenticated session until its
 * authentication_timeout. This client closes its socket whenever connecting fails.
 */
class SocketClosingClient extends Client {
  override connect(): Promise<Client>;
  override connect(callback: ClientConnectCallback): void;
  override connect(callback?: ClientConnectCallback): Promise<Client> | void {
    const connected = super.connect().catch((error: unknown) => {
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

/** A pg Pool whose connection failures arrive as DatabaseUnreachableError naming host:port, never the password. */
class EndpointAwarePool extends Pool {
  constructor(
    config: PoolConfig,
    private readonly endpoint: PostgresEndpoint,
    private readonly secrets: readonly string[],
  ) {
    super(config);
  }

  private wrap(error: unknown): DatabaseUnreachableError {
    return error instanceof DatabaseUnreachableError
      ? error
      : new DatabaseUnreachableError(this.endpoint, error, this.secrets);
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
    Client: SocketClosingClient,
  };
  const pool = new EndpointAwarePool(config, endpoint, parsed.password ? [parsed.password] : []);
  // An idle connection the server drops (failover, maintenance) makes the pool emit 'error'; without a
  // listener Node would crash the worker. The pool discards that client and opens a new one on demand.
  pool.on('error', (error: Error) => {
    process.emitWarning(
      new DatabaseUnreachableError(endpoint, error, parsed.password ? [parsed.password] : []),
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
      return tokenProviderFromCredential(new ClientSecretCredential(tenant, client, secret));
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
        new ClientCertificateCredential(tenant, client, { certificatePath }),
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

import { z } from 'zod';
import { DatabaseConfigError, type PostgresEndpoint } from './errors';

export const SSL_MODES = ['disable', 'prefer', 'require', 'no-verify', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** A parsed `postgres://` URL. Only the query parameters below are understood; others are rejected. */
export interface ParsedConnectionString extends PostgresEndpoint {
  password: string | undefined;
  sslMode: SslMode | undefined;
  applicationName: string | undefined;
  connectTimeoutSeconds: number | undefined;
  /** Server options (`-c key=value …`), as libpq's `options` parameter. */
  options: string | undefined;
}

const queryParametersSchema = z
  .object({
    sslmode: z.enum(SSL_MODES).optional(),
    application_name: z.string().min(1).optional(),
    connect_timeout: z.coerce.number().int().positive().optional(),
    options: z.string().min(1).optional(),
  })
  .strict();

function decode(component: string, what: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    throw new DatabaseConfigError(`connection string: the ${what} is not valid percent-encoding`);
  }
}

/**
 * Parses a `postgres://user:password@host:port/database?sslmode=…` connection string.
 * We parse it ourselves rather than hand it to pg: pg lets the string's (empty) password override an
 * async password function, which would break Entra tokens.
 */
export function parseConnectionString(connectionString: string): ParsedConnectionString {
  let url: URL;
  try {
    url = new URL(connectionString.trim());
  } catch {
    // The URL error would echo the input, password included.
    throw new DatabaseConfigError(
      'connection string is not a valid URL (expected postgres://user@host:5432/db)',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new DatabaseConfigError(
      `connection string must start with postgres:// or postgresql://, got ${url.protocol}//`,
    );
  }
  const host = url.hostname.replace(/^\[(.+)\]$/, '$1');
  if (host === '') throw new DatabaseConfigError('connection string has no host');

  const parsedQuery = queryParametersSchema.safeParse(Object.fromEntries(url.searchParams.entries()));
  if (!parsedQuery.success) {
    const problems = parsedQuery.error.issues.map((issue) =>
      issue.code === 'unrecognized_keys'
        ? `unsupported parameter(s) ${issue.keys.join(', ')}`
        : `${issue.path.join('.')}: ${issue.message}`,
    );
    throw new DatabaseConfigError(`connection string: ${problems.join('; ')}`);
  }
  const query = parsedQuery.data;

  const user = url.username === '' ? undefined : decode(url.username, 'user name');
  const password = url.password === '' ? undefined : decode(url.password, 'password');
  const path = url.pathname.replace(/^\//, '');
  const database = path === '' ? user : decode(path, 'database name');
  if (database === undefined) {
    throw new DatabaseConfigError('connection string names neither a database nor a user');
  }

  return {
    host,
    port: url.port === '' ? 5432 : Number(url.port),
    database,
    user,
    password,
    sslMode: query.sslmode,
    applicationName: query.application_name,
    connectTimeoutSeconds: query.connect_timeout,
    options: query.options,
  };
}

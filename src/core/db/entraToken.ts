import type { TokenCredential } from '@azure/identity';
import { z } from 'zod';
import { DatabaseTokenError } from './errors';

/** The audience Azure Database for PostgreSQL accepts Entra access tokens for (public cloud). */
export const ENTRA_POSTGRES_SCOPE = 'https://ossrdbms-aad.database.windows.net/.default';

/**
 * A token is replaced once it is this close to expiry. Entra tokens live 60–90 minutes and are only
 * checked when a connection logs in, so a margin this wide means a new connection never presents a
 * token that expires during its handshake.
 */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60 * 1000;

export interface EntraAccessToken {
  token: string;
  /** Expiry, milliseconds since the Unix epoch (as @azure/identity reports it). */
  expiresOnTimestamp: number;
}

export type EntraTokenProvider = () => Promise<EntraAccessToken>;

const accessTokenSchema = z.object({
  token: z.string().min(1, 'is empty'),
  expiresOnTimestamp: z.number().finite(),
});

/** The @azure/identity module, given to what builds a credential. */
export type IdentityModule = typeof import('@azure/identity');

/**
 * A credential built on first use, @azure/identity loaded then: the identity stack is some 200 modules that a process
 * signing in with a token or a password never needs (each CLI command and each cold start paid for loading them).
 */
export function lazyCredential(build: (identity: IdentityModule) => TokenCredential): () => TokenCredential {
  let credential: TokenCredential | undefined;
  // A plain require: loaded here, not at start, and still seen by the Function App's bundler (scripts/package-app.js),
  // which defers a bundled module's evaluation to its first require.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return () => (credential ??= build(require('@azure/identity') as IdentityModule));
}

/** Turns an @azure/identity credential (or one built on first use) into a token provider for the Postgres scope. */
export function tokenProviderFromCredential(
  credential: TokenCredential | (() => TokenCredential),
  scope: string = ENTRA_POSTGRES_SCOPE,
): EntraTokenProvider {
  return async () => {
    const source = typeof credential === 'function' ? credential() : credential;
    const token = await source.getToken(scope);
    if (token === null) throw new Error('the credential returned no token');
    return token;
  };
}

/**
 * DefaultAzureCredential: the user-assigned managed identity in Azure (when its client id is given),
 * otherwise whatever is signed in locally (`az login`, environment variables…). Built on first use so
 * that creating a pool never touches the identity stack.
 */
export function defaultTokenProvider(managedIdentityClientId?: string): EntraTokenProvider {
  return tokenProviderFromCredential(
    lazyCredential((identity) =>
      managedIdentityClientId
        ? new identity.DefaultAzureCredential({ managedIdentityClientId })
        : new identity.DefaultAzureCredential(),
    ),
  );
}

/**
 * The pg `password` function for Entra auth: returns a cached token and asks the provider for a new one
 * when the cached one is within TOKEN_REFRESH_MARGIN_MS of expiry. Concurrent connections share one
 * request. If a refresh fails while the cached token has not yet expired, the cached token is used, so a
 * brief identity-endpoint outage does not stop new connections.
 */
export function cachedTokenPassword(
  provider: EntraTokenProvider,
  now: () => number = Date.now,
  scope: string = ENTRA_POSTGRES_SCOPE,
): () => Promise<string> {
  let current: EntraAccessToken | undefined;
  let inFlight: Promise<EntraAccessToken> | undefined;

  const fetchToken = async (): Promise<EntraAccessToken> => {
    let raw: unknown;
    try {
      raw = await provider();
    } catch (error) {
      throw new DatabaseTokenError(scope, error);
    }
    const parsed = accessTokenSchema.safeParse(raw);
    if (!parsed.success) {
      const problems = parsed.error.issues
        .map((i) => `${i.path.join('.') || 'token'} ${i.message}`)
        .join('; ');
      throw new DatabaseTokenError(
        scope,
        new Error(`the token provider returned an invalid token: ${problems}`),
      );
    }
    return parsed.data;
  };

  return async () => {
    if (current && current.expiresOnTimestamp - now() > TOKEN_REFRESH_MARGIN_MS) return current.token;
    inFlight ??= fetchToken().finally(() => {
      inFlight = undefined;
    });
    try {
      current = await inFlight;
    } catch (error) {
      if (current && current.expiresOnTimestamp > now()) return current.token;
      throw error;
    }
    return current.token;
  };
}

import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
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

/** Turns any @azure/identity credential into a token provider for the Postgres scope. */
export function tokenProviderFromCredential(
  credential: TokenCredential,
  scope: string = ENTRA_POSTGRES_SCOPE,
): EntraTokenProvider {
  return async () => {
    const token = await credential.getToken(scope);
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
  let credential: TokenCredential | undefined;
  return async () => {
    credential ??= managedIdentityClientId
      ? new DefaultAzureCredential({ managedIdentityClientId })
      : new DefaultAzureCredential();
    return tokenProviderFromCredential(credential)();
  };
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

import type { TokenCredential } from '@azure/identity';
import type { AuthenticationProvider } from '@microsoft/microsoft-graph-client';
import { lazyCredential } from '../../db/entraToken';
import { GraphAuthError } from './errors';
import { GRAPH_SCOPE, type GraphAuth } from './options';

/** The credential of an Entra GraphAuth, @azure/identity loaded on first use (db/entraToken.ts lazyCredential). */
function credentialFor(auth: Exclude<GraphAuth, { kind: 'token' }>): () => TokenCredential {
  return lazyCredential((identity) => {
    switch (auth.kind) {
      case 'default':
        return new identity.DefaultAzureCredential(
          auth.managedIdentityClientId ? { managedIdentityClientId: auth.managedIdentityClientId } : {},
        );
      case 'clientSecret':
        return new identity.ClientSecretCredential(auth.tenantId, auth.clientId, auth.clientSecret);
      case 'certificate':
        return new identity.ClientCertificateCredential(auth.tenantId, auth.clientId, auth.certificatePath);
    }
  });
}

type AzureTokenCredentials =
  typeof import('@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js');

/** The Graph SDK's provider over an Entra credential, both loaded on the first token asked for. */
function entraProvider(auth: Exclude<GraphAuth, { kind: 'token' }>): AuthenticationProvider {
  const credential = credentialFor(auth);
  let provider: AuthenticationProvider | undefined;
  return {
    getAccessToken() {
      if (!provider) {
        // A plain require, as in lazyCredential: loaded now, and bundled into the Function App all the same.
        const { TokenCredentialAuthenticationProvider } =
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          require('@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials') as AzureTokenCredentials;
        provider = new TokenCredentialAuthenticationProvider(credential(), { scopes: [GRAPH_SCOPE] });
      }
      return provider.getAccessToken();
    },
  };
}

/**
 * The SDK authentication provider for a GraphAuth. A failure to obtain a token becomes a GraphAuthError
 * naming the base URL and auth kind, instead of an identity library error with no Graph context.
 */
export function authenticationProviderFor(auth: GraphAuth, baseUrl: string): AuthenticationProvider {
  const inner: AuthenticationProvider =
    auth.kind === 'token' ? { getAccessToken: async () => auth.token } : entraProvider(auth);
  return {
    async getAccessToken() {
      try {
        return await inner.getAccessToken();
      } catch (error) {
        throw new GraphAuthError({
          baseUrl,
          authKind: auth.kind,
          method: 'TOKEN',
          url: baseUrl,
          status: 0,
          code: error instanceof Error ? error.name : 'tokenUnavailable',
          message: error instanceof Error ? error.message : String(error),
        });
      }
    },
  };
}

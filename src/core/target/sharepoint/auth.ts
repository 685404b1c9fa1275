import { ClientCertificateCredential, ClientSecretCredential, DefaultAzureCredential } from '@azure/identity';
import type { TokenCredential } from '@azure/identity';
import type { AuthenticationProvider } from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import { GraphAuthError } from './errors';
import { GRAPH_SCOPE, type GraphAuth } from './options';

function credentialFor(auth: Exclude<GraphAuth, { kind: 'token' }>): TokenCredential {
  switch (auth.kind) {
    case 'default':
      return new DefaultAzureCredential(
        auth.managedIdentityClientId ? { managedIdentityClientId: auth.managedIdentityClientId } : {},
      );
    case 'clientSecret':
      return new ClientSecretCredential(auth.tenantId, auth.clientId, auth.clientSecret);
    case 'certificate':
      return new ClientCertificateCredential(auth.tenantId, auth.clientId, auth.certificatePath);
  }
}

/**
 * The SDK authentication provider for a GraphAuth. A failure to obtain a token becomes a GraphAuthError
 * naming the base URL and auth kind, instead of an identity library error with no Graph context.
 */
export function authenticationProviderFor(auth: GraphAuth, baseUrl: string): AuthenticationProvider {
  const inner: AuthenticationProvider =
    auth.kind === 'token'
      ? { getAccessToken: async () => auth.token }
      : new TokenCredentialAuthenticationProvider(credentialFor(auth), { scopes: [GRAPH_SCOPE] });
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

import type { TokenCredential } from '@azure/identity';
import {
  cachedTokenPassword,
  ENTRA_POSTGRES_SCOPE,
  TOKEN_REFRESH_MARGIN_MS,
  tokenProviderFromCredential,
  type EntraAccessToken,
} from '../../../src/core/db/entraToken';
import { DatabaseTokenError, DatabaseUnreachableError } from '../../../src/core/db/errors';

const MINUTE = 60_000;

describe('cachedTokenPassword', () => {
  test('concurrent callers share one provider request', async () => {
    let calls = 0;
    let release: (token: EntraAccessToken) => void = () => undefined;
    const provider = () => {
      calls += 1;
      return new Promise<EntraAccessToken>((resolve) => {
        release = resolve;
      });
    };
    const password = cachedTokenPassword(provider, () => 0);

    const waiting = Promise.all([password(), password(), password()]);
    release({ token: 'tok-1', expiresOnTimestamp: 60 * MINUTE });

    expect(await waiting).toEqual(['tok-1', 'tok-1', 'tok-1']);
    expect(calls).toBe(1);
  });

  test('refreshes exactly at the margin boundary, not before', async () => {
    let clock = 0;
    let serial = 0;
    const password = cachedTokenPassword(
      async () => ({ token: `tok-${++serial}`, expiresOnTimestamp: clock + 60 * MINUTE }),
      () => clock,
    );
    expect(await password()).toBe('tok-1');
    clock = 60 * MINUTE - TOKEN_REFRESH_MARGIN_MS - 1;
    expect(await password()).toBe('tok-1');
    clock = 60 * MINUTE - TOKEN_REFRESH_MARGIN_MS;
    expect(await password()).toBe('tok-2');
  });

  test('a provider failure is a DatabaseTokenError naming the scope and the cause', async () => {
    const password = cachedTokenPassword(async () => {
      throw new Error('AADSTS700016: application not found');
    });
    const error = await password().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseTokenError);
    expect((error as Error).message).toContain(ENTRA_POSTGRES_SCOPE);
    expect((error as Error).message).toContain('AADSTS700016');
  });
});

describe('tokenProviderFromCredential', () => {
  test('asks the credential for the Postgres scope and rejects a null token', async () => {
    const scopes: unknown[] = [];
    const credential: TokenCredential = {
      getToken: async (scope) => {
        scopes.push(scope);
        return null;
      },
    };
    await expect(tokenProviderFromCredential(credential)()).rejects.toThrow(/returned no token/);
    expect(scopes).toEqual([ENTRA_POSTGRES_SCOPE]);
  });
});

describe('DatabaseUnreachableError', () => {
  test('never carries a secret the driver echoed back', () => {
    const error = new DatabaseUnreachableError(
      { host: 'db.example.com', port: 5432, database: 'arcore', user: 'app' },
      new Error('server said: bad password "s3cret-value"'),
      ['s3cret-value'],
    );
    expect(error.message).toBe(
      'Cannot connect to Postgres at db.example.com:5432/arcore as "app": server said: bad password "***"',
    );
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, SettingsError } from '../../../../src/config/settings';
import { graphOptionsFromSettings } from '../../../../src/core/target/sharepoint';

const base = { DATABASE_URL: 'postgres://u:p@localhost:5432/db' };

describe('graphOptionsFromSettings', () => {
  it('a static token, the emulator base URL, its CA file and the budget', () => {
    const dir = mkdtempSync(join(tmpdir(), 'arcore-ca-'));
    writeFileSync(join(dir, 'ca.pem'), 'PEM TEXT');
    const options = graphOptionsFromSettings(
      loadSettings({
        ...base,
        GRAPH_TOKEN: 'tok',
        GRAPH_BASE_URL: 'https://127.0.0.1:8443/v1.0',
        GRAPH_CA_CERT_FILE: join(dir, 'ca.pem'),
        GRAPH_RU_PER_MINUTE: '600',
        GRAPH_MAX_CONCURRENCY: '2',
      }),
      { maxTransientRetries: 1 },
    );
    expect(options).toEqual({
      baseUrl: 'https://127.0.0.1:8443/v1.0',
      auth: { kind: 'token', token: 'tok' },
      caCert: 'PEM TEXT',
      resourceUnitsPerMinute: 600,
      resourceUnitsPerDay: 576_000,
      maxConcurrency: 2,
      maxRetryAfterMs: 300_000,
      maxTransientRetries: 1,
    });
  });

  it('managed identity by default, with the user-assigned client id', () => {
    const options = graphOptionsFromSettings(loadSettings({ ...base, AZURE_CLIENT_ID: 'mi-client' }));
    expect(options.auth).toEqual({ kind: 'default', managedIdentityClientId: 'mi-client' });
    expect(options.baseUrl).toBe('https://graph.microsoft.com/v1.0');
    expect(options.resourceUnitsPerMinute).toBe(1250);
  });

  it('client secret and certificate app registrations', () => {
    const app = { ...base, AZURE_TENANT_ID: 't', AZURE_CLIENT_ID: 'c' };
    expect(
      graphOptionsFromSettings(loadSettings({ ...app, GRAPH_AUTH: 'clientSecret', GRAPH_CLIENT_SECRET: 's' }))
        .auth,
    ).toEqual({ kind: 'clientSecret', tenantId: 't', clientId: 'c', clientSecret: 's' });
    expect(
      graphOptionsFromSettings(
        loadSettings({ ...app, GRAPH_AUTH: 'certificate', GRAPH_CERTIFICATE_PATH: '/c.pem' }),
      ).auth,
    ).toEqual({ kind: 'certificate', tenantId: 't', clientId: 'c', certificatePath: '/c.pem' });
  });

  it('an unreadable CA file is a settings error naming the setting', () => {
    const settings = loadSettings({ ...base, GRAPH_TOKEN: 'x', GRAPH_CA_CERT_FILE: '/nonexistent/ca.pem' });
    expect(() => graphOptionsFromSettings(settings)).toThrow(SettingsError);
    expect(() => graphOptionsFromSettings(settings)).toThrow(/GRAPH_CA_CERT_FILE \/nonexistent\/ca\.pem/);
  });
});

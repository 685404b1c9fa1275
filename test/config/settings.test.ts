import { loadSettings, resolveConnectionString, SettingsError } from '../../src/config/settings';

describe('settings', () => {
  it('defaults GRAPH_BASE_URL to real Graph and picks token auth when GRAPH_TOKEN is set', () => {
    const s = loadSettings({ DATABASE_URL: 'postgres://u:p@h/db', GRAPH_TOKEN: 'abc' });
    expect(s.GRAPH_BASE_URL).toBe('https://graph.microsoft.com/v1.0');
    expect(s.GRAPH_AUTH).toBe('token');
    expect(s.GRAPH_RU_PER_MINUTE).toBe(1250);
    expect(loadSettings({ DATABASE_URL: 'postgres://u:p@h/db' }).GRAPH_AUTH).toBe('default');
  });

  it('names every missing or bad setting at once', () => {
    let error: unknown;
    try {
      loadSettings({ GRAPH_BASE_URL: 'not a url', GRAPH_AUTH: 'clientSecret', GRAPH_RU_PER_MINUTE: '-3' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SettingsError);
    const message = (error as SettingsError).message;
    expect(message).toMatch(/DATABASE_URL is required/);
    expect(message).toMatch(/GRAPH_BASE_URL must be an absolute http\(s\) URL/);
    expect(message).toMatch(/GRAPH_RU_PER_MINUTE must be a positive integer, got "-3"/);
    expect(message).toMatch(/AZURE_TENANT_ID is required when GRAPH_AUTH=clientSecret/);
    expect(message).toMatch(/GRAPH_CLIENT_SECRET is required when GRAPH_AUTH=clientSecret/);
  });

  it('waits PENDING_CREATE_SETTLE_SECONDS (300 by default, 0 allowed) before creating a pending create again', () => {
    const base = { DATABASE_URL: 'postgres://u:p@h/db' };
    expect(loadSettings(base).PENDING_CREATE_SETTLE_SECONDS).toBe(300);
    expect(loadSettings({ ...base, PENDING_CREATE_SETTLE_SECONDS: '0' }).PENDING_CREATE_SETTLE_SECONDS).toBe(
      0,
    );
    expect(() => loadSettings({ ...base, PENDING_CREATE_SETTLE_SECONDS: '-1' })).toThrow(
      /PENDING_CREATE_SETTLE_SECONDS must be a whole number of 0 or more, got "-1"/,
    );
  });

  it('rejects a DATABASE_URL that is not a postgres URL', () => {
    expect(() => loadSettings({ DATABASE_URL: 'mysql://x' })).toThrow(
      /DATABASE_URL must start with postgres:\/\//,
    );
  });

  it('resolves named source connections from ARCORE_CONNECTION_<NAME>, never from tables', () => {
    const s = { DATABASE_URL: 'postgres://meta/db' };
    expect(resolveConnectionString('default', s, {})).toBe('postgres://meta/db');
    expect(resolveConnectionString('erp', s, { ARCORE_CONNECTION_ERP: 'postgres://erp/db' })).toBe(
      'postgres://erp/db',
    );
    expect(() => resolveConnectionString('erp', s, {})).toThrow(/ARCORE_CONNECTION_ERP is not set/);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliEnvironment, LocalSettingsError, readLocalSettingsValues } from '../../src/cli/localSettings';

describe('local.settings.json Values', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'arcore-cli-settings-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is empty when the file does not exist', () => {
    expect(readLocalSettingsValues(dir)).toEqual({});
  });

  it('reads Values as strings, and the environment wins over the file', () => {
    writeFileSync(
      join(dir, 'local.settings.json'),
      JSON.stringify({
        IsEncrypted: false,
        Values: { DATABASE_URL: 'postgres://file@h/db', GRAPH_RU_PER_MINUTE: 600, GRAPH_TOKEN: 'from-file' },
      }),
    );
    const env = cliEnvironment(dir, { GRAPH_TOKEN: 'from-env', PATH: '/bin' });
    expect(env.DATABASE_URL).toBe('postgres://file@h/db');
    expect(env.GRAPH_RU_PER_MINUTE).toBe('600');
    expect(env.GRAPH_TOKEN).toBe('from-env');
    expect(env.PATH).toBe('/bin');
  });

  it('names the file and the problem when it is not JSON', () => {
    writeFileSync(join(dir, 'local.settings.json'), '{ "Values": ');
    expect(() => readLocalSettingsValues(dir)).toThrow(LocalSettingsError);
    expect(() => readLocalSettingsValues(dir)).toThrow(/local\.settings\.json: is not valid JSON/);
  });

  it('rejects encrypted files and non-scalar values', () => {
    writeFileSync(join(dir, 'local.settings.json'), JSON.stringify({ IsEncrypted: true, Values: {} }));
    expect(() => readLocalSettingsValues(dir)).toThrow(/is encrypted/);
    writeFileSync(join(dir, 'local.settings.json'), JSON.stringify({ Values: { A: { nested: true } } }));
    expect(() => readLocalSettingsValues(dir)).toThrow(/Values\.A/);
  });
});

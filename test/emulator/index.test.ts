import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatorSetupError, startEmulator, writeEmulatorEnv } from '../../src/emulator';
import { CERT_FILE } from '../../src/emulator/certificate';

describe('startEmulator and writeEmulatorEnv', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'emu-env-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes emulator.env with GRAPH_BASE_URL, GRAPH_TOKEN, NODE_EXTRA_CA_CERTS, the sites, the control URL and user tokens', async () => {
    const running = await startEmulator({ stateDir: dir, users: ['carol'] });
    try {
      const envPath = await writeEmulatorEnv(dir, running);
      expect(envPath).toBe(join(dir, 'emulator.env'));
      const lines = (await readFile(envPath, 'utf8')).split('\n');
      expect(lines).toContain(`GRAPH_BASE_URL=${running.baseUrl}`);
      expect(lines).toContain(`GRAPH_TOKEN=${running.appToken}`);
      expect(lines).toContain(`NODE_EXTRA_CA_CERTS=${join(dir, CERT_FILE)}`);
      expect(lines).toContain(`GRAPH_CA_CERT_FILE=${join(dir, CERT_FILE)}`);
      expect(lines).toContain('EMULATOR_SITES=contoso.sharepoint.com:/sites/demo');
      expect(lines).toContain(`EMULATOR_CONTROL_URL=${running.origin}/_emulator`);
      expect(lines).toContain(`GRAPH_USER_TOKEN_CAROL=${running.userToken('carol')}`);
      expect(await readFile(join(dir, CERT_FILE), 'utf8')).toBe(running.caCert);
      expect(running.baseUrl).toBe(`${running.origin}/v1.0`);
    } finally {
      await running.stop();
    }
  });

  it('writes the certificate next to the env file when the emulator kept it in memory', async () => {
    const running = await startEmulator();
    try {
      await writeEmulatorEnv(dir, running);
      expect(await readFile(join(dir, CERT_FILE), 'utf8')).toBe(running.caCert);
    } finally {
      await running.stop();
    }
  });

  it('rejects invalid options with a clear EmulatorSetupError', async () => {
    await expect(startEmulator({ sites: ['not a site'] })).rejects.toThrow(EmulatorSetupError);
    await expect(startEmulator({ persist: true })).rejects.toThrow(/stateDir/);
    await expect(startEmulator({ users: ['app'] })).rejects.toThrow(/application identity/);
    await expect(startEmulator({ siteTimeZones: { x: 'Nowhere/City' } })).rejects.toThrow(
      /Unknown time zone/,
    );
    await expect(startEmulator({ port: -1 })).rejects.toThrow(/port/);
  });

  it('binds the requested port on 127.0.0.1 and stops idempotently', async () => {
    const first = await startEmulator();
    const port = Number(new URL(first.origin).port);
    await first.stop();
    const second = await startEmulator({ port });
    try {
      expect(second.origin).toBe(`https://127.0.0.1:${port}`);
    } finally {
      await second.stop();
      await second.stop();
    }
  });
});

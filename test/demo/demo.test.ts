import { chmodSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../cli/cliHarness';

/**
 * `npm start` runs `arcore-sync demo`: with nothing configured it starts embedded Postgres and the
 * emulator, syncs a 10,000-row table both ways and ends by comparing both sides field by field.
 */
describe('arcore-sync demo (npm start)', () => {
  let cwd: string;
  beforeAll(() => {
    cwd = tempDir('arcore-demo-test-');
    // mkdtemp makes 0700 directories; the demo's Postgres runs as the postgres user when we are root.
    chmodSync(cwd, 0o755);
  });
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('runs the whole story from an empty directory and reports both sides in agreement (I4)', async () => {
    const result = await runCli(['demo'], {}, cwd);
    if (result.code !== 0 || !result.stdout.includes('Both sides agree.'))
      throw new Error(`demo exited ${result.code}\n${result.stdout}\n${result.stderr}`);
    const out = result.stdout;
    expect(out).toContain(`files go to ${join(cwd, '.arcore/demo')}`);
    expect(out).toMatch(/Initial push +Postgres → SharePoint +push #1 +created 10,000/);
    expect(out).toMatch(/Alice's 3 edits via webhook +SharePoint → Postgres +pull #\d+.* +updated 3/);
    expect(out).toMatch(/Conflict on row 100 +both .* MERGE: MERGED/);
    expect(out).toMatch(/Delete row 200 +Postgres → SharePoint .*deleted 1/);
    expect(out).toMatch(/Delete item of row 300 +SharePoint → Postgres .*deleted 1/);
    expect(out).toMatch(/Quiet sync \(nothing left\) .* pull wrote nothing, push wrote nothing/);
    // 10,000 rows, minus one deleted on each side; six mapped fields each.
    expect(out).toMatch(/^\s+9998\s+9998\s+9998\s+59988\s+0\s+0$/m);
    expect(out).toContain('Both sides agree.');
    // Postgres is stopped and its files removed when the demo ends.
    expect(existsSync(join(cwd, '.arcore/demo/postgres'))).toBe(false);
  }, 240_000);
});

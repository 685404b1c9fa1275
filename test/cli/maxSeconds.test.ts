import type { RunningEmulator } from '../../src/emulator';
import { jsonOf, runCli, type CliEnv } from './cliHarness';
import { SITE, startLoadsFixture, type LoadsFixture } from './loadsFixture';

/** I16 on the command line: a run with a time budget stops cleanly and says so; the next one finishes. */
describe('arcore-sync push --max-seconds', () => {
  let emulator: RunningEmulator;
  let env: CliEnv;
  let fixture: LoadsFixture;

  beforeAll(async () => {
    fixture = await startLoadsFixture({
      rows: 60,
      pageSize: 10,
      // 120 units for the 60 rows: far more than the burst plus one second of refill at this budget.
      ruPerMinute: 600,
      tempPrefix: 'arcore-cli-max-seconds-',
      emulator: { throttling: { enabled: false }, notificationDelayMs: 0 },
    });
    ({ emulator, env } = fixture);
  }, 60_000);

  afterAll(() => fixture?.stop());

  it('refuses a time budget that is not a positive integer (exit 2, naming the option)', async () => {
    const result = await runCli(['push', 'loads', '--max-seconds', '0'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--max-seconds must be a positive integer, got "0"');
  });

  it('stops at the budget with "complete": false and its work kept; the next run finishes it', async () => {
    const first = await runCli(['push', 'loads', '--json', '--max-seconds', '1'], env);
    expect(first.code).toBe(0);
    const partial = jsonOf(first);
    expect(partial).toMatchObject({ status: 'SUCCEEDED', complete: false });
    expect(partial.created).toBeGreaterThan(0);
    expect(partial.created).toBeLessThan(60);
    const human = await runCli(['status', 'loads'], env);
    expect(human.stdout).toMatch(/unfinished push: 1 run, [\d,]+ rows done, [\d,]+ left/);
    expect(human.stdout).toMatch(/budget \(app .*\): 600 RU\/min shared by every worker/);
    const rest = await runCli(['push', 'loads', '--json'], env);
    expect(rest.code).toBe(0);
    const done = jsonOf(rest);
    expect(done).toMatchObject({ status: 'SUCCEEDED', complete: true });
    expect(Number(partial.created) + Number(done.created)).toBe(60);
    expect(emulator.control.listItems(emulator.control.getSiteId(SITE), 'Loads')).toHaveLength(60);
  }, 60_000);
});

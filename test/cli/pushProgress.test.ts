import type { RunningEmulator } from '../../src/emulator';
import { runCli, type CliEnv } from './cliHarness';
import { startLoadsFixture, type LoadsFixture } from './loadsFixture';

const ROWS = 120;

/**
 * Issue 18, progress that moves: one page of 120 rows is six `$batch` requests; paced to 1,200 RU/min
 * (a 100 RU burst, then 20 RU a second) they complete about two seconds apart, so the plain progress line
 * (one every two seconds) moves inside the page. One `$batch` is answered 429 to show a back-off.
 */
describe('arcore-sync push: progress per $batch, ETA in resource units, waits by reason, -v steps', () => {
  let emulator: RunningEmulator;
  let env: CliEnv;
  let fixture: LoadsFixture;

  beforeAll(async () => {
    fixture = await startLoadsFixture({
      rows: ROWS,
      pageSize: 500,
      ruPerMinute: 1200,
      tempPrefix: 'arcore-cli-progress-',
      emulator: { throttling: { enabled: false }, notificationDelayMs: 0, batchAmbiguous503Rate: 0 },
    });
    ({ emulator, env } = fixture);
  }, 60_000);

  afterAll(() => fixture?.stop());

  it('moves the line as batches complete, names RU and budget, splits pacing from 429 back-off; -v shows each step', async () => {
    emulator.control.injectFault({
      method: 'POST',
      pathPattern: '^/\\$batch$',
      count: 1,
      status: 429,
      retryAfterSeconds: 1,
    });
    const result = await runCli(['push', 'loads', '-v'], env);
    expect(result.code).toBe(0);
    const lines = result.stderr.split('\n');

    // The live line: row counts that grow inside the single page, before the page's own count of 120.
    const progress = lines
      .map((line) => /^push loads: (\d+)\/120 rows .*$/.exec(line))
      .filter((match): match is RegExpExecArray => match !== null);
    const counts = progress.map((match) => Number(match[1]));
    const insidePage = counts.filter((n) => n > 0 && n < ROWS);
    expect(insidePage.length).toBeGreaterThanOrEqual(2);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(counts[counts.length - 1]).toBe(ROWS);
    const moving = progress.find((match) => Number(match[1]) > 0 && Number(match[1]) < ROWS)![0];
    expect(moving).toMatch(
      /, \d+ rows\/s, ETA \S+ \([\d,]+ RU at 1,200 RU\/min\), paced \d+\.\ds, 429 back-off \d+\.\ds$/,
    );

    // -v: one line per page read, per $batch (size, RU, statuses, ms), per wait with its reason.
    const pageRows = lines
      .map((l) => /^push loads: page read: (\d+) rows in \d+ ms$/.exec(l))
      .filter((match) => match !== null)
      .map((match) => Number(match[1]));
    expect(pageRows.reduce((a, b) => a + b, 0)).toBe(ROWS);
    expect(pageRows.length).toBeLessThan(ROWS / 20);
    // The 429 was answered to the whole $batch and re-sent after its Retry-After: every batch reports 201s.
    const batches = lines.filter((l) => /^push loads: \$batch: /.test(l));
    expect(batches).toHaveLength(ROWS / 20);
    for (const line of batches)
      expect(line).toMatch(/^push loads: \$batch: 20 writes, 40 RU, 201×20, \d+ ms$/);
    expect(
      lines.some((l) => /^push loads: wait: \d+\.\ds pacing to the budget \(1,200 RU\/min\)$/.test(l)),
    ).toBe(true);
    expect(
      lines.some((l) => /^push loads: wait: \d+\.\ds 429 back-off \(Graph throttled this app\)$/.test(l)),
    ).toBe(true);

    // The summary keeps the two kinds of waiting apart, both non-zero here.
    const graphLine = result.stdout.split('\n').find((l) => l.trim().startsWith('Graph:'));
    expect(graphLine).toMatch(/, (\d+\.\d)s pacing to the budget, (\d+\.\d)s in 429 back-off$/);
    const [, paced, backOff] = /, (\d+\.\d)s pacing to the budget, (\d+\.\d)s in 429 back-off$/.exec(
      graphLine!,
    )!;
    expect(Number(paced)).toBeGreaterThan(0);
    expect(Number(backOff)).toBeGreaterThan(0);
  }, 60_000);
});

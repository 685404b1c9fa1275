import { PassThrough } from 'node:stream';
import type { RunSummary } from '../../src/core/engine/types';
import { attentionNote, cliLogger, formatRunSummary } from '../../src/cli/output';
import { createProgressReporter } from '../../src/cli/progress';

function summary(overrides: Partial<RunSummary>): RunSummary {
  return {
    runId: '7',
    definition: 'projects',
    runType: 'PUSH',
    status: 'SUCCEEDED',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1200,
    throttleWaitMs: 0,
    paceWaitMs: 0,
    complete: true,
    resumeAfter: null,
    graphRequests: 3,
    resourceUnits: 6,
    processed: 4,
    created: 1,
    updated: 1,
    deleted: 0,
    skipped: 1,
    conflicts: 0,
    failed: 1,
    moved: 0,
    unrouted: 0,
    parkedFailures: 2,
    openConflicts: 0,
    heldMoves: 0,
    error: null,
    ...overrides,
  };
}

describe('run summaries as printed', () => {
  it('a PARTIAL run tells the failures it parked from older parked ones', () => {
    expect(attentionNote(summary({ status: 'PARTIAL' }))).toBe(
      'attention: 1 failure parked this run, 1 older parked failure (arcore-sync failures projects); ' +
        'everything else in this run was applied',
    );
  });

  it('older parked failures alone leave the run SUCCEEDED and are named as older', () => {
    expect(attentionNote(summary({ status: 'SUCCEEDED', failed: 0, parkedFailures: 3 }))).toBe(
      'attention: 3 older parked failures (arcore-sync failures projects); the run succeeded',
    );
  });

  it('a FAILED run never says it succeeded and leaves its error to the failure message (printed once)', () => {
    const failed = summary({
      status: 'FAILED',
      error: 'cannot reach Microsoft Graph: GET https://g/x: refused',
    });
    const text = formatRunSummary(failed);
    expect(text).toContain('push projects: FAILED in 1.2s (run 7)');
    expect(text).toContain(
      'attention: 1 failure parked this run, 1 older parked failure (arcore-sync failures projects)',
    );
    expect(text).not.toContain('succeeded');
    expect(text).not.toContain('cannot reach Microsoft Graph');
  });

  it('the engine log line of a failed run is left out only where the command prints the failure itself', () => {
    const logged = (runFailuresPrinted: boolean): string => {
      const stream = new PassThrough();
      const chunks: string[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
      const log = cliLogger(
        createProgressReporter({ interactive: false, stream }),
        false,
        runFailuresPrinted,
      );
      log.error('projects: PUSH run 7 failed: boom', { runId: '7', errorKind: 'unreachable' });
      log.error('projects: something else broke');
      return chunks.join('');
    };
    // push, pull, sync: printed once by the command.
    expect(logged(true)).not.toContain('run 7 failed');
    expect(logged(true)).toContain('something else broke');
    // serve: nobody else reports the run, so its log line stays.
    expect(logged(false)).toContain('error: projects: PUSH run 7 failed: boom');
  });
});

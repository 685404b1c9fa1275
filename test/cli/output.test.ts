import type { RunSummary } from '../../src/core/engine/types';
import { attentionNote, formatRunSummary } from '../../src/cli/output';

function summary(overrides: Partial<RunSummary>): RunSummary {
  return {
    runId: '7',
    definition: 'projects',
    runType: 'PUSH',
    status: 'SUCCEEDED',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1200,
    throttleWaitMs: 0,
    graphRequests: 3,
    resourceUnits: 6,
    processed: 4,
    created: 1,
    updated: 1,
    deleted: 0,
    skipped: 1,
    conflicts: 0,
    failed: 1,
    parkedFailures: 2,
    openConflicts: 0,
    error: null,
    ...overrides,
  };
}

describe('run summaries as printed', () => {
  it('a run that finished with parked failures says it still succeeded', () => {
    expect(attentionNote(summary({ status: 'PARTIAL' }))).toBe(
      'attention: 2 failures parked (arcore-sync failures projects); the run still succeeded',
    );
  });

  it('a FAILED run never says it succeeded and leaves its error to the failure message (printed once)', () => {
    const failed = summary({
      status: 'FAILED',
      error: 'cannot reach Microsoft Graph: GET https://g/x: refused',
    });
    const text = formatRunSummary(failed);
    expect(text).toContain('push projects: FAILED in 1.2s (run 7)');
    expect(text).toContain('attention: 2 failures parked (arcore-sync failures projects)');
    expect(text).not.toContain('succeeded');
    expect(text).not.toContain('cannot reach Microsoft Graph');
  });
});

import { formatRunSummary } from '../../src/cli/output';
import { runOptions } from '../../src/cli/commands/runs';
import { idleSummary } from '../../src/core/engine/idle';
import { idlePullSummary } from '../../src/core/engine/idlePull';

describe('an idle push on the command line', () => {
  it('says it was idle, recorded no run and sent no Graph request', () => {
    const summary = idleSummary('projects', Date.now(), {
      idle: true,
      busy: [],
      parkedFailures: 0,
      openConflicts: 0,
      heldMoves: 0,
    });
    expect(summary).toMatchObject({ idle: true, runId: null, status: 'SUCCEEDED', graphRequests: 0 });
    expect(formatRunSummary(summary)).toMatch(
      /^push projects: idle, nothing to push \(checked in \d+ ms; no run recorded, no Graph request; --full runs it anyway\)$/,
    );
  });

  it('--full asks the engine for a full run; --import-existing-items for the items of a routed list it binds', () => {
    expect(runOptions({ full: true })).toEqual({ trigger: 'cli', full: true });
    expect(runOptions({ importExistingItems: true })).toEqual({ trigger: 'cli', importExistingItems: true });
    expect(runOptions({ maxSeconds: '5' })).toEqual({ trigger: 'cli', maxSeconds: 5 });
  });
});

describe('an idle pull on the command line', () => {
  it('says it was idle, recorded no run and counts its delta requests', () => {
    const summary = idlePullSummary('tickets', Date.now(), {
      idle: true,
      busy: [],
      parkedFailures: 1,
      openConflicts: 0,
      heldMoves: 0,
      graphRequests: 2,
      resourceUnits: 2,
    });
    expect(summary).toMatchObject({
      idle: true,
      runId: null,
      runType: 'PULL',
      status: 'SUCCEEDED',
      graphRequests: 2,
      resourceUnits: 2,
      parkedFailures: 1,
    });
    expect(formatRunSummary(summary)).toMatch(
      /^pull tickets: idle, nothing to pull \(checked in \d+ ms with 2 delta requests; no run recorded; --full runs it anyway\)$/,
    );
  });
});

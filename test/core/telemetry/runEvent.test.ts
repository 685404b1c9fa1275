import type { RunSummary } from '../../../src/core/engine/types';
import { runEventOf } from '../../../src/core/telemetry/telemetry';

const failed: RunSummary = {
  runId: '3',
  definition: 'orders',
  runType: 'PUSH',
  status: 'FAILED',
  startedAt: '',
  durationMs: 10,
  throttleWaitMs: 0,
  paceWaitMs: 0,
  complete: true,
  resumeAfter: null,
  graphRequests: 1,
  resourceUnits: 1,
  parkedFailures: 0,
  openConflicts: 0,
  heldMoves: 0,
  processed: 0,
  created: 0,
  updated: 0,
  deleted: 0,
  skipped: 0,
  conflicts: 0,
  failed: 0,
  moved: 0,
  unrouted: 0,
  error: 'cannot connect securely to Microsoft Graph: GET https://g/x: self-signed certificate',
  errorKind: 'tls',
  errorHint: 'set GRAPH_CA_CERT_FILE',
};

describe('ArcoreRun telemetry event', () => {
  it('carries the failure kind of a FAILED run, so dashboards group failures by kind', () => {
    expect(runEventOf(failed).properties).toMatchObject({ status: 'FAILED', errorKind: 'tls' });
    expect(
      runEventOf({ ...failed, status: 'SUCCEEDED', error: null, errorKind: undefined }).properties,
    ).not.toHaveProperty('errorKind');
  });
});

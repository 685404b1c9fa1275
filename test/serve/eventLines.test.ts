import { formatEvent, notificationEvents, runEventTracker, type HostEvent } from '../../src/functions/events';
import type { RunSummary } from '../../src/core/engine/types';

const summary: RunSummary = {
  runId: '42',
  definition: 'projects',
  runType: 'PUSH',
  status: 'SUCCEEDED',
  startedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 1234,
  throttleWaitMs: 0,
  paceWaitMs: 0,
  graphRequests: 3,
  resourceUnits: 6,
  complete: true,
  resumeAfter: null,
  processed: 2,
  created: 2,
  updated: 0,
  deleted: 0,
  skipped: 0,
  conflicts: 0,
  failed: 0,
  moved: 0,
  unrouted: 0,
  parkedFailures: 0,
  openConflicts: 0,
  heldMoves: 0,
  error: null,
};

describe('event lines (serve --log-format, Functions logs)', () => {
  it('carries the trigger of a run from its start line to its end line', () => {
    const seen: HostEvent[] = [];
    const runs = runEventTracker((e) => seen.push(e));
    runs.started({
      runId: '42',
      definition: 'projects',
      runType: 'PUSH',
      trigger: 'timer',
      startedAt: summary.startedAt,
    });
    runs.finished(summary);
    expect(seen.map((e) => e.event)).toEqual(['run.start', 'run.end']);
    expect(seen[1]).toMatchObject({ trigger: 'timer', runId: '42', status: 'SUCCEEDED', resourceUnits: 6 });
  });

  it('writes text as TIMESTAMP EVENT key=value, quoting values with spaces and leaving out nulls', () => {
    const [line] = notificationEvents(
      {
        accepted: 1,
        requested: [],
        enqueue: [],
        ignored: [
          { index: 0, subscriptionId: 'sub-1', definition: 'projects', reason: 'subscription was removed' },
        ],
      },
      new Date('2026-01-01T00:00:00.000Z'),
    ).map((e) => formatEvent(e, 'text'));
    expect(line).toBe(
      '2026-01-01T00:00:00.000Z notification subscriptionId=sub-1 definition=projects outcome=rejected ' +
        'reason="subscription was removed"',
    );
  });

  it('orders notification lines as Graph sent the entries', () => {
    const events = notificationEvents({
      accepted: 2,
      requested: [{ index: 1, subscriptionId: 'b', definition: 'orders' }],
      enqueue: [],
      ignored: [
        { index: 2, reason: 'malformed notification: x' },
        { index: 0, subscriptionId: 'a', reason: 'unknown subscription' },
      ],
    });
    expect(events.map((e) => [e.subscriptionId, e.outcome])).toEqual([
      ['a', 'rejected'],
      ['b', 'accepted'],
      [null, 'rejected'],
    ]);
    expect(JSON.parse(formatEvent(events[1], 'json'))).toMatchObject({ definition: 'orders' });
  });
});

import {
  DefinitionBusyError,
  definitionStatus,
  discardFailures,
  getConflict,
  listConflicts,
  listFailures,
  listRuns,
  recordPoisonedRun,
  resetCursor,
  retryFailures,
  UnknownConflictError,
  UnknownFailureError,
} from '../../../src/core/ops';
import { listAllRuns } from '../../../src/core/ops/runs';
import { statusBlock } from '../../../src/cli/commands/ops';
import { tryLockDefinition } from '../../../src/core/store/locks';
import { UnknownDefinitionError } from '../../../src/core/store/definitions';
import type { TestDatabase } from '../../support/db';
import { defineStored, metaDatabase, storeSubscription } from '../../functions/support/metaFixtures';

let db: TestDatabase;
let ordersId: string;
let emptyId: string;

async function addRun(definitionId: string, runType: string, status: string, startedSecondsAgo: number) {
  const { rows } = await db.pool.query<{ id: string }>(
    `INSERT INTO arcore.sync_runs (definition_id, run_type, trigger, status, started_at, finished_at, processed, created,
       throttle_wait_ms, resource_units, error)
     VALUES ($1, $2, 'test', $3, now() - make_interval(secs => $4), now() - make_interval(secs => $4 - 2), 7, 3,
       1500, 14, CASE WHEN $3 = 'FAILED' THEN 'boom' END)
     RETURNING id::text AS id`,
    [definitionId, runType, status, startedSecondsAgo],
  );
  return rows[0].id;
}

async function addFailure(definitionId: string, key: string, status = 'PARKED') {
  const { rows } = await db.pool.query<{ id: string }>(
    `INSERT INTO arcore.sync_failures (definition_id, direction, item_key, last_error, status, next_attempt_at)
     VALUES ($1, 'PUSH', $2, 'write failed', $3, now() + interval '1 hour') RETURNING id::text AS id`,
    [definitionId, key, status],
  );
  return rows[0].id;
}

async function addConflict(definitionId: string, key: string, status: 'OPEN' | 'RESOLVED') {
  const { rows } = await db.pool.query<{ id: string }>(
    `INSERT INTO arcore.sync_conflicts (definition_id, source_identity_hash, source_identity, sp_item_id, detected_by,
       policy, base_values, postgres_values, sharepoint_values, outcome, status)
     VALUES ($1, $2, '{"id": 1}', '5', 'PULL', 'MANUAL', '{"Title":"a"}', '{"Title":"b"}', '{"Title":"c"}', 'PARKED', $3)
     RETURNING id::text AS id`,
    [definitionId, key, status],
  );
  return rows[0].id;
}

beforeAll(async () => {
  db = await metaDatabase();
  ordersId = await defineStored(db.pool, 'orders', { conflictPolicy: 'MANUAL', schedule: '0 0 * * * *' });
  emptyId = await defineStored(db.pool, 'empty', { enabled: false });
  await db.pool.query(
    `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, value) VALUES
       ($1, 'SOURCE', 'TIMESTAMP', '{"ts":"2024-01-01T00:00:00Z","key":[1]}'),
       ($1, 'TARGET', 'DELTA_TOKEN', 'https://graph/delta?token=abc')`,
    [ordersId],
  );
  for (const [i, hash] of ['h1', 'h2', 'h3'].entries()) {
    await db.pool.query(
      `INSERT INTO arcore.sync_ledger (definition_id, source_identity_hash, source_identity, source_key_strategy,
         source_connection, sp_list_id, sp_item_id) VALUES ($1, $2, '{}', 'PRIMARY_KEY', 'default', 'list', $3)`,
      [ordersId, hash, String(i + 1)],
    );
  }
  // A create not yet confirmed is not a synced pair: counted in pendingCreates, not in ledgerSize.
  await db.pool.query(
    `INSERT INTO arcore.sync_ledger (definition_id, source_identity_hash, source_identity, source_key_strategy,
       source_connection, sp_list_id, state) VALUES ($1, 'h4', '{}', 'PRIMARY_KEY', 'default', 'list', 'PENDING_CREATE')`,
    [ordersId],
  );
  await addRun(ordersId, 'PUSH', 'SUCCEEDED', 300);
  await addRun(ordersId, 'PUSH', 'FAILED', 100);
  await addRun(ordersId, 'INGRESS', 'SUCCEEDED', 50); // a pull recorded before migration 008
  await addRun(ordersId, 'PULL', 'SKIPPED', 10);
  await addFailure(ordersId, 'k1');
  await addFailure(ordersId, 'k2');
  await addFailure(ordersId, 'k0', 'DISCARDED');
  await addConflict(ordersId, 'c1', 'OPEN');
  await addConflict(ordersId, 'c2', 'RESOLVED');
  await storeSubscription(db.pool, { subscriptionId: 'sub-1', definitionId: ordersId, clientState: 'x' });
  await db.pool.query(`INSERT INTO arcore.pending_pulls (definition_id, reason) VALUES ($1, 'test')`, [
    ordersId,
  ]);
});

afterAll(() => db.drop());

describe('definitionStatus', () => {
  it('reports cursors, last runs, ledger size and what waits for an operator', async () => {
    const [orders] = await definitionStatus(db.pool, 'orders');
    expect(orders).toMatchObject({
      id: ordersId,
      name: 'orders',
      enabled: true,
      pullEnabled: true,
      conflictPolicy: 'MANUAL',
      schedule: '0 0 * * * *',
      ledgerSize: 3,
      pendingCreates: 1,
      parkedFailures: 2,
      openConflicts: 1,
      pendingPull: true,
      subscription: { id: 'sub-1', state: 'ACTIVE' },
    });
    expect(orders.cursors.source?.value).toContain('2024-01-01');
    expect(orders.cursors.target?.linkPresent).toBe(true);
    expect(JSON.stringify(orders)).not.toContain('token=abc');
    expect(orders.lastPush).toMatchObject({
      runType: 'PUSH',
      status: 'FAILED',
      error: 'boom',
      durationMs: 2000,
    });
    // A SKIPPED run is not "the last pull": it did nothing.
    expect(orders.lastPull).toMatchObject({ runType: 'PULL', status: 'SUCCEEDED', throttleWaitMs: 1500 });
  });

  it('is not healthy when its last push failed or rows wait parked, and says why with the next step', async () => {
    const [orders] = await definitionStatus(db.pool, 'orders');
    // No replication slot (a TIMESTAMP definition): only its runs and parked rows decide.
    expect(orders.slot).toBeNull();
    expect(orders.healthy).toBe(false);
    expect(orders.healthIssues).toEqual([
      expect.stringMatching(/^last push FAILED \(run \d+\): boom; next step: arcore-sync runs orders/),
      expect.stringMatching(/^2 parked failures; next step: arcore-sync failures orders/),
      expect.stringMatching(/^1 open conflict; next step: arcore-sync conflicts orders/),
    ]);
    // `arcore-sync status` says so on the definition's first line and lists why.
    const printed = statusBlock(orders);
    expect(printed.split('\n')[0]).toMatch(/, UNHEALTHY$/);
    expect(printed).toContain('\n  UNHEALTHY because:\n    - last push FAILED (run ');
    // A disabled definition with nothing waiting and no run is healthy (paused is not a problem).
    const [empty] = await definitionStatus(db.pool, 'empty');
    expect(empty).toMatchObject({ healthy: true, healthIssues: [] });
  });

  it('lists every definition, with empty ones reported as such', async () => {
    const all = await definitionStatus(db.pool);
    expect(all.map((d) => d.name)).toEqual(['empty', 'orders']);
    expect(all[0]).toMatchObject({
      id: emptyId,
      enabled: false,
      cursors: { source: null, target: null },
      lastPush: null,
      lastPull: null,
      ledgerSize: 0,
      subscription: null,
    });
  });

  it('throws UnknownDefinitionError for an unknown name', async () => {
    await expect(definitionStatus(db.pool, 'nope')).rejects.toBeInstanceOf(UnknownDefinitionError);
  });
});

describe('runs', () => {
  it('lists the newest runs first, bounded by the limit', async () => {
    const runs = await listRuns(db.pool, 'orders', 2);
    expect(runs.map((r) => [r.runType, r.status])).toEqual([
      ['PULL', 'SKIPPED'],
      ['PULL', 'SUCCEEDED'],
    ]);
    expect(await listRuns(db.pool, 'orders', 100)).toHaveLength(4);
    await expect(listRuns(db.pool, 'nope', 1)).rejects.toBeInstanceOf(UnknownDefinitionError);
  });

  it('shows pulls recorded as INGRESS (before migration 008) as PULL, and finds them by PULL', async () => {
    const pulls = await listAllRuns(db.pool, { definition: 'orders', runType: 'PULL' });
    expect(pulls.map((r) => [r.runType, r.status])).toEqual([
      ['PULL', 'SKIPPED'],
      ['PULL', 'SUCCEEDED'],
    ]);
    const stored = await db.pool.query<{ run_type: string }>(
      `SELECT run_type FROM arcore.sync_runs WHERE run_type IN ('PULL', 'INGRESS') ORDER BY id`,
    );
    expect(stored.rows.map((r) => r.run_type)).toEqual(['INGRESS', 'PULL']);
  });

  it('records a poisoned message as a FAILED run', async () => {
    const run = await recordPoisonedRun(db.pool, emptyId, 'PUSH', 'moved to the poison queue');
    expect(run).toMatchObject({
      definition: 'empty',
      status: 'FAILED',
      trigger: 'queue',
      error: 'moved to the poison queue',
    });
    expect((await listRuns(db.pool, 'empty', 5))[0].runId).toBe(run.runId);
  });
});

describe('conflicts', () => {
  it('lists conflicts, optionally by status, with both versions and the base', async () => {
    const all = await listConflicts(db.pool, 'orders');
    expect(all).toHaveLength(2);
    const open = await listConflicts(db.pool, 'orders', 'OPEN');
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({
      status: 'OPEN',
      baseValues: { Title: 'a' },
      postgresValues: { Title: 'b' },
      sharepointValues: { Title: 'c' },
    });
    expect(await getConflict(db.pool, open[0].conflictId)).toEqual(open[0]);
  });

  it('throws typed errors for unknown definitions and conflict ids', async () => {
    await expect(listConflicts(db.pool, 'nope')).rejects.toBeInstanceOf(UnknownDefinitionError);
    await expect(getConflict(db.pool, '999999')).rejects.toBeInstanceOf(UnknownConflictError);
    await expect(getConflict(db.pool, 'abc')).rejects.toBeInstanceOf(UnknownConflictError);
  });
});

describe('I5c parked failures: retry and discard', () => {
  it('lists parked failures by default and all on request', async () => {
    expect((await listFailures(db.pool, 'orders')).map((f) => f.itemKey)).toEqual(['k1', 'k2']);
    expect(await listFailures(db.pool, 'orders', 'ALL')).toHaveLength(3);
  });

  it('makes selected failures due now, leaving the others alone', async () => {
    const [k1, k2] = await listFailures(db.pool, 'orders');
    const result = await retryFailures(db.pool, 'orders', [k1.failureId]);
    expect(result.failureIds).toEqual([k1.failureId]);
    const after = await listFailures(db.pool, 'orders');
    expect(new Date(after[0].nextAttemptAt).getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    expect(after[1].nextAttemptAt).toBe(k2.nextAttemptAt);
  });

  it('changes nothing when an id is not a parked failure of the definition', async () => {
    const [k1] = await listFailures(db.pool, 'orders');
    const discarded = (await listFailures(db.pool, 'orders', 'DISCARDED'))[0];
    await expect(
      discardFailures(db.pool, 'orders', [k1.failureId, discarded.failureId]),
    ).rejects.toBeInstanceOf(UnknownFailureError);
    await expect(discardFailures(db.pool, 'orders', ['x'])).rejects.toBeInstanceOf(UnknownFailureError);
    expect(await listFailures(db.pool, 'orders')).toHaveLength(2);
  });

  it('discards every parked failure when no ids are given', async () => {
    const id = await addFailure(emptyId, 'e1');
    const result = await discardFailures(db.pool, 'empty');
    expect(result.failureIds).toEqual([id]);
    expect(await listFailures(db.pool, 'empty')).toEqual([]);
    expect((await listFailures(db.pool, 'empty', 'DISCARDED'))[0].resolvedAt).not.toBeNull();
  });
});

describe('resetCursor (the seed’s “Reset Cursor”)', () => {
  it('removes the chosen cursor and keeps the ledger', async () => {
    expect(await resetCursor(db.pool, 'orders', 'target')).toEqual({
      definition: 'orders',
      removed: ['TARGET'],
    });
    const [status] = await definitionStatus(db.pool, 'orders');
    expect(status.cursors.target).toBeNull();
    expect(status.cursors.source).not.toBeNull();
    expect(status.ledgerSize).toBe(3);
    expect(await resetCursor(db.pool, 'orders', 'all')).toEqual({
      definition: 'orders',
      removed: ['SOURCE'],
    });
  });

  it('refuses while a run holds the definition lock (I11)', async () => {
    const lock = await tryLockDefinition(db.pool, ordersId);
    try {
      await expect(resetCursor(db.pool, 'orders', 'all')).rejects.toBeInstanceOf(DefinitionBusyError);
    } finally {
      await lock?.release();
    }
    await expect(resetCursor(db.pool, 'nope', 'all')).rejects.toBeInstanceOf(UnknownDefinitionError);
  });
});

import {
  claimPendingPull,
  owePulls,
  releasePulls,
  requestPulls,
  STALE_PENDING_PULL_SECONDS,
  takeOwedPulls,
} from '../../../src/core/subscriptions';
import type { TestDatabase } from '../../support/db';
import { defineStored, metaDatabase } from '../../functions/support/metaFixtures';

let db: TestDatabase;
let ids: string[];
let pausedId: string;
const want = (definitionId: string) => ({ definitionId, definition: `def-${definitionId}`, reason: 'test' });
const rows = async () =>
  (
    await db.pool.query<{ id: string; message_sent: boolean }>(
      'SELECT definition_id::text AS id, message_sent FROM arcore.pending_pulls ORDER BY definition_id',
    )
  ).rows;

beforeAll(async () => {
  db = await metaDatabase();
  ids = [];
  for (const name of ['a', 'b', 'c', 'd']) ids.push(await defineStored(db.pool, name));
  pausedId = await defineStored(db.pool, 'paused', { pull: { enabled: false } });
});

afterAll(() => db?.drop());

beforeEach(() => db.pool.query('DELETE FROM arcore.pending_pulls'));

describe('I11 pending pulls: a row never claims a message that was not sent', () => {
  it('requestPulls arms all or none, and answers each definition once', async () => {
    const armed = await requestPulls(db.pool, [want(ids[1]), want(ids[0]), want(ids[1])]);
    expect(armed.map((p) => p.definitionId)).toEqual([ids[1], ids[0]]);
    expect(await requestPulls(db.pool, [want(ids[0]), want(ids[2])])).toEqual([
      { definitionId: ids[2], definition: `def-${ids[2]}` },
    ]);
    // A definition id that names nothing fails the statement: no row of it is armed.
    await expect(requestPulls(db.pool, [want(ids[3]), want('999999')])).rejects.toThrow();
    expect((await rows()).map((r) => r.id)).toEqual([ids[0], ids[1], ids[2]]);
  });

  it('two instances arming overlapping sets at once send each pull exactly once, without deadlock', async () => {
    const forward = ids.map(want);
    const backward = [...ids].reverse().map(want);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => requestPulls(db.pool, i % 2 ? forward : backward)),
    );
    expect(
      results
        .flat()
        .map((p) => p.definitionId)
        .sort(),
    ).toEqual([...ids].sort());
  });

  it('an owed pull is sent by the next request, which a row with its message on its way is not', async () => {
    await requestPulls(db.pool, [want(ids[0])]);
    await owePulls(db.pool, [want(ids[0]), want(ids[1])]);
    // The sent row stays sent: its pull has not started, so it runs after whatever owed the new one.
    expect(await rows()).toEqual([
      { id: ids[0], message_sent: true },
      { id: ids[1], message_sent: false },
    ]);
    const armed = await requestPulls(db.pool, [want(ids[0]), want(ids[1])]);
    expect(armed.map((p) => p.definitionId)).toEqual([ids[1]]);
    expect((await rows()).every((r) => r.message_sent)).toBe(true);
  });

  it('released pulls are owed again; takeOwedPulls sends owed and stale ones of pull-enabled definitions, once', async () => {
    await requestPulls(db.pool, [want(ids[0]), want(ids[1]), want(ids[2]), want(pausedId)]);
    await releasePulls(db.pool, [ids[0], pausedId]);
    await db.pool.query(
      `UPDATE arcore.pending_pulls SET requested_at = now() - make_interval(secs => $1 + 1) WHERE definition_id = $2`,
      [STALE_PENDING_PULL_SECONDS, ids[1]],
    );
    const taken = await Promise.all([takeOwedPulls(db.pool), takeOwedPulls(db.pool)]);
    expect(
      taken
        .flat()
        .map((p) => p.definition)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(await takeOwedPulls(db.pool)).toEqual([]);
    // A new host's queue takes every pending pull of a pull-enabled definition.
    expect((await takeOwedPulls(db.pool, { all: true })).map((p) => p.definition)).toEqual(['a', 'b', 'c']);
    // The paused definition's pull stays owed until its pull is enabled again.
    expect((await rows()).find((r) => r.id === pausedId)).toEqual({ id: pausedId, message_sent: false });
    expect(await claimPendingPull(db.pool, ids[0])).toBe(true);
  });
});

import { statusBlock } from '../../../../src/cli/commands/ops';
import { formatRunSummary } from '../../../../src/cli/output';
import { runPull } from '../../../../src/core/engine/pull';
import { discardFailures, listFailures } from '../../../../src/core/ops/failures';
import { HeldMoveNotDiscardedError } from '../../../../src/core/ops/errors';
import { definitionStatus } from '../../../../src/core/ops/status';
import { runPush } from '../../../../src/core/engine/push';
import { installCursorTrigger } from '../../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';
import { itemsWithKey, ledgerPair, moveStoppedAfterCreate, spEdit } from '../../../support/routed';

/**
 * Moves in flight (docs/design.md): a move whose create landed, held because both items were edited while it
 * waited (the old item's pull-only field, pulled; the new item's title). The row's park tells the user to delete
 * the item whose edits they do not want. The user keeps the new item and deletes the old one; the list's webhook
 * makes a pull run before the next push (the ordinary order). The pull must not take that delete for a delete of
 * the row, and the next push must finish the move onto the item the user kept. While held, the row counts as a
 * held move (not a parked failure) in the run's summary and in `status`, with both items and the next step.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

it('deleting the old item of a held move, as its park says, keeps the row and finishes the move', async () => {
  await h.db.pool.query(`CREATE TABLE hm (
    id integer PRIMARY KEY, title text, status text, notes text, updated_at timestamptz NOT NULL DEFAULT now())`);
  await installCursorTrigger(h.db.pool, 'public', 'hm', 'updated_at');
  await h.define({
    name: 'hm',
    source: {
      table: 'hm',
      key: ['id'],
      cursor: { type: 'TIMESTAMP', column: 'updated_at' },
      overlapSeconds: 0,
    },
    target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: 'HmOpen' }, { list: 'HmClosed' }] },
    fields: [
      { source: 'title', target: 'Title' },
      { source: 'status', target: 'Status' },
      { source: 'notes', target: 'Notes', direction: 'PULL_ONLY' },
    ],
  });
  const push = () => runPush(h.ctx, 'hm', { trigger: 'test' });
  const pull = () => runPull(h.ctx, 'hm', { trigger: 'test' });
  await h.db.pool.query("INSERT INTO hm (id, title, status) VALUES (1, 't', 'OPEN')");
  expect(await push()).toMatchObject({ created: 1 });
  await pull();
  const { hash, definitionId, itemId: oldItem } = await ledgerPair(h, 'hm');

  // Closed: the move's create lands, the old item's delete is refused, and the run is killed.
  await h.db.pool.query("UPDATE hm SET status = 'CLOSED' WHERE id = 1");
  const newItem = await moveStoppedAfterCreate(h, push, { definitionId, hash }, 'HmOpen', 'HmClosed');

  // Both items edited while the move waits: the old one's notes (pulled), the new one's title.
  await spEdit(h, 'HmOpen', oldItem, { Notes: 'typed on the old item' });
  await pull();
  await spEdit(h, 'HmClosed', newItem, { Title: 'typed in the new item' });
  // Held for the user: counted as a held move, not a parked failure, in the run, `status` and its next step.
  const holding = await push();
  expect(holding).toMatchObject({ heldMoves: 1, parkedFailures: 0, failed: 0 });
  expect(formatRunSummary(holding)).toContain(
    'attention: 1 move held for you: both items of a row moving between lists were edited in SharePoint; ' +
      'delete the one whose edits you do not want, then push (arcore-sync status hm names both items); the run succeeded',
  );
  const [held] = await definitionStatus(h.ctx.meta, 'hm');
  expect(held).toMatchObject({
    heldMoves: 1,
    parkedFailures: 0,
    heldMoveAdvice: {
      rows: [
        {
          sourceIdentity: { id: 1 },
          reason: expect.stringMatching(
            new RegExp(
              `item ${oldItem} in list "HmOpen" and item ${newItem} in list "HmClosed".*were both edited`,
            ),
          ),
        },
      ],
      nextStep: expect.stringContaining('then run "arcore-sync push hm"'),
    },
  });
  expect((await listFailures(h.ctx.meta, 'hm')).map((f) => [f.direction, f.heldMove])).toEqual([
    ['PUSH', true],
  ]);
  const text = statusBlock(held);
  expect(text).toContain('; parked failures: 0; held moves: 1; open conflicts: 0;');
  expect(text).toMatch(/^ {2}held moves: 1 row moving between lists waits for you \(not failures/m);
  expect(text).toMatch(/^ {4}row \{"id":1\} \(failure \d+, since \S+\): item \d+ in list "HmOpen" and item/m);
  expect(text).toMatch(/^ {4}next step: in SharePoint, delete the item whose edits you do not want/m);

  // A held move is not a failure: `failures --discard` keeps it, and naming it is refused with the step that releases
  // it (before, it was discarded, and the next push held the row again as a new park).
  const [heldFailure] = await listFailures(h.ctx.meta, 'hm');
  await expect(discardFailures(h.ctx.meta, 'hm', [heldFailure.failureId])).rejects.toThrow(
    HeldMoveNotDiscardedError,
  );
  await expect(discardFailures(h.ctx.meta, 'hm', [heldFailure.failureId])).rejects.toThrow(
    `id ${heldFailure.failureId} is a held move, not a failure: nothing was discarded`,
  );
  expect(await discardFailures(h.ctx.meta, 'hm')).toEqual({
    definition: 'hm',
    failureIds: [],
    heldMovesKept: {
      failureIds: [heldFailure.failureId],
      nextStep: expect.stringContaining('then run "arcore-sync push hm"'),
    },
  });
  expect((await listFailures(h.ctx.meta, 'hm')).map((f) => [f.failureId, f.status])).toEqual([
    [heldFailure.failureId, 'PARKED'],
  ]);

  // The user keeps the new item: deletes the old one. The webhook's pull runs first, then the push.
  expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/HmOpen/items/${oldItem}`)).status).toBe(204);
  await pull();
  expect(await push()).toMatchObject({ moved: 1, heldMoves: 0 });
  await pull();
  expect((await definitionStatus(h.ctx.meta, 'hm'))[0]).toMatchObject({
    heldMoves: 0,
    heldMoveAdvice: null,
    parkedFailures: 0,
  });

  expect({
    rows: (await h.db.pool.query('SELECT id, title, status FROM hm')).rows,
    items: (await itemsWithKey(h, ['HmOpen', 'HmClosed'], hash)).map((i) => [i.list, i.id, i.fields.Title]),
    moves: Number((await h.db.pool.query('SELECT count(*) AS n FROM arcore.sync_moves')).rows[0].n),
  }).toEqual({
    rows: [{ id: 1, title: 'typed in the new item', status: 'CLOSED' }],
    items: [['HmClosed', newItem, 'typed in the new item']],
    moves: 0,
  });
});

import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { tombstoneTableName } from '../../../../src/core/source/postgres/tombstones';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { defineProjects, pushedTwoProjects } from '../../../support/projects';

/** The push delete policy (docs/design.md, I8): one harness for the file's cases. Found by review. */
describe('I8 push deletes (docs/design.md, I8)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  /**
   * Under deletes.push SOFT the push flags the item of a deleted row with an If-Match update (push/deletes.ts). When
   * that update meets a 412 (the item changed in SharePoint since the last sync), the settle (push/conflicts.ts
   * settleDeleteConflict) still applies the push delete policy: the item is flagged, never hard-deleted (I8). An
   * eTag moved by an unmapped column is no conflict. Found by review.
   */
  describe('I8 a SOFT or IGNORE push delete meeting an edited item keeps it (docs/design.md, I8)', () => {
    it('keeps the item and flags it, whatever changed in SharePoint', async () => {
      const name = 'rv_softc';
      await pushedTwoProjects(h, name, {
        definition: { deletes: { push: 'SOFT', pushSoftColumn: 'ArcoreDeleted' } as never },
      });
      const push = () => runPush(h.ctx, name, { trigger: 'test' });
      await runPull(h.ctx, name, { trigger: 'test' });

      // Someone works on the item in SharePoint (here: a mapped field), and the row is deleted in Postgres.
      const item = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
      const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
        Budget: 15,
      });
      expect(res.status).toBe(200);
      await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
      const run = await push();

      const after = (await h.items(name)).find((i) => i.id === item.id);
      // SOFT never deletes an item: it is kept, flagged, with its SharePoint edit; the conflict is recorded.
      expect({
        status: run.status,
        conflicts: run.conflicts,
        kept: after !== undefined,
        flag: after?.fields.ArcoreDeleted,
        budget: after?.fields.Budget,
      }).toEqual({
        status: 'SUCCEEDED',
        conflicts: 1,
        kept: true,
        flag: true,
        budget: 15,
      });
    });

    it('keeps the item when only its eTag moved (an edit of a column the definition does not map)', async () => {
      const name = 'rv_softu';
      await defineProjects(h, name, {
        definition: {
          fields: [{ source: 'name', target: 'Title' }],
          deletes: { push: 'SOFT', pushSoftColumn: 'ArcoreDeleted' } as never,
        },
      });
      await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
      const push = () => runPush(h.ctx, name, { trigger: 'test' });
      expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
      const item = (await h.items(name))[0];
      // A SharePoint user fills in a column only SharePoint has (not mapped: nothing to sync).
      const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
        ArcoreDeleted: false,
      });
      expect(res.status).toBe(200);
      await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
      const run = await push();
      const after = (await h.items(name)).find((i) => i.id === item.id);
      const recorded = Number(
        (
          await h.db.pool.query(
            `SELECT count(*) AS n FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
              WHERE d.name = $1`,
            [name],
          )
        ).rows[0].n,
      );
      expect({
        status: run.status,
        conflicts: run.conflicts,
        deleted: run.deleted,
        recorded,
        kept: after !== undefined,
        flag: after?.fields.ArcoreDeleted,
      }).toEqual({
        status: 'SUCCEEDED',
        conflicts: 0,
        deleted: 1,
        recorded: 0,
        kept: true,
        flag: true,
      });
    });
  });

  /**
   * A Postgres delete found by its tombstone whose If-Match delete meets a 412 is settled by settleDeleteConflict
   * (push/conflicts.ts). When that settle's own delete fails too, the entry is parked and its tombstone kept; the next
   * push's retry of the parked row finds it gone and deletes its item (push.ts): the delete stays owed until it
   * applies (I8, I5c). Found by review.
   */
  describe('I8 a delete found by its tombstone whose retry after a 412 fails stays owed (docs/design.md, I8, I5c)', () => {
    it('is retried until the item is deleted', async () => {
      const name = 'rv_delc';
      await pushedTwoProjects(h, name, { tombstones: true });
      const push = () => runPush(h.ctx, name, { trigger: 'test' });

      await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
      // The item keeps changing in SharePoint while the push deletes it: the If-Match delete and the settle's
      // delete after reading the item both meet a 412 (as SharePoint answers for an item edited meanwhile).
      h.emulator.control.injectFault({ method: 'DELETE', count: 2, status: 412 });
      const first = await push();
      expect(first.status).toBe('PARTIAL'); // the delete failed and was parked
      const second = await push();
      const third = await push();

      const titles = (await h.items(name)).map((i) => i.fields.Title).sort();
      const tombstones = Number(
        (await h.db.pool.query(`SELECT count(*) AS n FROM ${tombstoneTableName(name)}`)).rows[0].n,
      );
      const parked = Number(
        (await h.db.pool.query(`SELECT count(*) AS n FROM arcore.sync_failures WHERE status = 'PARKED'`))
          .rows[0].n,
      );
      // The row is gone, so a later push deletes its item; nothing stays owed after that.
      expect({ titles, deletedLater: second.deleted + third.deleted, tombstones, parked }).toEqual({
        titles: ['two'],
        deletedLater: 1,
        tombstones: 0,
        parked: 0,
      });
    });
  });

  /**
   * Under deletes.push SOFT or IGNORE a row deleted in Postgres leaves its item, and the ledger entry becomes ORPHANED
   * (push/deletes.ts). A row inserted again with the same key revives the pair (push/rows.ts): the push clears the
   * soft-delete flag (SOFT) and the entry is SYNCED again even when its values are unchanged, so the pull follows the
   * item again, its edits and its delete (I8, I3). Found by review.
   */
  describe('I8 a row inserted again after a SOFT or IGNORE push delete revives its pair (docs/design.md, I8, I3)', () => {
    async function setUp(name: string, deletes: Record<string, unknown>, overlapSeconds?: number) {
      await pushedTwoProjects(h, name, {
        definition: { deletes: deletes as never },
        source: overlapSeconds === undefined ? {} : { overlapSeconds },
      });
      const push = () => runPush(h.ctx, name, { trigger: 'test' });
      const pull = () => runPull(h.ctx, name, { trigger: 'test' });
      await pull();
      return { push, pull };
    }

    it('SOFT: the item of a row inserted again loses its soft-delete flag', async () => {
      const name = 'rv_soft';
      const { push } = await setUp(name, { push: 'SOFT', pushSoftColumn: 'ArcoreDeleted' });
      await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
      expect(await push()).toMatchObject({ status: 'SUCCEEDED', deleted: 1 });
      expect((await h.items(name)).find((i) => i.fields.Title === 'one')?.fields.ArcoreDeleted).toBe(true);

      // The row comes back (restored, re-imported) with new values.
      await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one again', 12)`);
      const back = await push();
      expect(back).toMatchObject({ status: 'SUCCEEDED' });
      const item = (await h.items(name)).find((i) => i.fields.Title === 'one again');
      expect(item).toBeDefined();
      // The row lives: its item must not still say it is deleted.
      expect(item?.fields.ArcoreDeleted).not.toBe(true);
    });

    it('SOFT: an item edited while orphaned keeps its edit and loses its flag when its row comes back', async () => {
      const name = 'rv_soft_edit';
      const { push } = await setUp(name, { push: 'SOFT', pushSoftColumn: 'ArcoreDeleted' });
      await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
      expect(await push()).toMatchObject({ status: 'SUCCEEDED', deleted: 1 });
      const item = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
      const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
        Budget: 15,
      });
      expect(res.status).toBe(200);
      // Restored as it was: the revival's If-Match write meets the edit (412) and is settled as any pair.
      await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
      const back = await push();
      const after = (await h.items(name)).find((i) => i.id === item.id);
      const row = (await h.db.pool.query(`SELECT budget FROM ${name} WHERE id = 1`)).rows[0];
      const state = (
        await h.db.pool.query(
          `SELECT l.state FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
            WHERE d.name = $1 AND l.sp_item_id = $2`,
          [name, item.id],
        )
      ).rows[0]?.state;
      expect({
        status: back.status,
        flag: after?.fields.ArcoreDeleted,
        spBudget: after?.fields.Budget,
        pgBudget: row.budget,
        state,
      }).toEqual({ status: 'SUCCEEDED', flag: false, spBudget: 15, pgBudget: '15.00', state: 'SYNCED' });
    });

    it('IGNORE: a row inserted again with its old values is paired again and SharePoint edits are pulled', async () => {
      const name = 'rv_ignore';
      const { push, pull } = await setUp(name, { push: 'IGNORE' });
      await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
      await push();
      // Restored as it was (an undo, a re-import of the same data).
      await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
      await push();
      await pull();

      const item = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
      const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
        Budget: 99,
      });
      expect(res.status).toBe(200);
      await pull();
      await push();
      const state = (
        await h.db.pool.query(
          `SELECT l.state FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
            WHERE d.name = $1 AND l.sp_item_id = $2`,
          [name, item.id],
        )
      ).rows[0]?.state;
      const row = (await h.db.pool.query(`SELECT budget FROM ${name} WHERE id = 1`)).rows[0];
      expect({ state, budget: row.budget }).toEqual({ state: 'SYNCED', budget: '99.00' });
    });

    it('IGNORE: an item deleted in SharePoint after its row came back follows the pull delete policy', async () => {
      const name = 'rv_ignore_del';
      // overlapSeconds 0 stands for "the SharePoint delete comes more than overlapSeconds (300) after the row".
      const { push, pull } = await setUp(name, { push: 'IGNORE' }, 0);
      await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
      await push();
      await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10)`);
      await push();
      // Later changes move the cursor on.
      await h.db.pool.query(`UPDATE ${name} SET budget = 21 WHERE id = 2`);
      await push();
      const item = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
      expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${item.id}`)).status).toBe(
        204,
      );
      await pull();
      await push();
      await push();
      const row = (await h.db.pool.query(`SELECT id FROM ${name} WHERE id = 1`)).rows[0];
      const inSharePoint = (await h.items(name)).some((i) => i.fields.Title === 'one');
      const pairs = Number(
        (
          await h.db.pool.query(
            `SELECT count(*) AS n FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
              WHERE d.name = $1`,
            [name],
          )
        ).rows[0].n,
      );
      // The pull's delete policy (PROPAGATE) removes the row, as for any pair.
      expect({ rowLives: row !== undefined, inSharePoint, pairs }).toEqual({
        rowLives: false,
        inSharePoint: false,
        pairs: 1,
      });
    });
  });

  /**
   * I16: the page loop, the full delete comparison and the tombstones all stop at the run's time budget
   * (push/deletes.ts consumeTombstones): a mass delete (a purge of N rows) is applied a chunk of tombstones at a time,
   * the run says it is incomplete and the next push applies the rest, instead of one run writing them all far past
   * RUN_MAX_SECONDS while holding the definition's lock. Found by review.
   */
  describe('I16 tombstones are consumed within the run time budget (docs/design.md, I8, I16)', () => {
    it('a run whose budget is spent applies one chunk of tombstones, says it is incomplete, and the next the rest', async () => {
      const name = 'rv_tbud';
      await defineProjects(h, name, { tombstones: true });
      await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 1), (2, 'two', 2)`);
      const push = (maxSeconds?: number) =>
        runPush(h.ctx, name, { trigger: 'test', ...(maxSeconds === undefined ? {} : { maxSeconds }) });
      expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 2 });
      // A purge: more tombstones than one chunk (1,000). Rows 1 and 2 (paired) are deleted first, so their tombstones
      // are in the first chunk; the rest were never synced, their tombstones only consumed (cheap to set up).
      await h.db.pool.query(
        `INSERT INTO ${name} (id, name) SELECT g, 'r' || g FROM generate_series(3, 1100) g`,
      );
      await h.db.pool.query(`DELETE FROM ${name} WHERE id <= 2`);
      await h.db.pool.query(`DELETE FROM ${name} WHERE id > 2`);
      const tombstones = async () =>
        Number((await h.db.pool.query(`SELECT count(*) AS n FROM ${tombstoneTableName(name)}`)).rows[0].n);

      // A run whose time budget is spent from the start (as after a long page loop).
      const spent = await push(0.001);
      const leftAfterSpent = await tombstones();
      const next = await push();
      expect({
        spent: { complete: spent.complete, deleted: spent.deleted, tombstonesLeft: leftAfterSpent },
        next: { complete: next.complete, tombstonesLeft: await tombstones() },
        items: (await h.items(name)).length,
      }).toEqual({
        spent: { complete: false, deleted: 2, tombstonesLeft: 100 },
        next: { complete: true, tombstonesLeft: 0 },
        items: 0,
      });
    });
  });
});

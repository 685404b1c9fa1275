import { identityOf } from '../../../../src/core/canonical';
import { runBackfill } from '../../../../src/core/engine/backfill';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { relinkDefinition } from '../../../../src/core/engine/relink';
import { PostgresSource } from '../../../../src/core/source/postgres/PostgresSource';
import {
  PENDING_CREATE_SETTLE_SECONDS,
  pendingCreateEntry,
} from '../../../../src/core/engine/push/pendingCreates';
import type { EngineContext } from '../../../../src/core/engine/types';
import { LedgerStore } from '../../../../src/core/store/ledger';
import { closeCapturing, lsnDefinition } from '../../../support/capture';
import {
  createProjectsTable,
  projectsDefinition,
  startSettlingHarness,
  type Harness,
} from '../../../support/engineHarness';

/**
 * I6, docs/design.md "Creates a stopped run left pending": a create a killed run (or one that lost its lock)
 * sent may land after the next run started. Not finding its item at once must not make that run create the item
 * again, or the row gets two items.
 */
describe('I6 pending creates: a create still landing is waited for, never duplicated', () => {
  let h: Harness;
  let ctx: EngineContext;
  let n = 0;
  beforeAll(async () => ({ h, ctx } = await startSettlingHarness()));
  afterAll(() => closeCapturing(h));
  afterEach(() => jest.restoreAllMocks());

  /** The source read of the rows to push again fails once (an injected fault: the source lost at that moment). */
  const readByKeysFailsOnce = () =>
    jest
      .spyOn(PostgresSource.prototype, 'readByKeys')
      .mockRejectedValueOnce(new Error('connection to the source lost (injected)'));

  const abandonLastPush = (definitionId: string) =>
    h.db.pool.query(
      `UPDATE arcore.sync_runs SET status = 'ABANDONED', finished_at = now() WHERE id = (
         SELECT max(id) FROM arcore.sync_runs WHERE definition_id = $1 AND run_type = 'PUSH')`,
      [definitionId],
    );

  /** A SharePoint user's edit of the item that landed. */
  const editInSharePoint = async (list: string, itemId: string) => {
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${list}/items/${itemId}/fields`, {
      Title: 'three, edited in SharePoint',
    });
    expect(res.status).toBe(200);
  };

  const detailsOf = async (runId: string | null) =>
    (await h.db.pool.query('SELECT details FROM arcore.sync_runs WHERE id = $1', [runId])).rows[0]?.details;

  /** A synced table of two rows, then row 3 inserted with the PENDING_CREATE entry a stopped run leaves. */
  async function stoppedWithCreatePending(
    kind: 'TIMESTAMP' | 'LSN' = 'TIMESTAMP',
    overlapSeconds = 300,
    conflictPolicy: 'SOURCE_WINS' | 'LAST_WRITER_WINS' | 'DESTINATION_WINS' = 'SOURCE_WINS',
  ) {
    n++;
    const name = `pc${n}`;
    if (kind === 'LSN') {
      await h.db.pool.query(`CREATE TABLE ${name} (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
      await h.define(lsnDefinition(name));
    } else {
      await createProjectsTable(h.db, name);
      await h.define(
        projectsDefinition(
          {
            name,
            conflictPolicy,
            source: {
              table: name,
              key: ['id'],
              cursor: { type: 'TIMESTAMP', column: 'updated_at' },
              overlapSeconds,
            },
          },
          name,
        ),
      );
    }
    await h.db.pool.query(`INSERT INTO ${name} (id, name) VALUES (1, 'one'), (2, 'two')`);
    expect((await runPush(ctx, name, { trigger: 'test' })).created).toBe(2);
    const { rows } = await h.db.pool.query<{ definition_id: string; sp_list_id: string }>(
      `SELECT l.definition_id, l.sp_list_id FROM arcore.sync_ledger l
         JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = $1 LIMIT 1`,
      [name],
    );
    const { definition_id: definitionId, sp_list_id: listId } = rows[0];
    await h.db.pool.query(`INSERT INTO ${name} (id, name) VALUES (3, 'three')`);
    const hash = identityOf(['id'], { id: 3 }, { id: 'integer' }).hash;
    // The entry the engine records before it sends the create, with the values the create sent.
    await new LedgerStore(definitionId, 'PRIMARY_KEY', 'default').save(h.db.pool, [
      pendingCreateEntry({
        identityHash: hash,
        identity: { id: 3 },
        listId,
        sent:
          kind === 'LSN'
            ? { Title: 'three', Budget: null }
            : { Title: 'three', Budget: null, Due: null, Done: null, Tags: null },
        lastSourceTs: null,
      }),
    ]);
    // The run that left it was killed: its row is ABANDONED, as the next run's start records a dead run's.
    await abandonLastPush(definitionId);
    const push = (c: EngineContext = ctx) => runPush(c, name, { trigger: 'test' });
    /** The create the stopped run sent, landing now. */
    const lands = async () => {
      const res = await h.asUser('POST', `/sites/${h.siteId}/lists/${name}/items`, {
        fields: { Title: 'three', ArcoreKey: hash },
      });
      expect(res.status).toBe(201);
      return (res.body as { id: string }).id;
    };
    const entry = async () =>
      (
        await h.db.pool.query<{ state: string; sp_item_id: string | null; checked: boolean }>(
          `SELECT state, sp_item_id, pending_checked_at IS NOT NULL AS checked FROM arcore.sync_ledger
            WHERE definition_id = $1 AND source_identity_hash = $2`,
          [definitionId, hash],
        )
      ).rows[0];
    /** The wait runs out: the first miss is moved back past it. */
    const waitOver = () =>
      h.db.pool.query(
        `UPDATE arcore.sync_ledger SET pending_checked_at = now() - make_interval(secs => $3)
          WHERE definition_id = $1 AND source_identity_hash = $2`,
        [definitionId, hash, PENDING_CREATE_SETTLE_SECONDS + 1],
      );
    const threes = async () => (await h.items(name)).filter((i) => i.fields.Title === 'three');
    const keyed = async () => (await h.items(name)).filter((i) => i.fields.ArcoreKey === hash);
    return { name, push, lands, entry, waitOver, threes, keyed };
  }

  it('a create landing after the next run missed its item is adopted: one item for the row', async () => {
    const s = await stoppedWithCreatePending();
    const first = await s.push();
    expect(first).toMatchObject({ created: 0, failed: 0 });
    expect(await detailsOf(first.runId)).toMatchObject({ createsAwaitingSettle: 1 });
    expect(await s.threes()).toHaveLength(0);
    expect(await s.entry()).toMatchObject({ state: 'PENDING_CREATE', checked: true });

    const landed = await s.lands();
    // Inside the wait a run neither asks SharePoint again nor creates the item.
    expect(await s.push()).toMatchObject({ created: 0, failed: 0 });
    expect(await s.entry()).toMatchObject({ state: 'PENDING_CREATE', sp_item_id: null });

    await s.waitOver();
    const settled = await s.push();
    expect(settled).toMatchObject({ created: 0, failed: 0 });
    expect(await detailsOf(settled.runId)).toMatchObject({ adoptedAfterCrash: 1 });
    expect((await s.threes()).map((i) => i.id)).toEqual([landed]);
    expect(await s.entry()).toMatchObject({ state: 'SYNCED', sp_item_id: landed });
    expect(await s.push()).toMatchObject({ created: 0, updated: 0 });
  });

  it('a create that never landed is made once the wait is over, once', async () => {
    const s = await stoppedWithCreatePending();
    expect(await s.push()).toMatchObject({ created: 0 });
    expect(await s.threes()).toHaveLength(0);
    await s.waitOver();
    expect(await s.push()).toMatchObject({ created: 1, failed: 0 });
    const items = await s.threes();
    expect(items).toHaveLength(1);
    expect(await s.entry()).toMatchObject({ state: 'SYNCED', sp_item_id: items[0].id });
    expect(await s.push()).toMatchObject({ created: 0 });
  });

  it('a row changed during the wait is pushed with its latest values when it settles', async () => {
    const s = await stoppedWithCreatePending();
    await s.push();
    await h.db.pool.query(`UPDATE ${s.name} SET name = 'three, edited' WHERE id = 3`);
    const landed = await s.lands();
    // The changed row is read after the cursor, and still waits: no second item.
    expect(await s.push()).toMatchObject({ created: 0 });
    expect(await s.threes()).toHaveLength(1);
    await s.waitOver();
    const settled = await s.push();
    expect(settled).toMatchObject({ created: 0, updated: 1, failed: 0 });
    const items = await h.items(s.name);
    expect(
      items.filter((i) => String(i.fields.Title).startsWith('three')).map((i) => [i.id, i.fields.Title]),
    ).toEqual([[landed, 'three, edited']]);
  });

  it('with PENDING_CREATE_SETTLE_SECONDS=0 a missing item is created by the next run at once', async () => {
    const s = await stoppedWithCreatePending();
    expect(await s.push({ ...ctx, pendingCreateSettleSeconds: 0 })).toMatchObject({ created: 1 });
    expect(await s.threes()).toHaveLength(1);
  });

  it('a run that fails after settling, before pushing the row, leaves its retry: the row still gets its item (LSN)', async () => {
    const s = await stoppedWithCreatePending('LSN');
    expect(await s.push()).toMatchObject({ created: 0 });
    await s.waitOver();
    readByKeysFailsOnce();
    expect((await s.push()).status).toBe('FAILED');
    jest.restoreAllMocks();
    await s.push();
    expect(await s.keyed()).toHaveLength(1);
    expect(await s.push()).toMatchObject({ created: 0, updated: 0, parkedFailures: 0 });
  });

  it('a run that fails after adopting, before pushing the row, leaves its retry: the edit reaches SharePoint', async () => {
    const s = await stoppedWithCreatePending('TIMESTAMP', 0);
    expect(await s.push()).toMatchObject({ created: 0 });
    await h.db.pool.query(`UPDATE ${s.name} SET name = 'three, edited' WHERE id = 3`);
    await h.db.pool.query('SELECT pg_sleep(0.05)');
    // A busy table: a later row moves the cursor past row 3's edit, which is read inside the wait and skipped.
    await h.db.pool.query(`INSERT INTO ${s.name} (id, name) VALUES (4, 'four')`);
    await s.lands();
    expect(await s.push()).toMatchObject({ created: 1 });
    await s.waitOver();
    readByKeysFailsOnce();
    expect((await s.push()).status).toBe('FAILED');
    jest.restoreAllMocks();
    expect(await s.entry()).toMatchObject({ state: 'SYNCED' });
    await s.push();
    expect((await s.keyed()).map((i) => i.fields.Title)).toEqual(['three, edited']);
  });

  it('LSN: a row deleted during the wait has the item that landed for it deleted once it is adopted', async () => {
    const s = await stoppedWithCreatePending('LSN');
    expect(await s.push()).toMatchObject({ created: 0 });
    await h.db.pool.query(`DELETE FROM ${s.name} WHERE id = 3`);
    await s.push(); // reads the delete inside the wait: the row has no item yet
    await s.lands();
    await s.waitOver();
    const settled = await s.push();
    expect(settled).toMatchObject({ deleted: 1, failed: 0 });
    expect(await s.keyed()).toHaveLength(0);
    expect(await s.entry()).toBeUndefined();
  });

  it('a full resync during the wait leaves the pending create to the push: one item', async () => {
    const s = await stoppedWithCreatePending();
    expect(await s.push()).toMatchObject({ created: 0 });
    await runBackfill(ctx, s.name, { fields: ['Title'], strategy: 'full_resync', trigger: 'test' });
    await s.lands();
    expect(await s.keyed()).toHaveLength(1);
    expect(await s.entry()).toMatchObject({ state: 'PENDING_CREATE' });
  });

  it('relink during the wait keeps the pending create: the next push does not make a second item', async () => {
    const s = await stoppedWithCreatePending();
    expect(await s.push()).toMatchObject({ created: 0 });
    expect(await relinkDefinition(ctx, s.name)).toMatchObject({ pendingCreates: 1, toRecreate: 0 });
    await s.push();
    const landed = await s.lands();
    await s.waitOver();
    await s.push();
    expect((await s.keyed()).map((i) => i.id)).toEqual([landed]);
    expect(await s.entry()).toMatchObject({ state: 'SYNCED', sp_item_id: landed });
  });

  it('a create left pending by a run that finished is settled at once: that run awaited every request it sent', async () => {
    const s = await stoppedWithCreatePending();
    // The run that recorded it finished (it ran until after the entry was saved, and recorded its end).
    await h.db.pool.query(`UPDATE arcore.sync_runs SET status = 'SUCCEEDED' WHERE status = 'ABANDONED'`);
    expect(await s.push()).toMatchObject({ created: 1, failed: 0 });
    expect(await s.threes()).toHaveLength(1);
    expect(await s.entry()).toMatchObject({ state: 'SYNCED' });
  });

  /**
   * Last writer wins, and the stopped run's create (sent before the row was edited) lands after the edit: the item
   * looks newer than the row, but its values are the row's older ones.
   */
  async function editedThenLandedLate() {
    const s = await stoppedWithCreatePending('TIMESTAMP', 0, 'LAST_WRITER_WINS');
    await runPull(ctx, s.name, { trigger: 'test' });
    expect(await s.push()).toMatchObject({ created: 0 }); // first miss
    await h.db.pool.query(`UPDATE ${s.name} SET name = 'three, edited' WHERE id = 3`);
    await h.db.pool.query('SELECT pg_sleep(0.05)');
    await h.db.pool.query(`INSERT INTO ${s.name} (id, name) VALUES (4, 'four')`);
    await s.push(); // the edit is read inside the wait and skipped; the cursor passes it
    await h.db.pool.query('SELECT pg_sleep(1.1)'); // SharePoint's times have whole seconds
    await s.lands();
    const state = async () => ({
      row: (await h.db.pool.query(`SELECT name FROM ${s.name} WHERE id = 3`)).rows[0]?.name as string,
      items: (await s.keyed()).map((i) => i.fields.Title),
    });
    return { ...s, state };
  }

  it('a pull meeting the late item weighs it against what its create sent: the edit made during the wait is kept (last writer wins)', async () => {
    const s = await editedThenLandedLate();
    await runPull(ctx, s.name, { trigger: 'test' });
    expect(await s.entry()).toMatchObject({ state: 'SYNCED' });
    await s.waitOver();
    await s.push();
    await runPull(ctx, s.name, { trigger: 'test' });
    await s.push();
    expect(await s.state()).toEqual({ row: 'three, edited', items: ['three, edited'] });
  });

  it('relink during the wait keeps the pending create; the edit made meanwhile is kept (last writer wins)', async () => {
    const s = await editedThenLandedLate();
    expect(await relinkDefinition(ctx, s.name)).toMatchObject({ pendingCreates: 1 });
    await s.push();
    await runPull(ctx, s.name, { trigger: 'test' }); // enumerates the list afresh: adopts the item, writes back
    await s.waitOver();
    await s.push();
    await runPull(ctx, s.name, { trigger: 'test' });
    expect(await s.state()).toEqual({ row: 'three, edited', items: ['three, edited'] });
  });

  it('a push recorded in between that settled nothing (a resolve) does not end the wait of the stopped run', async () => {
    const s = await stoppedWithCreatePending();
    const { rows } = await h.db.pool.query<{ d: string }>(
      'SELECT definition_id AS d FROM arcore.sync_runs WHERE status = $1 ORDER BY id DESC LIMIT 1',
      ['ABANDONED'],
    );
    await h.db.pool.query(
      `INSERT INTO arcore.sync_runs (definition_id, run_type, trigger, status, finished_at)
       VALUES ($1, 'PUSH', 'resolve', 'SUCCEEDED', now())`,
      [rows[0].d],
    );
    await s.push();
    await s.lands();
    expect(await s.keyed()).toHaveLength(1);
  });

  it('an edit made in SharePoint to the item that landed during the wait is kept (destination wins)', async () => {
    const s = await stoppedWithCreatePending('TIMESTAMP', 300, 'DESTINATION_WINS');
    await s.push(); // first miss
    const landed = await s.lands();
    await editInSharePoint(s.name, landed);
    await runPull(ctx, s.name, { trigger: 'test' });
    await s.waitOver();
    await s.push();
    await runPull(ctx, s.name, { trigger: 'test' });
    await s.push();
    const row = (await h.db.pool.query(`SELECT name FROM ${s.name} WHERE id = 3`)).rows[0]?.name;
    expect({ row, items: (await s.keyed()).map((i) => i.fields.Title) }).toEqual({
      row: 'three, edited in SharePoint',
      items: ['three, edited in SharePoint'],
    });
  });

  it('the same edit is kept when the push adopts the item before any pull met it', async () => {
    const s = await stoppedWithCreatePending('TIMESTAMP', 300, 'DESTINATION_WINS');
    await s.push(); // first miss
    const landed = await s.lands();
    await editInSharePoint(s.name, landed);
    await s.waitOver();
    await s.push(); // adopts the item: it changed since its create, so the pair's eTag is left unconfirmed
    await runPull(ctx, s.name, { trigger: 'test' });
    await s.push();
    const row = (await h.db.pool.query(`SELECT name FROM ${s.name} WHERE id = 3`)).rows[0]?.name;
    expect({ row, items: (await s.keyed()).map((i) => i.fields.Title) }).toEqual({
      row: 'three, edited in SharePoint',
      items: ['three, edited in SharePoint'],
    });
  });

  it('a pull adopting the late item, nothing edited, leaves the pair synced', async () => {
    const s = await stoppedWithCreatePending();
    await runPull(ctx, s.name, { trigger: 'test' });
    expect(await s.push()).toMatchObject({ created: 0 }); // first miss
    const landed = await s.lands();
    await runPull(ctx, s.name, { trigger: 'test' });
    expect(await s.entry()).toMatchObject({ state: 'SYNCED', sp_item_id: landed });
  });

  it('the adopted item deleted in SharePoint deletes the row, and is not created again', async () => {
    const s = await stoppedWithCreatePending();
    await runPull(ctx, s.name, { trigger: 'test' });
    expect(await s.push()).toMatchObject({ created: 0 }); // first miss
    const landed = await s.lands();
    await runPull(ctx, s.name, { trigger: 'test' }); // adopts the item
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${s.name}/items/${landed}`)).status).toBe(204);
    await runPull(ctx, s.name, { trigger: 'test' }); // its tombstone
    await s.waitOver();
    await s.push();
    expect(await s.keyed()).toHaveLength(0);
    expect((await h.db.pool.query(`SELECT 1 FROM ${s.name} WHERE id = 3`)).rows).toHaveLength(0);
  });
});

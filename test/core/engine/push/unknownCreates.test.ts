import { loadSettings } from '../../../../src/config/settings';
import { createEngineContext } from '../../../../src/core/engine/context';
import { runBackfill } from '../../../../src/core/engine/backfill';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { pendingCreateEntry } from '../../../../src/core/engine/push/pendingCreates';
import { PendingCreateLandingError, resolveConflict } from '../../../../src/core/engine/resolve';
import { LedgerStore } from '../../../../src/core/store/ledger';
import type { EngineContext } from '../../../../src/core/engine/types';
import { dropCaptureObjects, lsnDefinition } from '../../../support/capture';
import { defineProjects } from '../../../support/projects';
import { landItem } from '../../../support/routed';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../../support/engineHarness';

/**
 * I6: a create whose outcome stays unknown (the batch was applied, its connection dropped, and the item could not
 * be looked up) may have made the item. Its entry stays PENDING_CREATE, so the next run adopts the item instead of
 * creating a second one (docs/design.md, "Creates a stopped run left pending").
 */
describe('I6 a create whose outcome stays unknown', () => {
  let h: Harness;
  let ctx: EngineContext;
  let close: () => Promise<void>;
  beforeAll(async () => {
    h = await startHarness({ batchAmbiguous503Rate: 0 });
    const settings = loadSettings({
      DATABASE_URL: h.db.url,
      GRAPH_BASE_URL: h.emulator.baseUrl,
      GRAPH_TOKEN: h.emulator.appToken,
      GRAPH_RU_PER_MINUTE: '10000000',
    });
    // Few and short retries: the look-up after the dropped batch fails fast.
    ({ ctx, close } = await createEngineContext(settings, {
      caCert: h.emulator.caCert,
      graph: { maxTransientRetries: 1, retryBaseDelayMs: 1, retryMaxDelayMs: 5 },
    }));
    await createProjectsTable(h.db);
    await h.define(projectsDefinition());
    // The first run binds the list (looking at its first items, docs/design.md I15): the faults below meet the
    // look-ups of the creates only.
    expect(await runPush(ctx, 'projects', { trigger: 'test' })).toMatchObject({ status: 'SUCCEEDED' });
  });
  afterAll(async () => {
    await close();
    await dropCaptureObjects(h.db.pool);
    await h.close();
  });

  /** An LSN definition of its own table, with rows 1 and 2 synced. */
  async function lsnSynced(name: string, pageSize = 50) {
    await h.db.pool.query(`CREATE TABLE ${name} (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
    await h.define(
      lsnDefinition(name, { source: { table: name, key: ['id'], cursor: { type: 'LSN' }, pageSize } }),
    );
    await h.db.pool.query(`INSERT INTO ${name} (id, name) VALUES (1, 'one'), (2, 'two')`);
    expect(await runPush(ctx, name, { trigger: 'test' })).toMatchObject({ created: 2 });
  }

  /** Every pending create's wait is over (its first miss moved back past PENDING_CREATE_SETTLE_SECONDS). */
  const waitOver = () =>
    h.db.pool.query(
      `UPDATE arcore.sync_ledger SET pending_checked_at = now() - interval '1 day' WHERE state = 'PENDING_CREATE'`,
    );

  it('keeps its entry pending, and the next run adopts the item the create made: one item', async () => {
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'one')");
    // The batch runs, then its connection drops; every look-up by the hidden key then fails.
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '/\\$batch$', count: 1, drop: 'after' });
    h.emulator.control.injectFault({ method: 'GET', pathPattern: '/items$', count: 50, status: 500 });
    const first = await runPush(ctx, 'projects', { trigger: 'test' });
    expect(first).toMatchObject({ created: 0, failed: 1 });
    h.emulator.control.clearFaults();
    expect(await h.items('Projects')).toHaveLength(1);
    const { rows } = await h.db.pool.query<{ state: string }>('SELECT state FROM arcore.sync_ledger');
    expect(rows.map((r) => r.state)).toEqual(['PENDING_CREATE']);

    // Its wait started when its outcome stayed unknown; once it is over, the next run looks again.
    await waitOver();
    const second = await runPush(ctx, 'projects', { trigger: 'test' });
    expect(second).toMatchObject({ created: 0, failed: 0, parkedFailures: 0 });
    const items = await h.items('Projects');
    expect(items).toHaveLength(1);
    const after = await h.db.pool.query<{ state: string; sp_item_id: string }>(
      'SELECT state, sp_item_id FROM arcore.sync_ledger',
    );
    expect(after.rows).toEqual([{ state: 'SYNCED', sp_item_id: items[0].id }]);
  });

  it('a re-create (the item deleted in SharePoint, the row edited) is recorded pending before it leaves', async () => {
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (2, 'two')");
    expect(await runPush(ctx, 'projects', { trigger: 'test' })).toMatchObject({ created: 1, failed: 0 });
    const hash = (
      await h.db.pool.query<{ h: string; item: string }>(
        "SELECT source_identity_hash AS h, sp_item_id AS item FROM arcore.sync_ledger WHERE source_identity->>'id' = '2'",
      )
    ).rows[0];
    const gone = await h.asUser('DELETE', `/sites/${h.siteId}/lists/Projects/items/${hash.item}`);
    expect(gone.status).toBe(204);
    await h.db.pool.query("UPDATE projects SET name = 'two, edited' WHERE id = 2");
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '/\\$batch$', count: 2, drop: 'after' });
    h.emulator.control.injectFault({ method: 'GET', pathPattern: '/items$', count: 50, status: 500 });
    const first = await runPush(ctx, 'projects', { trigger: 'test' });
    h.emulator.control.clearFaults();
    expect(first.failed).toBe(1);
    const state = async () =>
      (
        await h.db.pool.query<{ state: string; sp_item_id: string | null }>(
          'SELECT state, sp_item_id FROM arcore.sync_ledger WHERE source_identity_hash = $1',
          [hash.h],
        )
      ).rows[0];
    expect(await state()).toMatchObject({ state: 'PENDING_CREATE' });
    await waitOver();
    await runPush(ctx, 'projects', { trigger: 'test' });
    const twos = (await h.items('Projects')).filter((i) => i.fields.ArcoreKey === hash.h);
    expect(twos.map((i) => i.fields.Title)).toEqual(['two, edited']);
    expect(await state()).toEqual({ state: 'SYNCED', sp_item_id: twos[0].id });
  });

  /** A MANUAL definition with one open conflict whose item was then deleted in SharePoint. */
  async function conflictWithItemGone(name: string, list: string) {
    await defineProjects(h, name, { list, definition: { conflictPolicy: 'MANUAL' } });
    await h.db.pool.query(`INSERT INTO ${name} (id, name) VALUES (1, 'T0')`);
    await runPush(ctx, name, { trigger: 'test' });
    await runPull(ctx, name, { trigger: 'test' });
    const [item] = await h.items(list);
    await h.db.pool.query(`UPDATE ${name} SET name = 'pg' WHERE id = 1`);
    await h.asUser('PATCH', `/sites/${h.siteId}/lists/${list}/items/${item.id}/fields`, { Title: 'sp' });
    expect((await runPull(ctx, name, { trigger: 'test' })).conflicts).toBe(1);
    const { rows } = await h.db.pool.query<{ id: string; h: string; d: string }>(
      `SELECT c.id, c.source_identity_hash AS h, c.definition_id AS d FROM arcore.sync_conflicts c
         JOIN arcore.sync_definitions d ON d.id = c.definition_id WHERE d.name = $1 AND c.status = 'OPEN'`,
      [name],
    );
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${list}/items/${item.id}`)).status).toBe(204);
    const pairs = async () =>
      (
        await h.db.pool.query<{ state: string; sp_item_id: string | null }>(
          'SELECT state, sp_item_id FROM arcore.sync_ledger WHERE definition_id = $1',
          [rows[0].d],
        )
      ).rows;
    return { conflictId: rows[0].id, hash: rows[0].h, definitionId: rows[0].d, pairs };
  }

  it('resolve of a conflict whose item is gone writes the item an earlier re-create made, not a second', async () => {
    const c = await conflictWithItemGone('manual', 'Manual');
    // An earlier resolve's re-create landed, its answer lost: an item carries the row's key.
    await landItem(h, 'Manual', c.hash, { Title: 'pg' });
    await resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 'test');
    const items = await h.items('Manual');
    expect(items.map((i) => i.fields.Title)).toEqual(['pg']);
    expect(await c.pairs()).toEqual([{ state: 'SYNCED', sp_item_id: items[0].id }]);
  });

  it('resolve while an earlier re-create may still land is refused, and writes once the wait is over', async () => {
    const c = await conflictWithItemGone('manual2', 'Manual2');
    await pendingReCreate(c);
    const refused = await resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 'test').then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(PendingCreateLandingError);
    expect(refused).toMatchObject({ errorKind: 'busy' });
    expect(await h.items('Manual2')).toHaveLength(0);
    await waitOver();
    await resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 'test');
    const items = await h.items('Manual2');
    expect(items.map((i) => i.fields.Title)).toEqual(['pg']);
    expect(await c.pairs()).toEqual([{ state: 'SYNCED', sp_item_id: items[0].id }]);
  });

  /** An earlier resolve's re-create stayed unknown: the conflict's entry is pending, its wait running. */
  async function pendingReCreate(c: { hash: string; definitionId: string }) {
    const { rows } = await h.db.pool.query<{ list: string }>(
      'SELECT sp_list_id AS list FROM arcore.sync_ledger WHERE definition_id = $1',
      [c.definitionId],
    );
    await new LedgerStore(c.definitionId, 'PRIMARY_KEY', 'default').save(h.db.pool, [
      pendingCreateEntry({
        identityHash: c.hash,
        identity: { id: 1 },
        listId: rows[0].list,
        sent: {},
        lastSourceTs: null,
      }),
    ]);
    await h.db.pool.query(
      'UPDATE arcore.sync_ledger SET pending_checked_at = now() WHERE definition_id = $1',
      [c.definitionId],
    );
  }

  // The row gone too (design.md I6, I8): resolve looks for the item by the row's hidden key, not only by the
  // conflict's old item id, and waits for a create that may still land. Before, --take postgres dropped the pair and
  // left the landed item unpaired; --take sharepoint failed with "both ... gone".
  it('resolve of a row-gone conflict finds the item an earlier re-create made by its key', async () => {
    const c = await conflictWithItemGone('gone1', 'Gone1');
    await landItem(h, 'Gone1', c.hash, { Title: 'pg' });
    await pendingReCreate(c);
    await h.db.pool.query('DELETE FROM gone1 WHERE id = 1');
    await resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 'test');
    // The delete stands: the landed item follows it (deletes.push PROPAGATE), and the pair leaves the ledger.
    expect(await h.items('Gone1')).toHaveLength(0);
    expect(await c.pairs()).toEqual([]);

    // --take sharepoint brings the row back from that item, paired with it.
    const d = await conflictWithItemGone('gone2', 'Gone2');
    await h.asUser('POST', `/sites/${h.siteId}/lists/Gone2/items`, {
      fields: { Title: 'sp2', ArcoreKey: d.hash },
    });
    await pendingReCreate(d);
    await h.db.pool.query('DELETE FROM gone2 WHERE id = 1');
    await resolveConflict(ctx, d.conflictId, { take: 'sharepoint' }, 'test');
    const items = await h.items('Gone2');
    expect(items.map((i) => i.fields.Title)).toEqual(['sp2']);
    expect(await c.pairs()).toEqual([]);
    expect(await d.pairs()).toEqual([{ state: 'SYNCED', sp_item_id: items[0].id }]);
    expect((await h.db.pool.query('SELECT id, name FROM gone2')).rows).toEqual([{ id: 1, name: 'sp2' }]);
  });

  it('resolve of a row-gone conflict while an earlier re-create may still land is refused', async () => {
    const c = await conflictWithItemGone('gone3', 'Gone3');
    await pendingReCreate(c);
    await h.db.pool.query('DELETE FROM gone3 WHERE id = 1');
    const refused = await resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 'test').then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(PendingCreateLandingError);
    expect(await c.pairs()).toEqual([{ state: 'PENDING_CREATE', sp_item_id: null }]);
    // Once its wait is over, nothing landed: the delete stands and the pair leaves the ledger.
    await waitOver();
    await resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 'test');
    expect(await c.pairs()).toEqual([]);
    expect(await h.items('Gone3')).toHaveLength(0);
  });

  it('LSN: a delete that failed once is sent again by the next run (the slot reads it only once)', async () => {
    await lsnSynced('lsndel');
    await h.db.pool.query('DELETE FROM lsndel WHERE id = 2');
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '/\\$batch$', count: 50, status: 500 });
    const first = await runPush(ctx, 'lsndel', { trigger: 'test' });
    h.emulator.control.clearFaults();
    expect(first).toMatchObject({ deleted: 0, failed: 1 });
    expect(await h.items('lsndel')).toHaveLength(2);
    expect(await runPush(ctx, 'lsndel', { trigger: 'test' })).toMatchObject({ deleted: 1, failed: 0 });
    expect((await h.items('lsndel')).map((i) => i.fields.Title)).toEqual(['one']);
  });

  it('LSN: a row met again in the run whose create of it stayed unknown is not created a second time', async () => {
    await lsnSynced('lsnagain', 1);
    await h.db.pool.query("INSERT INTO lsnagain (id, name) VALUES (5, 'five')");
    await h.db.pool.query("INSERT INTO lsnagain (id, name) VALUES (6, 'six')");
    await h.db.pool.query("UPDATE lsnagain SET name = 'five, edited' WHERE id = 5");
    // Row 5's create is applied, its answer lost, and it cannot be looked up: its outcome stays unknown.
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '/\\$batch$', count: 1, drop: 'after' });
    h.emulator.control.injectFault({ method: 'GET', pathPattern: '/items$', count: 4, status: 500 });
    await runPush(ctx, 'lsnagain', { trigger: 'test' });
    h.emulator.control.clearFaults();
    const fives = async () =>
      (await h.items('lsnagain')).filter((i) => String(i.fields.Title).startsWith('five'));
    expect(await fives()).toHaveLength(1);
    await waitOver();
    await runPush(ctx, 'lsnagain', { trigger: 'test' });
    expect((await fives()).map((i) => i.fields.Title)).toEqual(['five, edited']);
  });

  it("a full resync's re-create whose outcome stays unknown is waited for by the next push: one item", async () => {
    await createProjectsTable(h.db, 'resync');
    await h.define(
      projectsDefinition(
        {
          name: 'resync',
          source: { table: 'resync', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
        },
        'Resync',
      ),
    );
    await h.db.pool.query("INSERT INTO resync (id, name) VALUES (1, 'one')");
    expect(await runPush(ctx, 'resync', { trigger: 'test' })).toMatchObject({ created: 1 });
    const [item] = await h.items('Resync');
    const key = item.fields.ArcoreKey as string;
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/Resync/items/${item.id}`)).status).toBe(204);
    // Every $batch of the resync answers 503: its re-create's outcome stays unknown after the retries.
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '/\\$batch$', count: 20, status: 503 });
    await runBackfill(ctx, 'resync', { fields: ['Title'], strategy: 'full_resync', trigger: 'test' });
    h.emulator.control.clearFaults();
    await runPush(ctx, 'resync', { trigger: 'test' }); // inside the wait: nothing is created
    expect(await h.items('Resync')).toHaveLength(0);
    // The resync's last create lands now.
    await landItem(h, 'Resync', key, { Title: 'one' });
    await waitOver();
    await runPush(ctx, 'resync', { trigger: 'test' });
    const items = await h.items('Resync');
    expect(items.map((i) => i.fields.ArcoreKey)).toEqual([key]);
  });
});

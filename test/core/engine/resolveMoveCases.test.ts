import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { PENDING_CREATE_SETTLE_SECONDS } from '../../../src/core/engine/push/pendingCreates';
import { MoveInFlightError, resolveConflict } from '../../../src/core/engine/resolve';
import type { EngineContext } from '../../../src/core/engine/types';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { itemsWithKey, spEdit } from '../../support/routed';

describe('I6 resolve of a routed row with a move in flight (docs/design.md, "Creates a stopped run left pending")', () => {
  let h: Harness;
  let ctx: EngineContext;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
    ctx = { ...h.ctx, pendingCreateSettleSeconds: PENDING_CREATE_SETTLE_SECONDS };
  });
  afterAll(async () => h.close());

  /** Synced into Open; a stopped push recorded the move to Closed; then a conflict on the old item (pull). */
  async function movingWithConflict() {
    n++;
    const table = `mcases${n}`;
    const [open, closed] = [`MOpen${n}`, `MClosed${n}`];
    const definition: SyncDefinitionInput = {
      name: table,
      source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' }, overlapSeconds: 0 },
      target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: open }, { list: closed }] },
      conflictPolicy: 'MANUAL',
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
    };
    await h.db.pool.query(`CREATE TABLE ${table} (
      id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', table, 'updated_at');
    await h.define(definition);
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 't0', 'OPEN')`);
    expect(await runPush(ctx, table, { trigger: 'test' })).toMatchObject({ created: 1 });
    await runPull(ctx, table, { trigger: 'test' });
    const { rows } = await h.db.pool.query<{ h: string; d: string; item: string; list: string }>(
      `SELECT l.source_identity_hash AS h, l.definition_id AS d, l.sp_item_id AS item, l.sp_list_id AS list
         FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = $1`,
      [table],
    );
    const { h: hash, d: definitionId, item: openItem, list: openListId } = rows[0];
    const closedListId = (
      await h.db.pool.query<{ list_id: string }>(
        'SELECT list_id FROM arcore.sync_definition_lists WHERE definition_id = $1 AND list_name = $2',
        [definitionId, closed],
      )
    ).rows[0].list_id;
    await h.db.pool.query(`UPDATE ${table} SET status = 'CLOSED', title = 'pg' WHERE id = 1`);
    await h.db.pool.query(
      `INSERT INTO arcore.sync_moves (definition_id, source_identity_hash, from_list_id, from_item_id, to_list_id)
       VALUES ($1, $2, $3, $4, $5)`,
      [definitionId, hash, openListId, openItem, closedListId],
    );
    await spEdit(h, open, openItem, { Title: 'sp' });
    expect((await runPull(ctx, table, { trigger: 'test' })).conflicts).toBe(1);
    const conflictId = (
      await h.db.pool.query<{ id: string }>(
        "SELECT id FROM arcore.sync_conflicts WHERE definition_id = $1 AND status = 'OPEN'",
        [definitionId],
      )
    ).rows[0].id;
    const land = async () => {
      const res = await h.asUser('POST', `/sites/${h.siteId}/lists/${closed}/items`, {
        fields: { Title: 'pg', Status: 'CLOSED', ArcoreKey: hash },
      });
      expect(res.status).toBe(201);
    };
    const waitOver = () =>
      h.db.pool.query(
        `UPDATE arcore.sync_moves SET checked_at = now() - make_interval(secs => $2) WHERE definition_id = $1`,
        [definitionId, PENDING_CREATE_SETTLE_SECONDS + 1],
      );
    const where = async () =>
      (await itemsWithKey(h, [open, closed], hash)).map((i) => ({
        list: i.list === open ? 'Open' : 'Closed',
        title: i.fields.Title,
      }));
    return { table, conflictId, land, waitOver, where };
  }

  it('take postgres after the move landed: the move is undone, the old item written, then moved once', async () => {
    const c = await movingWithConflict();
    await c.land();
    // Found by key at once: no wait; the old item changed (the conflict), so the settle undoes the move.
    await resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 't');
    expect(await c.where()).toEqual([{ list: 'Open', title: 'pg' }]);
    await runPush(ctx, c.table, { trigger: 'test' });
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'pg' }]);
    await runPull(ctx, c.table, { trigger: 'test' });
    expect(await runPush(ctx, c.table, { trigger: 'test' })).toMatchObject({
      created: 0,
      updated: 0,
      moved: 0,
    });
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'pg' }]);
  });

  it('take sharepoint after the move landed: the move is undone and the row takes the old item back', async () => {
    const c = await movingWithConflict();
    await c.land();
    await resolveConflict(ctx, c.conflictId, { take: 'sharepoint' }, 't');
    expect(await c.where()).toEqual([{ list: 'Open', title: 'sp' }]);
    expect((await h.db.pool.query(`SELECT title, status FROM ${c.table}`)).rows).toEqual([
      { title: 'sp', status: 'OPEN' },
    ]);
    await runPush(ctx, c.table, { trigger: 'test' });
    await runPull(ctx, c.table, { trigger: 'test' });
    expect(await c.where()).toEqual([{ list: 'Open', title: 'sp' }]);
  });

  it('the create never landed: refused inside the wait, then resolved; one item where the row routes', async () => {
    const c = await movingWithConflict();
    await expect(resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 't')).rejects.toBeInstanceOf(
      MoveInFlightError,
    );
    await c.waitOver();
    await resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 't');
    expect(await c.where()).toEqual([{ list: 'Open', title: 'pg' }]);
    await runPush(ctx, c.table, { trigger: 'test' });
    expect(await c.where()).toEqual([{ list: 'Closed', title: 'pg' }]);
  });

  it('the move finishes inside the settle: resolve writes the new item, never the old id in the new list', async () => {
    n++;
    const table = `fcases${n}`;
    const [open, closed] = [`FOpen${n}`, `FClosed${n}`];
    await h.db.pool.query(`CREATE TABLE ${table} (
      id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', table, 'updated_at');
    await h.define({
      name: table,
      source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' }, overlapSeconds: 0 },
      target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: open }, { list: closed }] },
      conflictPolicy: 'MANUAL',
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
    });
    // Row 2 lives in Closed first: its item takes id 1 there, the id row 1's item has in Open.
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (2, 'other', 'CLOSED')`);
    await runPush(ctx, table, { trigger: 'test' });
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 't0', 'OPEN')`);
    await runPush(ctx, table, { trigger: 'test' });
    const { rows } = await h.db.pool.query<{ h: string; d: string; item: string; list: string }>(
      `SELECT l.source_identity_hash AS h, l.definition_id AS d, l.sp_item_id AS item, l.sp_list_id AS list
         FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
        WHERE d.name = $1 AND l.source_identity->>'id' = '1'`,
      [table],
    );
    const { h: hash, d: definitionId, item: openItem, list: openListId } = rows[0];
    expect(openItem).toBe('1');
    const closedListId = (
      await h.db.pool.query<{ list_id: string }>(
        'SELECT list_id FROM arcore.sync_definition_lists WHERE definition_id = $1 AND list_name = $2',
        [definitionId, closed],
      )
    ).rows[0].list_id;
    await h.db.pool.query(`UPDATE ${table} SET status = 'CLOSED', title = 'pg' WHERE id = 1`);
    await h.db.pool.query(
      `INSERT INTO arcore.sync_moves (definition_id, source_identity_hash, from_list_id, from_item_id, to_list_id,
         checked_at) VALUES ($1, $2, $3, $4, $5, now() - interval '1 hour')`,
      [definitionId, hash, openListId, openItem, closedListId],
    );
    const landed = await h.asUser('POST', `/sites/${h.siteId}/lists/${closed}/items`, {
      fields: { Title: 'pg', Status: 'CLOSED', ArcoreKey: hash },
    });
    expect((landed.body as { id: string }).id).toBe('2');
    const conflictId = (
      await h.db.pool.query<{ id: string }>(
        `INSERT INTO arcore.sync_conflicts (definition_id, source_identity_hash, source_identity, sp_item_id,
           detected_by, policy, base_values, postgres_values, sharepoint_values, outcome, status)
         VALUES ($1, $2, '{"id": 1}', $3, 'PULL', 'MANUAL', '{"Title":"t0"}', '{"Title":"pg"}', '{"Title":"sp"}',
           'PARKED', 'OPEN') RETURNING id::text AS id`,
        [definitionId, hash, openItem],
      )
    ).rows[0].id;
    await resolveConflict(ctx, conflictId, { take: 'postgres' }, 't');
    const byList = async (list: string) => (await h.items(list)).map((i) => i.fields.Title).sort();
    expect(await byList(open)).toEqual([]);
    expect(await byList(closed)).toEqual(['other', 'pg']);
    await runPush(ctx, table, { trigger: 'test' });
    await runPull(ctx, table, { trigger: 'test' });
    expect(await byList(closed)).toEqual(['other', 'pg']);
    expect((await h.db.pool.query(`SELECT id, title FROM ${table} ORDER BY id`)).rows).toEqual([
      { id: 1, title: 'pg' },
      { id: 2, title: 'other' },
    ]);
  });
  it('a row deleted in Postgres: take postgres waits the move out, then confirms the delete (I8)', async () => {
    const c = await movingWithConflict();
    await h.db.pool.query(`DELETE FROM ${c.table} WHERE id = 1`);
    // The move's create may still land: confirming the delete now could leave that item behind.
    await expect(resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 't')).rejects.toBeInstanceOf(
      MoveInFlightError,
    );
    await c.waitOver();
    await resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 't');
    expect(await c.where()).toEqual([]);
  });
});

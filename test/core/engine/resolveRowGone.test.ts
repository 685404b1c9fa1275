import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { PENDING_CREATE_SETTLE_SECONDS } from '../../../src/core/engine/push/pendingCreates';
import { ConflictTargetGoneError, resolveConflict } from '../../../src/core/engine/resolve';
import type { EngineContext } from '../../../src/core/engine/types';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { spEdit } from '../../support/routed';

describe('resolve of a routed row whose row is gone while its move waits (docs/design.md, I7: resolve)', () => {
  let h: Harness;
  let ctx: EngineContext;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
    ctx = { ...h.ctx, pendingCreateSettleSeconds: PENDING_CREATE_SETTLE_SECONDS };
  });
  afterAll(async () => h.close());

  /**
   * Synced into Open; a stopped push recorded the move to Closed (its create not landed: the wait runs); then a
   * conflict on the old item (pull).
   */
  async function movingWithConflict() {
    n++;
    const table = `gcases${n}`;
    const [open, closed] = [`GOpen${n}`, `GClosed${n}`];
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
    return { table, conflictId };
  }

  it('a row deleted in Postgres: says so, not "resolve again in N s"', async () => {
    const c = await movingWithConflict();
    await h.db.pool.query(`DELETE FROM ${c.table} WHERE id = 1`);
    const refused = await resolveConflict(ctx, c.conflictId, { take: 'postgres' }, 't').then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(ConflictTargetGoneError);
  });
});

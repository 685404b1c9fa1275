import type { SyncDefinitionInput } from '../../../../src/core/definition/schema';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { PENDING_CREATE_SETTLE_SECONDS } from '../../../../src/core/engine/push/pendingCreates';
import type { EngineContext } from '../../../../src/core/engine/types';
import { installCursorTrigger } from '../../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';
import { itemsWithKey } from '../../../support/routed';

/**
 * I6, docs/design.md "Creates a stopped run left pending": the create of a move (a routed row changing lists) that
 * a stopped run sent may land after the next run looked for it. That run must not move the row again meanwhile,
 * or the new list gets two items of one row.
 */
describe('I6 moves in flight: a move whose create lands late', () => {
  let h: Harness;
  let ctx: EngineContext;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
    ctx = { ...h.ctx, pendingCreateSettleSeconds: PENDING_CREATE_SETTLE_SECONDS };
  });
  afterAll(async () => h.close());

  /** A case synced into Open, then closed, with the move a stopped run recorded (its create sent, not landed). */
  async function stoppedMidMove() {
    n++;
    const table = `cases${n}`;
    const [open, closed] = [`Open${n}`, `Closed${n}`];
    const definition: SyncDefinitionInput = {
      name: table,
      source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' }, overlapSeconds: 0 },
      target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: open }, { list: closed }] },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
    };
    await h.db.pool.query(`CREATE TABLE ${table} (
      id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', table, 'updated_at');
    await h.define(definition);
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 'c${n}', 'OPEN')`);
    expect(await runPush(ctx, table, { trigger: 'test' })).toMatchObject({ created: 1 });
    const { rows } = await h.db.pool.query<{ h: string; d: string; item: string }>(
      `SELECT l.source_identity_hash AS h, l.definition_id AS d, l.sp_item_id AS item FROM arcore.sync_ledger l
         JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = $1`,
      [table],
    );
    const { h: hash, d: definitionId, item: openItem } = rows[0];
    const listId = async (name: string) =>
      (
        await h.db.pool.query<{ list_id: string }>(
          'SELECT list_id FROM arcore.sync_definition_lists WHERE definition_id = $1 AND list_name = $2',
          [definitionId, name],
        )
      ).rows[0]?.list_id;
    await h.db.pool.query(`UPDATE ${table} SET status = 'CLOSED' WHERE id = 1`);
    await h.db.pool.query(
      `INSERT INTO arcore.sync_moves (definition_id, source_identity_hash, from_list_id, from_item_id, to_list_id)
       VALUES ($1, $2, $3, $4, $5)`,
      [definitionId, hash, await listId(open), openItem, await listId(closed)],
    );
    const lands = async () => {
      const res = await h.asUser('POST', `/sites/${h.siteId}/lists/${closed}/items`, {
        fields: { Title: `c${n}`, Status: 'CLOSED', ArcoreKey: hash },
      });
      expect(res.status).toBe(201);
      return (res.body as { id: string }).id;
    };
    const waitOver = () =>
      h.db.pool.query(
        `UPDATE arcore.sync_moves SET checked_at = now() - make_interval(secs => $3)
          WHERE definition_id = $1 AND source_identity_hash = $2`,
        [definitionId, hash, PENDING_CREATE_SETTLE_SECONDS + 1],
      );
    // Where the row's items are: 'Open' and 'Closed' for its two lists.
    const where = async () =>
      (await itemsWithKey(h, [open, closed], hash)).map((i) => (i.list === open ? 'Open' : 'Closed'));
    // The run that recorded the move was killed: its row is ABANDONED.
    await h.db.pool.query(
      `UPDATE arcore.sync_runs SET status = 'ABANDONED', finished_at = now() WHERE id = (
         SELECT max(id) FROM arcore.sync_runs WHERE definition_id = $1 AND run_type = 'PUSH')`,
      [definitionId],
    );
    const push = () => runPush(ctx, table, { trigger: 'test' });
    const pull = () => runPull(ctx, table, { trigger: 'test' });
    const tableRows = async () => (await h.db.pool.query(`SELECT id FROM ${table}`)).rows;
    return { table, push, pull, lands, waitOver, where, rows: tableRows };
  }

  it('the next run does not move the row again while the create may land; once it landed, the move finishes', async () => {
    const s = await stoppedMidMove();
    await s.push();
    expect(await s.where()).toEqual(['Open']);
    await s.lands();
    await s.push(); // inside the wait: SharePoint is not asked again, nothing moves
    expect(await s.where()).toEqual(['Open', 'Closed']);
    await s.waitOver();
    await s.push();
    expect(await s.where()).toEqual(['Closed']);
  });

  it('a move whose create never landed is made again once the wait is over, once', async () => {
    const s = await stoppedMidMove();
    await s.push();
    expect(await s.where()).toEqual(['Open']);
    await s.waitOver();
    await s.push();
    expect(await s.where()).toEqual(['Closed']);
    await s.push();
    expect(await s.where()).toEqual(['Closed']);
  });

  it('a row deleted while its move waits leaves no item behind when the create lands late, and is not pulled back', async () => {
    const s = await stoppedMidMove();
    await s.push(); // first miss: the move waits
    await h.db.pool.query(`DELETE FROM ${s.table} WHERE id = 1`);
    await s.push(); // the delete takes the old item, inside the wait
    await s.push();
    await s.lands(); // the stopped run's create lands now, inside the wait
    await s.pull(); // the pull leaves an item of a move in flight to the push
    expect(await s.rows()).toEqual([]);
    await s.waitOver();
    await s.push();
    await s.pull();
    expect(await s.where()).toEqual([]);
    expect(await s.rows()).toEqual([]);
  });

  it('a row deleted and inserted again while its move waits gets its item once the wait is over', async () => {
    const s = await stoppedMidMove();
    await s.push(); // first miss: the move waits
    await h.db.pool.query(`DELETE FROM ${s.table} WHERE id = 1`);
    await s.push(); // the delete takes the old item, inside the wait; the entry goes
    await h.db.pool.query(`INSERT INTO ${s.table} (id, title, status) VALUES (1, 'again', 'CLOSED')`);
    await h.db.pool.query('SELECT pg_sleep(0.05)');
    await h.db.pool.query(`INSERT INTO ${s.table} (id, title, status) VALUES (2, 'other', 'OPEN')`);
    await s.push(); // row 1 waits for its move (parked) while the cursor passes it
    await s.lands(); // the stopped run's create lands, inside the wait
    await s.waitOver();
    await s.push(); // the late item goes (no pair names it), and the parked row is pushed again
    await s.push();
    expect(await s.where()).toEqual(['Closed']);
  });
});

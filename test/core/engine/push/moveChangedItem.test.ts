import type { SyncDefinitionInput } from '../../../../src/core/definition/schema';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { installCursorTrigger } from '../../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';
import { itemsWithKey, spEdit } from '../../../support/routed';

/**
 * docs/design.md "Moves": a move whose old item SharePoint changed since the last sync (its delete meets a 412)
 * decides that change as a push's update decides a 412 (I7), then moves the row: the item never stays in a list
 * the row no longer routes to, whether or not the definition pulls.
 */
describe('I7 a move meeting a changed old item', () => {
  let h: Harness;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  async function routedCase(opts: { pull: boolean; policy?: SyncDefinitionInput['conflictPolicy'] }) {
    n++;
    const table = `mc${n}`;
    const [open, closed] = [`MOpen${n}`, `MClosed${n}`];
    const definition: SyncDefinitionInput = {
      name: table,
      source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' }, overlapSeconds: 0 },
      target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: open }, { list: closed }] },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
        { source: 'note', target: 'Note' },
      ],
      pull: { enabled: opts.pull },
      ...(opts.policy ? { conflictPolicy: opts.policy } : {}),
    };
    await h.db.pool.query(`CREATE TABLE ${table} (
      id integer PRIMARY KEY, title text, status text, note text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', table, 'updated_at');
    await h.define(definition);
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status, note) VALUES (1, 't', 'OPEN', 'n')`);
    expect(await runPush(h.ctx, table, { trigger: 'test' })).toMatchObject({ created: 1 });
    if (opts.pull) await runPull(h.ctx, table, { trigger: 'test' });
    const { rows } = await h.db.pool.query<{ h: string; item: string }>(
      `SELECT l.source_identity_hash AS h, l.sp_item_id AS item FROM arcore.sync_ledger l
         JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = $1`,
      [table],
    );
    const where = async () =>
      (await itemsWithKey(h, [open, closed], rows[0].h)).map((i) => ({
        list: i.list === open ? 'Open' : 'Closed',
        Title: i.fields.Title,
        Status: i.fields.Status,
        Note: i.fields.Note,
      }));
    const row = async () =>
      (await h.db.pool.query(`SELECT title, status, note FROM ${table} WHERE id = 1`)).rows[0] as unknown;
    const push = () => runPush(h.ctx, table, { trigger: 'test' });
    const pull = () => runPull(h.ctx, table, { trigger: 'test' });
    return { table, open, item: rows[0].item, where, row, push, pull };
  }

  it('without pulls: an item edited in SharePoint still moves, its edit decided as an update meeting it would be', async () => {
    const c = await routedCase({ pull: false });
    await spEdit(h, c.open, c.item, { Title: 'sp' });
    await h.db.pool.query(`UPDATE ${c.table} SET status = 'CLOSED' WHERE id = 1`);
    await c.push();
    await c.push();
    expect(await c.where()).toEqual([{ list: 'Closed', Title: 'sp', Status: 'CLOSED', Note: 'n' }]);
    expect(await c.row()).toEqual({ title: 'sp', status: 'CLOSED', note: 'n' });
    await c.push();
    expect(await c.where()).toEqual([{ list: 'Closed', Title: 'sp', Status: 'CLOSED', Note: 'n' }]);
  });

  it('an item whose mapped values SharePoint left as they were (only its version changed) moves without a pull', async () => {
    const c = await routedCase({ pull: true });
    await spEdit(h, c.open, c.item, { Title: 't' }); // a save that changes nothing mapped: a new eTag
    await h.db.pool.query(`UPDATE ${c.table} SET status = 'CLOSED' WHERE id = 1`);
    await c.push();
    await c.push();
    expect(await c.where()).toEqual([{ list: 'Closed', Title: 't', Status: 'CLOSED', Note: 'n' }]);
    await c.pull();
    expect(await c.row()).toEqual({ title: 't', status: 'CLOSED', note: 'n' });
  });

  it('an edit of another field in SharePoint is kept and the item moves (both changes merged)', async () => {
    const c = await routedCase({ pull: true });
    await spEdit(h, c.open, c.item, { Note: 'sp note' });
    await h.db.pool.query(`UPDATE ${c.table} SET status = 'CLOSED' WHERE id = 1`);
    await c.push();
    await c.push();
    expect(await c.where()).toEqual([{ list: 'Closed', Title: 't', Status: 'CLOSED', Note: 'sp note' }]);
    expect(await c.row()).toEqual({ title: 't', status: 'CLOSED', note: 'sp note' });
    await c.pull();
    await c.push();
    expect(await c.where()).toEqual([{ list: 'Closed', Title: 't', Status: 'CLOSED', Note: 'sp note' }]);
  });

  it('MANUAL: a conflicting edit parks the row; its item stays where it is, once', async () => {
    const c = await routedCase({ pull: true, policy: 'MANUAL' });
    await spEdit(h, c.open, c.item, { Status: 'ON HOLD' });
    await h.db.pool.query(`UPDATE ${c.table} SET status = 'CLOSED' WHERE id = 1`);
    const s = await c.push();
    expect(s.conflicts).toBe(1);
    expect(await c.where()).toEqual([{ list: 'Open', Title: 't', Status: 'ON HOLD', Note: 'n' }]);
    await c.push();
    expect(await c.where()).toEqual([{ list: 'Open', Title: 't', Status: 'ON HOLD', Note: 'n' }]);
  });
});

import type { SyncDefinitionInput } from '../../../../src/core/definition/schema';
import { runPush } from '../../../../src/core/engine/push';
import { installCursorTrigger } from '../../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';
import { expectBalanced, itemsWithKey } from '../../../support/routed';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

describe('I8/I10 a move meeting an old item deleted in SharePoint (docs/design.md, moves)', () => {
  it('re-creates the item where the row routes, not in the old list it then has to move out of', async () => {
    const table = 'md1';
    const [open, closed] = ['MdOpen', 'MdClosed'];
    const definition: SyncDefinitionInput = {
      name: table,
      source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' }, overlapSeconds: 0 },
      target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: open }, { list: closed }] },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
      pull: { enabled: false },
    };
    await h.db.pool.query(`CREATE TABLE ${table} (
      id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', table, 'updated_at');
    await h.define(definition);
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 't', 'OPEN')`);
    expect(await runPush(h.ctx, table, { trigger: 'test' })).toMatchObject({ created: 1 });
    const { rows } = await h.db.pool.query<{ h: string; item: string }>(
      `SELECT source_identity_hash AS h, sp_item_id AS item FROM arcore.sync_ledger`,
    );
    // A SharePoint user deletes the item; the row's status changes in Postgres (it now routes to Closed).
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${open}/items/${rows[0].item}`)).status).toBe(
      204,
    );
    await h.db.pool.query(`UPDATE ${table} SET status = 'CLOSED' WHERE id = 1`);

    const first = await runPush(h.ctx, table, { trigger: 'test' });
    expect(first.error).toBeNull();
    expectBalanced(first);
    const afterFirst = (await itemsWithKey(h, [open, closed], rows[0].h)).map((i) => i.list);
    const second = await runPush(h.ctx, table, { trigger: 'test' });
    expectBalanced(second);
    const afterSecond = (await itemsWithKey(h, [open, closed], rows[0].h)).map((i) => i.list);
    // End state: one item, in Closed.
    expect(afterSecond).toEqual([closed]);
    // Re-created at once where the row routes (a conflict the policy decided: SharePoint deleted, Postgres
    // changed), so the second push has nothing to move.
    expect({ afterFirst, conflicts: first.conflicts, second: [second.created, second.moved] }).toEqual({
      afterFirst: [closed],
      conflicts: 1,
      second: [0, 0],
    });
  });
  it('leaves no parked failure behind', async () => {
    const table = 'mdp1';
    const [open, closed] = ['MdpOpen', 'MdpClosed'];
    const definition: SyncDefinitionInput = {
      name: table,
      source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' }, overlapSeconds: 0 },
      target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: open }, { list: closed }] },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
      pull: { enabled: false },
    };
    await h.db.pool.query(`CREATE TABLE ${table} (
    id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', table, 'updated_at');
    await h.define(definition);
    await h.db.pool.query(`INSERT INTO ${table} (id, title, status) VALUES (1, 't', 'OPEN')`);
    expect(await runPush(h.ctx, table, { trigger: 'test' })).toMatchObject({ created: 1 });
    const { rows } = await h.db.pool.query<{ item: string }>(
      `SELECT l.sp_item_id AS item FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = '${table}'`,
    );
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${open}/items/${rows[0].item}`)).status).toBe(
      204,
    );
    await h.db.pool.query(`UPDATE ${table} SET status = 'CLOSED' WHERE id = 1`);

    h.emulator.control.clearRequestLog();
    const first = await runPush(h.ctx, table, { trigger: 'test' });
    expect(first.error).toBeNull();
    const log = h.emulator.control.requestLog();
    const parked = (
      await h.db.pool.query<{ last_error: string }>(
        `SELECT last_error FROM arcore.sync_failures WHERE status = 'PARKED'`,
      )
    ).rows.map((r) => r.last_error);
    // The item is created, undone and re-created where the row routes (one create and one delete more than a
    // direct move: docs/design.md); nothing is left parked, since nothing is owed.
    expect({
      parked,
      creates: log.filter((r) => r.method === 'POST' && /\/items$/.test(r.path)).length,
    }).toEqual({
      parked: [],
      creates: 2,
    });
  });
});

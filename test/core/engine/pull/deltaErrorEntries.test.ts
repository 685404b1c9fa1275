import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { readCursor } from '../../../../src/core/store/cursors';
import { getDefinition } from '../../../../src/core/store/definitions';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * I8 and I12 (docs/design.md): graph.md says a delta page's `value` can carry an `{"error": …}` entry; Graph puts it
 * where an item's entry would be and names no item (src/emulator/deltaErrors.ts cites the report). The pull only
 * logged it: the page was applied and the delta link moved past it, so the change behind it was lost and the run
 * said SUCCEEDED. Worse, in a full enumeration (after a 410) the item behind the error was never marked seen, so the
 * reconcile of unseen pairs at the end took it for deleted in SharePoint and deleted its row. A feed that carried
 * error entries is now not concluded: the run is PARTIAL, a change feed keeps its position before them, and an
 * enumeration deletes nothing for what it did not see and starts over at the next pull.
 */
describe('I8/I12 {"error"} entries in the delta feed', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  const rows = async (table: string) =>
    (await h.db.pool.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY id`)).rows.map(
      (r) => r.name,
    );
  const itemId = async (list: string, title: string) =>
    ((await h.items(list)).find((i) => i.fields.Title === title) as { id: string }).id;
  const spEdit = async (list: string, title: string, to: string) => {
    const res = await h.asUser(
      'PATCH',
      `/sites/${h.siteId}/lists/${list}/items/${await itemId(list, title)}/fields`,
      {
        Title: to,
      },
    );
    expect(res.status).toBe(200);
  };
  const setUp = async (name: string) => {
    await h.db.pool
      .query(`CREATE TABLE ${name} (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${name} (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')`);
    await h.define({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [{ source: 'name', target: 'Title' }],
    });
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 3 });
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({ status: 'SUCCEEDED' });
  };
  const targetCursor = async (name: string) =>
    readCursor(h.db.pool, (await getDefinition(h.db.pool, name)).id, 'TARGET');

  it('an enumeration after a 410 deletes no row for the item it could not read, and starts over next time', async () => {
    await setUp('ee');
    h.emulator.control.injectDeltaError({ siteId: h.siteId, list: 'ee', itemId: await itemId('ee', 'two') });
    h.emulator.control.expireDeltaTokens();
    const pull = await runPull(h.ctx, 'ee', { trigger: 'test' });
    expect(pull).toMatchObject({ status: 'PARTIAL', complete: true, deleted: 0, failed: 1 });
    expect(await rows('ee')).toEqual(['one', 'two', 'three']);
    // Not concluded: no delta link kept, so the next pull reads the whole list again.
    expect(await targetCursor('ee')).toMatchObject({ value: null, progress: null });

    // The error persists: every pull ends (no loop, no continuation asked), says PARTIAL and deletes nothing.
    for (let i = 0; i < 2; i++)
      expect(await runPull(h.ctx, 'ee', { trigger: 'test' })).toMatchObject({
        status: 'PARTIAL',
        complete: true,
        deleted: 0,
      });
    expect(await rows('ee')).toEqual(['one', 'two', 'three']);

    // Once Graph gives the item again, the enumeration concludes, and an item deleted meanwhile is reconciled: the
    // passes before saw it, and a pass that reused their marks would have kept its row.
    h.emulator.control.clearDeltaErrors();
    const three = await itemId('ee', 'three');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/ee/items/${three}`)).status).toBe(204);
    expect(await runPull(h.ctx, 'ee', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      deleted: 1,
    });
    expect(await rows('ee')).toEqual(['one', 'two']);
    expect((await targetCursor('ee'))?.value).toMatch(/token=/);
  });

  it('an enumeration its time budget stopped after a page with errors is still not concluded by its continuation', async () => {
    await h.db.pool
      .query(`CREATE TABLE be (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO be (id, name) SELECT i, 'r' || i FROM generate_series(1, 250) i`);
    await h.define({
      name: 'be',
      source: { table: 'be', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'be' },
      fields: [{ source: 'name', target: 'Title' }],
    });
    expect(await runPush(h.ctx, 'be', { trigger: 'test' })).toMatchObject({ created: 250 });
    expect(await runPull(h.ctx, 'be', { trigger: 'test' })).toMatchObject({ status: 'SUCCEEDED' });
    // On the enumeration's first page (200 items a page, in id order).
    h.emulator.control.injectDeltaError({ siteId: h.siteId, list: 'be', itemId: await itemId('be', 'r5') });
    h.emulator.control.expireDeltaTokens();
    expect(await runPull(h.ctx, 'be', { trigger: 'test', maxSeconds: 0.001 })).toMatchObject({
      status: 'PARTIAL',
      complete: false,
      failed: 1,
    });
    // The continuation reads only the last page, which carries no error: the progress marker remembered them.
    expect(await runPull(h.ctx, 'be', { trigger: 'continuation' })).toMatchObject({
      status: 'PARTIAL',
      complete: true,
      deleted: 0,
    });
    expect((await h.db.pool.query('SELECT 1 FROM be')).rowCount).toBe(250);
    expect(await targetCursor('be')).toMatchObject({ value: null, progress: null });
  });

  it('a change feed does not store a link past the page with errors: the change is read again next pull', async () => {
    await setUp('ce');
    const before = await targetCursor('ce');
    await spEdit('ce', 'one', 'one edited');
    await spEdit('ce', 'two', 'two edited');
    h.emulator.control.injectDeltaError({
      siteId: h.siteId,
      list: 'ce',
      itemId: await itemId('ce', 'one edited'),
      code: 'generalException',
      count: 2,
    });
    const logged: string[] = [];
    const ctx = { ...h.ctx, log: { ...h.ctx.log, error: (m: string) => logged.push(m) } };
    expect(await runPull(ctx, 'ce', { trigger: 'test' })).toMatchObject({
      status: 'PARTIAL',
      complete: true,
      failed: 1,
    });
    // The other change on the page is applied; the position stays where it was.
    expect(await rows('ce')).toEqual(['one', 'two edited', 'three']);
    expect(await targetCursor('ce')).toMatchObject({ value: before?.value, progress: null });
    expect(logged.join('\n')).toMatch(/carried 1 error entry in place of items.*reads those changes again/);
    expect(await runPull(h.ctx, 'ce', { trigger: 'test' })).toMatchObject({ status: 'PARTIAL' });
    expect(await rows('ce')).toEqual(['one', 'two edited', 'three']);

    // The entry is gone (count 2 used up): the change comes through, and the link moves on.
    expect(await runPull(h.ctx, 'ce', { trigger: 'test' })).toMatchObject({ status: 'SUCCEEDED', failed: 0 });
    expect(await rows('ce')).toEqual(['one edited', 'two edited', 'three']);
    expect((await targetCursor('ce'))?.value).not.toBe(before?.value);
  });
});

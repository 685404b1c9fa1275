import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { resolveConflict } from '../../../../src/core/engine/resolve';
import { verifyDefinition } from '../../../../src/core/engine/verify';
import { definitionStatus } from '../../../../src/core/ops/status';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * I8 (docs/design.md): an item deleted in SharePoint and restored from the recycle bin comes back under its id, with
 * the values it had (the emulator's `restoreItem`, as a user does in SharePoint). Under deletes.pull IGNORE the row
 * was kept with its pair (ITEM_DELETED), which the restored item takes again. Under SOFT the row was kept, flagged,
 * without its pair: the restored item carries the row's hidden key, and the flagged row takes it again, unflagged
 * (pull/claims.ts claimsOfFlaggedRows). Under PROPAGATE the row is gone and the item is new to the pull, as any item
 * without a row.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ deltaOrder: 'stable' });
});
afterAll(async () => h.close());

type Policy = 'PROPAGATE' | 'SOFT' | 'IGNORE';

async function setUp(
  name: string,
  pull: Policy,
  conflictPolicy: 'SOURCE_WINS' | 'MANUAL' = 'SOURCE_WINS',
): Promise<string> {
  await h.db.pool
    .query(`CREATE TABLE ${name} (code text PRIMARY KEY, name text, gone boolean NOT NULL DEFAULT false,
      updated_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO ${name} (code, name) VALUES ('A', 'first'), ('B', 'second')`);
  await h.define({
    name,
    source: { table: name, key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: SITE, list: name },
    fields: [{ source: 'name', target: 'Title' }],
    deletes: { push: 'PROPAGATE', pull, ...(pull === 'SOFT' ? { pullSoftColumn: 'gone' } : {}) },
    conflictPolicy,
  });
  expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 2 });
  await runPull(h.ctx, name, { trigger: 'test' });
  const a = (await h.items(name)).find((i) => i.fields.Title === 'first');
  if (!a) throw new Error('item A missing');
  return a.id;
}

const run = async (name: string) => ({
  pull: await runPull(h.ctx, name, { trigger: 'test' }),
  push: await runPush(h.ctx, name, { trigger: 'test' }),
});

const rows = async (name: string) =>
  (await h.db.pool.query(`SELECT code, name, gone FROM ${name} ORDER BY code`)).rows;
const ledger = async (name: string) =>
  (
    await h.db.pool.query<{ code: string; item: string | null; state: string }>(
      `SELECT l.source_identity->>'code' AS code, l.sp_item_id AS item, l.state FROM arcore.sync_ledger l
        JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = $1 ORDER BY 1`,
      [name],
    )
  ).rows;

/** Ids of the definition's open conflicts. */
const openConflicts = async (name: string) =>
  (
    await h.db.pool.query<{ id: string }>(
      `SELECT c.id::text FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1 AND c.status = 'OPEN'`,
      [name],
    )
  ).rows;

/**
 * Row A and its restored item paired again, as row B is: both rows live with their values, one item each, nothing
 * written by a further cycle (`settled`), and an edit of row A reaching the restored item.
 */
async function expectPairedAndSyncing(
  name: string,
  itemA: string,
  settled: Awaited<ReturnType<typeof run>>,
): Promise<void> {
  expect(await rows(name)).toEqual([
    { code: 'A', name: 'first', gone: false },
    { code: 'B', name: 'second', gone: false },
  ]);
  expect((await h.items(name)).map((i) => i.fields.Title).sort()).toEqual(['first', 'second']);
  expect(await ledger(name)).toEqual([
    { code: 'A', item: itemA, state: 'SYNCED' },
    { code: 'B', item: expect.any(String), state: 'SYNCED' },
  ]);
  expect(settled.pull).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 0, deleted: 0 });
  expect(settled.push).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 0, deleted: 0 });
  await h.db.pool.query(`UPDATE ${name} SET name = 'first, edited' WHERE code = 'A'`);
  expect((await run(name)).push).toMatchObject({ updated: 1, created: 0 });
  expect((await h.items(name)).find((i) => i.id === itemA)?.fields.Title).toBe('first, edited');
}

/**
 * Under deletes.pull SOFT and MANUAL: item A deleted in SharePoint (its row flagged), the row edited while flagged,
 * the item restored from the recycle bin, and a pull that meets the two as one conflict left for `resolve`.
 */
async function restoredAfterFlaggedEdit(name: string): Promise<string> {
  const itemA = await setUp(name, 'SOFT', 'MANUAL');
  expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${itemA}`)).status).toBe(204);
  await run(name);
  await h.db.pool.query(`UPDATE ${name} SET name = 'edited while flagged' WHERE code = 'A'`);
  h.emulator.control.restoreItem(h.siteId, name, itemA, 'alice');
  expect((await run(name)).pull).toMatchObject({ conflicts: 1, failed: 0 });
  return itemA;
}

describe('an item deleted in SharePoint, then restored from the recycle bin', () => {
  it('deletes.pull IGNORE: the kept row and the restored item are paired again and sync on', async () => {
    const name = 'bin_ignore';
    const itemA = await setUp(name, 'IGNORE');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${itemA}`)).status).toBe(204);
    await run(name);
    expect(await ledger(name)).toEqual([
      { code: 'A', item: itemA, state: 'ITEM_DELETED' },
      { code: 'B', item: expect.any(String), state: 'SYNCED' },
    ]);

    h.emulator.control.restoreItem(h.siteId, name, itemA, 'alice');
    await run(name);
    await expectPairedAndSyncing(name, itemA, await run(name));
    // And SharePoint's edits reach the row.
    expect(
      (
        await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemA}/fields`, {
          Title: 'from SP',
        })
      ).status,
    ).toBe(200);
    expect((await run(name)).pull).toMatchObject({ updated: 1 });
    expect((await rows(name))[0]).toMatchObject({ code: 'A', name: 'from SP' });
  }, 60_000);

  it('deletes.pull SOFT: the flagged row takes the restored item again, unflagged, and syncs on', async () => {
    const name = 'bin_soft';
    const itemA = await setUp(name, 'SOFT');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${itemA}`)).status).toBe(204);
    expect((await run(name)).pull).toMatchObject({ deleted: 1 });
    expect((await rows(name))[0]).toMatchObject({ code: 'A', gone: true });
    expect((await ledger(name)).map((e) => e.code)).toEqual(['B']);

    h.emulator.control.restoreItem(h.siteId, name, itemA, 'alice');
    // Before the fix: the item was parked as a new item (its key not mapped from SharePoint), the row stayed flagged,
    // and clearing the flag made the push create a second item.
    const restored = await run(name);
    expect(restored.pull).toMatchObject({ status: 'SUCCEEDED', updated: 1, failed: 0 });
    expect(restored.push).toMatchObject({ status: 'SUCCEEDED', created: 0 });
    await expectPairedAndSyncing(name, itemA, await run(name));
  }, 60_000);

  it('deletes.pull SOFT: a row edited while flagged meets its restored item under the conflict policy', async () => {
    const name = 'bin_soft_edited';
    const itemA = await setUp(name, 'SOFT');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${itemA}`)).status).toBe(204);
    await run(name);
    await h.db.pool.query(`UPDATE ${name} SET name = 'edited while flagged' WHERE code = 'A'`);
    h.emulator.control.restoreItem(h.siteId, name, itemA, 'alice');
    const restored = await run(name);
    // No base is known (SOFT dropped the pair): the differing field is a conflict, decided by the definition's policy
    // (SOURCE_WINS, the default: Postgres's value is written to the item).
    expect(restored.pull).toMatchObject({ conflicts: 1, failed: 0 });
    await run(name);
    expect((await rows(name))[0]).toEqual({ code: 'A', name: 'edited while flagged', gone: false });
    expect((await h.items(name)).find((i) => i.id === itemA)?.fields.Title).toBe('edited while flagged');
    expect((await h.items(name)).length).toBe(2);
  }, 60_000);

  it('deletes.pull SOFT under MANUAL: the row is unflagged at once, and the values wait for resolve', async () => {
    const name = 'bin_soft_manual';
    const itemA = await restoredAfterFlaggedEdit(name);
    // The item is back: the flag goes now; the pair is kept for resolve (found by the next pull too).
    expect((await rows(name))[0]).toEqual({ code: 'A', name: 'edited while flagged', gone: false });
    expect((await ledger(name))[0]).toEqual({ code: 'A', item: itemA, state: 'ITEM_DELETED' });
    expect((await run(name)).pull).toMatchObject({ failed: 0, created: 0 });
    const open = await openConflicts(name);
    expect(open).toHaveLength(1);
    // `status` shows an open conflict, not a row kept without its item (the entry is ITEM_DELETED until resolve).
    expect((await definitionStatus(h.ctx.meta, name))[0]).toMatchObject({
      openConflicts: 1,
      itemDeletedRows: 0,
      itemDeletedAdvice: null,
    });
    // `verify` compares the revived pair as a pair: one difference, no row kept without its item, no item unpaired.
    const waiting = await verifyDefinition(h.ctx, name);
    expect(waiting).toMatchObject({
      agree: false,
      paired: 2,
      differences: 1,
      softDeletedRows: 0,
      rowsWithoutItem: 0,
      itemsWithoutRow: 0,
    });
    expect(waiting.sample.differences).toEqual([
      expect.objectContaining({ itemId: itemA, postgres: 'edited while flagged', sharepoint: 'first' }),
    ]);
    await resolveConflict(h.ctx, open[0].id, { take: 'postgres' }, 'test');
    expect(await verifyDefinition(h.ctx, name)).toMatchObject({ agree: true, paired: 2, softDeletedRows: 0 });
    expect((await h.items(name)).find((i) => i.id === itemA)?.fields.Title).toBe('edited while flagged');
    expect((await ledger(name))[0]).toEqual({ code: 'A', item: itemA, state: 'SYNCED' });
    const settled = await run(name);
    expect(settled.pull).toMatchObject({ created: 0, updated: 0, deleted: 0, failed: 0 });
    expect(settled.push).toMatchObject({ created: 0, updated: 0, deleted: 0 });
    expect((await rows(name))[0]).toEqual({ code: 'A', name: 'edited while flagged', gone: false });
  }, 60_000);

  it('deletes.pull SOFT under MANUAL: the row deleted while its revived pair waits keeps the pair for resolve', async () => {
    const name = 'bin_soft_manual_gone';
    const itemA = await restoredAfterFlaggedEdit(name);
    await h.db.pool.query(`DELETE FROM ${name} WHERE code = 'A'`);
    // Before the fix the push dropped the pair (an ITEM_DELETED entry has no item to delete, it took), leaving the
    // restored item unpaired and the conflict open with nothing to resolve against.
    expect((await run(name)).push).toMatchObject({ deleted: 0, failed: 0 });
    expect((await ledger(name))[0]).toEqual({ code: 'A', item: itemA, state: 'ITEM_DELETED' });
    const open = await openConflicts(name);
    expect(open).toHaveLength(1);
    // Postgres's side is the row's delete: the item goes too (deletes.push PROPAGATE).
    await resolveConflict(h.ctx, open[0].id, { take: 'postgres' }, 'test');
    await run(name);
    expect((await h.items(name)).map((i) => i.fields.Title)).toEqual(['second']);
    expect((await ledger(name)).map((e) => e.code)).toEqual(['B']);
  }, 60_000);

  it('deletes.pull SOFT: an unflag Postgres refuses parks the item; the rest of the page is applied', async () => {
    const name = 'bin_soft_refused';
    const itemA = await setUp(name, 'SOFT');
    // A common soft-delete index: names unique among live rows.
    await h.db.pool.query(`CREATE UNIQUE INDEX ${name}_live_name ON ${name} (name) WHERE NOT gone`);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${itemA}`)).status).toBe(204);
    await run(name);
    await h.db.pool.query(`INSERT INTO ${name} (code, name) VALUES ('C', 'first')`);
    await run(name);
    h.emulator.control.restoreItem(h.siteId, name, itemA, 'alice');
    const itemB = (await h.items(name)).find((i) => i.fields.Title === 'second')?.id as string;
    expect(
      (
        await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemB}/fields`, {
          Title: 'second, edited',
        })
      ).status,
    ).toBe(200);
    // Before the fix, the refused statement aborted the page: every pull failed on it (I12).
    const first = await run(name);
    expect(first.pull).toMatchObject({ status: 'PARTIAL', failed: 1, updated: 1 });
    expect((await rows(name)).map((r) => [r.code, r.name, r.gone])).toEqual([
      ['A', 'first', true],
      ['B', 'second, edited', false],
      ['C', 'first', false],
    ]);
    const { rows: parked } = await h.db.pool.query<{ item_key: string }>(
      `SELECT f.item_key FROM arcore.sync_failures f JOIN arcore.sync_definitions d ON d.id = f.definition_id
        WHERE d.name = $1 AND f.status = 'PARKED' AND f.direction = 'PULL'`,
      [name],
    );
    expect(parked).toEqual([{ item_key: itemA }]);
  }, 60_000);

  it('deletes.pull SOFT through a view Postgres cannot lock: the restored item, edited, reaches the unflagged row', async () => {
    // The row is read without a lock and checked unchanged before the pull writes it: the flag the pull clears must
    // not be taken for someone else's edit (it is cleared after that write).
    const name = 'bin_soft_view';
    await h.db.pool
      .query(`CREATE TABLE ${name} (code text PRIMARY KEY, name text, gone boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${name} (code, name) VALUES ('A', 'first'), ('B', 'second');
      CREATE VIEW ${name}_v AS SELECT DISTINCT code, name, gone, updated_at FROM ${name};
      CREATE FUNCTION ${name}_write() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE ${name} SET name = NEW.name, gone = NEW.gone, updated_at = now() WHERE code = OLD.code;
        RETURN NEW;
      END $$;
      CREATE TRIGGER ${name}_write INSTEAD OF UPDATE ON ${name}_v FOR EACH ROW EXECUTE FUNCTION ${name}_write()`);
    await h.define({
      name,
      source: { table: `${name}_v`, key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [{ source: 'name', target: 'Title' }],
      deletes: { push: 'PROPAGATE', pull: 'SOFT', pullSoftColumn: 'gone' },
      conflictPolicy: 'DESTINATION_WINS',
    });
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 2 });
    await runPull(h.ctx, name, { trigger: 'test' });
    const itemA = (await h.items(name)).find((i) => i.fields.Title === 'first')?.id as string;
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${itemA}`)).status).toBe(204);
    await run(name);
    h.emulator.control.restoreItem(h.siteId, name, itemA, 'alice');
    expect(
      (
        await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemA}/fields`, {
          Title: 'restored, edited',
        })
      ).status,
    ).toBe(200);
    expect((await run(name)).pull).toMatchObject({ failed: 0 });
    expect((await h.db.pool.query(`SELECT code, name, gone FROM ${name} ORDER BY code`)).rows).toEqual([
      { code: 'A', name: 'restored, edited', gone: false },
      { code: 'B', name: 'second', gone: false },
    ]);
  }, 60_000);

  it('deletes.pull PROPAGATE: the row is gone, so the restored item is a new item to the pull; nothing is duplicated', async () => {
    const name = 'bin_propagate';
    const itemA = await setUp(name, 'PROPAGATE');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${itemA}`)).status).toBe(204);
    await run(name);
    expect((await rows(name)).map((r) => r.code)).toEqual(['B']);

    h.emulator.control.restoreItem(h.siteId, name, itemA, 'alice');
    const first = await run(name);
    // This table's key is not mapped from SharePoint and Postgres makes none: the item waits, parked, naming the
    // step (map the key, or let Postgres make it); the push creates nothing for it.
    expect(first.pull).toMatchObject({ status: 'PARTIAL', failed: 1 });
    expect(first.push).toMatchObject({ created: 0 });
    const { rows: parked } = await h.db.pool.query<{ item_key: string; last_error: string }>(
      `SELECT f.item_key, f.last_error FROM arcore.sync_failures f
         JOIN arcore.sync_definitions d ON d.id = f.definition_id WHERE d.name = $1 AND f.status = 'PARKED'`,
      [name],
    );
    expect(parked).toEqual([
      {
        item_key: itemA,
        last_error: expect.stringContaining('key column(s) code are not mapped from SharePoint'),
      },
    ]);
    expect((await h.items(name)).map((i) => i.fields.Title).sort()).toEqual(['first', 'second']);
    expect((await rows(name)).map((r) => r.code)).toEqual(['B']);
  }, 60_000);
});

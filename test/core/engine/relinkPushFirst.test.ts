import { provisionList } from '../../../src/core/engine/provision';
import { runPull } from '../../../src/core/engine/pull';
import { getConflict } from '../../../src/core/store/conflicts';
import { resolveConflict } from '../../../src/core/engine/resolve';
import { runPush } from '../../../src/core/engine/push';
import { relinkDefinition } from '../../../src/core/engine/relink';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/**
 * I15, I7: relink keeps the old list's synced values for each item it adopts. An adopted item whose values differ
 * from them (edited in the new list, or restored from an older export) must not carry its current eTag, or the
 * push's If-Match would "prove" it unchanged and a push running before the pull would overwrite it with no
 * conflict (found by review).
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await createProjectsTable(h.db);
});
afterAll(async () => h.close());

describe('I15/I7 (docs/design.md, relink): an adopted item that differs from the synced values is not proved unchanged', () => {
  it('an item edited in the new list and a Postgres edit of the same field are a conflict (DESTINATION_WINS keeps SharePoint)', async () => {
    await h.define(projectsDefinition({ conflictPolicy: 'DESTINATION_WINS' }));
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'one'), (2, 'two')");
    expect((await runPush(h.ctx, 'projects', { trigger: 'test' })).created).toBe(2);
    await runPull(h.ctx, 'projects', { trigger: 'test' });

    // The list is deleted and restored from an export; a user edits row 1's item in the new list.
    const kept = (await h.items('Projects')).map((i) => i.fields as { ArcoreKey: string; Title: string });
    const { body } = await h.asUser('GET', `/sites/${h.siteId}/lists/Projects`);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${(body as { id: string }).id}`)).status).toBe(
      204,
    );
    await provisionList(h.ctx, 'projects');
    for (const { ArcoreKey, Title } of kept) {
      const res = await h.asUser('POST', `/sites/${h.siteId}/lists/Projects/items`, {
        fields: { ArcoreKey, Title: Title === 'one' ? 'one edited in SharePoint' : Title },
      });
      expect(res.status).toBe(201);
    }
    // Meanwhile the same field is edited in Postgres (the refused runs did not move the cursor).
    await h.db.pool.query("UPDATE projects SET name = 'one edited in Postgres' WHERE id = 1");

    // Only the edited item differs from the values last synced; the other keeps its eTag.
    expect(await relinkDefinition(h.ctx, 'projects')).toMatchObject({
      adopted: 2,
      adoptedChanged: 1,
      toRecreate: 0,
    });
    // The scheduled push happens to run before the pull.
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    await runPull(h.ctx, 'projects', { trigger: 'test' });
    await runPush(h.ctx, 'projects', { trigger: 'test' });

    const conflicts = await h.db.pool.query('SELECT outcome, sharepoint_values FROM arcore.sync_conflicts');
    const title = (await h.items('Projects')).find((i) => i.fields.ArcoreKey === kept[0].ArcoreKey)?.fields
      .Title;
    const { rows } = await h.db.pool.query('SELECT name FROM projects WHERE id = 1');
    // DESTINATION_WINS: SharePoint's edit is kept on both sides.
    expect(title).toBe('one edited in SharePoint');
    expect(rows[0].name).toBe('one edited in SharePoint');
    // Both sides changed the field since the last sync: a conflict, recorded with SharePoint's value.
    expect(conflicts.rows).toEqual([
      expect.objectContaining({
        sharepoint_values: expect.objectContaining({ Title: 'one edited in SharePoint' }),
      }),
    ]);
  });

  it('a definition that does not pull: items restored from an older export are brought back to the synced values', async () => {
    await createProjectsTable(h.db, 'projects2');
    await h.define(
      projectsDefinition(
        {
          name: 'projects2',
          source: { table: 'projects2', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          pull: { enabled: false },
        },
        'Projects2',
      ),
    );
    await h.db.pool.query("INSERT INTO projects2 (id, name) VALUES (1, 'one'), (2, 'two')");
    expect((await runPush(h.ctx, 'projects2', { trigger: 'test' })).created).toBe(2);
    const exported = (await h.items('Projects2')).map(
      (i) => i.fields as { ArcoreKey: string; Title: string },
    );
    // A later edit reaches the old list; then the list is deleted and restored from the earlier export.
    await h.db.pool.query("UPDATE projects2 SET name = 'one v2' WHERE id = 1");
    expect((await runPush(h.ctx, 'projects2', { trigger: 'test' })).updated).toBe(1);
    const { body } = await h.asUser('GET', `/sites/${h.siteId}/lists/Projects2`);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${(body as { id: string }).id}`)).status).toBe(
      204,
    );
    await provisionList(h.ctx, 'projects2');
    for (const { ArcoreKey, Title } of exported) {
      const res = await h.asUser('POST', `/sites/${h.siteId}/lists/Projects2/items`, {
        fields: { ArcoreKey, Title },
      });
      expect(res.status).toBe(201);
    }
    expect(await relinkDefinition(h.ctx, 'projects2')).toMatchObject({
      adopted: 2,
      adoptedChanged: 1,
      toRecreate: 0,
    });
    for (let i = 0; i < 2; i++) await runPush(h.ctx, 'projects2', { trigger: 'test' });
    const titles = (await h.items('Projects2')).map((i) => i.fields.Title).sort();
    // Postgres is the only writer here: the list must end up holding what Postgres holds.
    expect(titles).toEqual(['one v2', 'two']);
  });
});

/**
 * I15, I7 (docs/design.md, relink; found by review r6): a MANUAL conflict left OPEN while the list is replaced
 * (deleted, restored from an export) and relinked. It named its item by the old list's id, which in the restored
 * list is another row's item: resolving it must write the row's own item, never that one.
 */
describe('I15/I7 (docs/design.md, relink): an open conflict across a relink', () => {
  it('relink re-points it to the row’s item; resolving writes that item, even from a stale id', async () => {
    await createProjectsTable(h.db, 'projects3');
    await h.define(
      projectsDefinition(
        {
          name: 'projects3',
          source: { table: 'projects3', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
          fields: [{ source: 'name', target: 'Title' }],
          conflictPolicy: 'MANUAL',
        },
        'Projects3',
      ),
    );
    await h.db.pool.query("INSERT INTO projects3 (id, name) VALUES (1, 'a'), (2, 'b')");
    expect((await runPush(h.ctx, 'projects3', { trigger: 'test' })).created).toBe(2);
    const before = await h.items('Projects3');
    const keyOf = (title: string) => before.find((i) => i.fields.Title === title)!.fields.ArcoreKey as string;
    const keyA = keyOf('a');
    const keyB = keyOf('b');
    const itemB = before.find((i) => i.fields.Title === 'b')!;

    // Both sides edit row 2: the push meets a 412 and parks a MANUAL conflict naming item B's id.
    const edited = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects3/items/${itemB.id}/fields`, {
      Title: 'b-sp',
    });
    expect(edited.status).toBe(200);
    await h.db.pool.query("UPDATE projects3 SET name = 'b-pg' WHERE id = 2");
    expect((await runPush(h.ctx, 'projects3', { trigger: 'test' })).conflicts).toBe(1);
    const { rows } = await h.db.pool.query<{ id: string }>(
      "SELECT c.id::text AS id FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id WHERE c.status = 'OPEN' AND d.name = 'projects3'",
    );
    expect(rows).toHaveLength(1);
    const open = (await getConflict(h.db.pool, rows[0].id))!;
    expect(open.itemId).toBe(itemB.id);

    // The list is deleted and restored from an export: item B first, then item A (new ids, swapped).
    const { body } = await h.asUser('GET', `/sites/${h.siteId}/lists/Projects3`);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${(body as { id: string }).id}`)).status).toBe(
      204,
    );
    await provisionList(h.ctx, 'projects3');
    for (const [key, title] of [
      [keyB, 'b-sp'],
      [keyA, 'a'],
    ]) {
      const res = await h.asUser('POST', `/sites/${h.siteId}/lists/Projects3/items`, {
        fields: { ArcoreKey: key, Title: title },
      });
      expect(res.status).toBe(201);
    }
    const restored = await h.items('Projects3');
    const restoredA = restored.find((i) => i.fields.ArcoreKey === keyA)!;
    const restoredB = restored.find((i) => i.fields.ArcoreKey === keyB)!;
    expect(restoredA.id).toBe(itemB.id); // the old id of B now names A's item
    await relinkDefinition(h.ctx, 'projects3');
    expect((await getConflict(h.db.pool, open.id))!.itemId).toBe(restoredB.id);

    // A conflict still naming the old id (recorded by a worker that relinked before this check existed): resolve
    // trusts only the id the pair names and finds the row's item by its hidden key.
    await h.db.pool.query('UPDATE arcore.sync_conflicts SET sp_item_id = $2 WHERE id = $1', [
      open.id,
      itemB.id,
    ]);
    const resolved = await resolveConflict(h.ctx, open.id, { take: 'postgres' }, 'test').catch(
      (err: Error) => err.message,
    );
    const byKey = new Map((await h.items('Projects3')).map((i) => [i.fields.ArcoreKey, i.fields.Title]));
    expect({ A: byKey.get(keyA), B: byKey.get(keyB), resolved }).toEqual({
      A: 'a',
      B: 'b-pg',
      resolved: expect.objectContaining({
        conflictId: open.id,
        status: 'RESOLVED',
        effect: 'values-written',
      }),
    });
  });
});

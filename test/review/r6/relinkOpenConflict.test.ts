/**
 * r6: a MANUAL conflict left OPEN while the definition's list is replaced (deleted and restored from an export) and
 * relinked. The conflict names its item by the old list's id; in the restored list that id is another item. Resolving
 * it must write the conflict's own item (found by the row's pair or hidden key), never another row's item.
 */
import { getConflict } from '../../../src/core/store/conflicts';
import { provisionList } from '../../../src/core/engine/provision';
import { relinkDefinition } from '../../../src/core/engine/relink';
import { resolveConflict } from '../../../src/core/engine/resolve';
import { runPush } from '../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

describe('I15, I7 an open conflict across a relink', () => {
  it('resolving it writes the row’s own item in the restored list, not the item that now has its old id', async () => {
    await createProjectsTable(h.db);
    await h.define(
      projectsDefinition({ fields: [{ source: 'name', target: 'Title' }], conflictPolicy: 'MANUAL' }),
    );
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a'), (2, 'b')");
    expect((await runPush(h.ctx, 'projects', { trigger: 'test' })).created).toBe(2);
    const before = await h.items('Projects');
    const keyOf = (title: string) => before.find((i) => i.fields.Title === title)!.fields.ArcoreKey as string;
    const keyA = keyOf('a');
    const keyB = keyOf('b');
    const itemB = before.find((i) => i.fields.Title === 'b')!;

    // Both sides edit row 2: the push meets a 412 and parks a MANUAL conflict naming item B's id.
    const edited = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${itemB.id}/fields`, {
      Title: 'b-sp',
    });
    expect(edited.status).toBe(200);
    await h.db.pool.query("UPDATE projects SET name = 'b-pg' WHERE id = 2");
    expect((await runPush(h.ctx, 'projects', { trigger: 'test' })).conflicts).toBe(1);
    const { rows } = await h.db.pool.query<{ id: string }>(
      "SELECT id::text AS id FROM arcore.sync_conflicts WHERE status = 'OPEN'",
    );
    expect(rows).toHaveLength(1);
    const open = (await getConflict(h.db.pool, rows[0].id))!;
    expect(open.itemId).toBe(itemB.id);

    // The list is deleted and restored from an export: item B first, then item A (new ids, swapped).
    const { body } = await h.asUser('GET', `/sites/${h.siteId}/lists/Projects`);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${(body as { id: string }).id}`)).status).toBe(
      204,
    );
    await provisionList(h.ctx, 'projects');
    for (const [key, title] of [
      [keyB, 'b-sp'],
      [keyA, 'a'],
    ]) {
      const res = await h.asUser('POST', `/sites/${h.siteId}/lists/Projects/items`, {
        fields: { ArcoreKey: key, Title: title },
      });
      expect(res.status).toBe(201);
    }
    const restoredA = (await h.items('Projects')).find((i) => i.fields.ArcoreKey === keyA)!;
    expect(restoredA.id).toBe(itemB.id); // the old id of B now names A's item
    await relinkDefinition(h.ctx, 'projects');

    const resolved = await resolveConflict(h.ctx, open.id, { take: 'postgres' }, 'test').catch(
      (err: Error) => err.message,
    );
    const byKey = new Map((await h.items('Projects')).map((i) => [i.fields.ArcoreKey, i.fields.Title]));
    expect({ A: byKey.get(keyA), B: byKey.get(keyB), resolved }).toEqual({
      A: 'a',
      B: 'b-pg',
      resolved: { conflictId: open.id, status: 'RESOLVED' },
    });
  });
});

import { provisionList } from '../../../src/core/engine/provision';
import { runPull } from '../../../src/core/engine/pull';
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
describe('I15/I7 (docs/design.md, relink): an adopted item that differs from the synced values is not proved unchanged', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
  });
  afterAll(async () => h.close());

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

import { resolveConflict } from '../../../src/core/engine/resolve';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * Review r9: a MANUAL conflict of a SharePoint delete against a Postgres edit (the item deleted, the row edited)
 * cannot be decided for SharePoint. `resolve ID --take sharepoint` exits 2 with "the SharePoint item no longer
 * exists; resolve with --take postgres (or --values) to re-create the item": the only next steps offered re-create
 * the item the user deleted. Today's mirror case (the row gone) takes `--take postgres` as "the delete stands"
 * (resolve.ts resolveRowGone/confirmDelete); the item-gone case has no such branch, so an operator who wants the
 * SharePoint delete to win has no command for it (only deleting the row by hand, then resolving again).
 */
describe('resolve --take sharepoint of a delete-against-edit conflict whose item is gone', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  it('confirms the SharePoint delete (the pull delete policy applied to the row)', async () => {
    await h.db.pool.query(`CREATE TABLE igone (id integer PRIMARY KEY, name text,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO igone (id, name) VALUES (1, 'one')`);
    await h.define({
      name: 'igone',
      source: { table: 'igone', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'igone' },
      fields: [{ source: 'name', target: 'Title' }],
      conflictPolicy: 'MANUAL',
    });
    await runPush(h.ctx, 'igone', { trigger: 'test' });
    await runPull(h.ctx, 'igone', { trigger: 'test' });
    const [item] = await h.items('igone');
    await h.db.pool.query("UPDATE igone SET name = 'pg edit', updated_at = now()");
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/igone/items/${item.id}`)).status).toBe(204);
    await runPull(h.ctx, 'igone', { trigger: 'test' });
    const { rows } = await h.db.pool.query<{ id: string }>(
      "SELECT id::text AS id FROM arcore.sync_conflicts WHERE status = 'OPEN'",
    );
    expect(rows).toHaveLength(1);

    const outcome = await resolveConflict(h.ctx, rows[0].id, { take: 'sharepoint' }, 'r9').catch(
      (err: unknown) => (err as Error).message,
    );
    expect(outcome).toEqual({ conflictId: rows[0].id, status: 'RESOLVED' });
    expect({
      rows: (await h.db.pool.query('SELECT id FROM igone')).rows,
      items: (await h.items('igone')).length,
    }).toEqual({ rows: [], items: 0 });
  });
});

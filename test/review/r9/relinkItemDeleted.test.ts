import { provisionList } from '../../../src/core/engine/provision';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { relinkDefinition } from '../../../src/core/engine/relink';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * Review r9: under deletes.pull IGNORE an item deleted in SharePoint leaves its row with an ITEM_DELETED entry, which
 * the push leaves alone "whatever its edits, since creating the item again would undo the delete the policy leaves
 * alone" (docs/design.md I8; only `backfill --strategy full_resync` or the item restored brings it back). `relink`
 * (relink.ts, the ledger loop) treats such an entry like a synced pair whose item is missing from the new list: it
 * counts it in `toRecreate`, drops the entry and restarts the push cursor, so the next push creates the item the
 * user deleted. An ORPHANED entry in the mirror situation is forgotten, not re-created.
 */
describe('relink after a list replaced, with a row kept by deletes.pull IGNORE', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
  });
  afterAll(async () => h.close());

  it('does not re-create the item the user deleted', async () => {
    await h.db.pool.query(`CREATE TABLE rlig (id integer PRIMARY KEY, name text,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO rlig (id, name) VALUES (1, 'one'), (2, 'two')`);
    await h.define({
      name: 'rlig',
      source: { table: 'rlig', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'rlig' },
      fields: [{ source: 'name', target: 'Title' }],
      deletes: { push: 'PROPAGATE', pull: 'IGNORE' },
    });
    await runPush(h.ctx, 'rlig', { trigger: 'test' });
    await runPull(h.ctx, 'rlig', { trigger: 'test' });
    const one = (await h.items('rlig')).find((i) => i.fields.Title === 'one');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/rlig/items/${one?.id}`)).status).toBe(204);
    await runPull(h.ctx, 'rlig', { trigger: 'test' });

    // The list is replaced by a copy of what it holds (item "two" only), then relinked.
    const kept = (await h.items('rlig')).map((i) => i.fields as { ArcoreKey: string; Title: string });
    const { body } = await h.asUser('GET', `/sites/${h.siteId}/lists/rlig`);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${(body as { id: string }).id}`)).status).toBe(
      204,
    );
    await provisionList(h.ctx, 'rlig');
    for (const { ArcoreKey, Title } of kept)
      expect(
        (await h.asUser('POST', `/sites/${h.siteId}/lists/rlig/items`, { fields: { ArcoreKey, Title } }))
          .status,
      ).toBe(201);
    const relinked = await relinkDefinition(h.ctx, 'rlig');
    expect(relinked.adopted).toBe(1);

    await runPush(h.ctx, 'rlig', { trigger: 'test' });
    // The user's SharePoint delete still stands: only "two" is in the list.
    expect((await h.items('rlig')).map((i) => i.fields.Title)).toEqual(['two']);
  });
});

import { parseDefinition } from '../../../src/core/definition/parse';
import { applyDefinitions } from '../../../src/core/engine/apply';
import { provisionList } from '../../../src/core/engine/provision';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { relinkDefinition } from '../../../src/core/engine/relink';
import { runBackfill } from '../../../src/core/engine/backfill/run';
import { verifyDefinition } from '../../../src/core/engine/verify';
import { ListGoneError } from '../../../src/core/engine/listGone';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { forgetResolution } from '../../../src/core/engine/runner';
import {
  createProjectsTable,
  projectsDefinition,
  SITE,
  startHarness,
  type Harness,
} from '../../support/engineHarness';
import { defineProjects } from '../../support/projects';
import { itemsWithKey } from '../../support/routed';

/**
 * I15: a run resolves the list through a per-process cache (runner.ts resolveCached, 10 minutes), so a list deleted
 * and re-created by someone else (a user in SharePoint, another instance's provision) inside that window is only
 * met as 404s. Those must never be read as items deleted in SharePoint: the run confirms the list, and refuses
 * (relink) having written nothing from them (found by review).
 */
describe('I15 (docs/design.md): a list replaced while this process holds a cached resolution is never taken for item deletes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
  });
  afterAll(async () => h.close());

  it('the push refuses (relink), records no conflict, and after relink every row has exactly one item', async () => {
    await h.define(projectsDefinition());
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'one'), (2, 'two'), (3, 'three')");
    expect((await runPush(h.ctx, 'projects', { trigger: 'test' })).created).toBe(3);
    await runPull(h.ctx, 'projects', { trigger: 'test' });

    // Someone deletes the list and restores it from an export (items keep their hidden key), from another
    // process: this process's cached resolution is not dropped.
    await replaceList('Projects', 'projects', true);

    // A Postgres edit meets the push of the long-lived worker.
    await h.db.pool.query("UPDATE projects SET name = 'one edited' WHERE id = 1");
    const push = await runPush(h.ctx, 'projects', { trigger: 'test' });
    const conflicts = await h.db.pool.query('SELECT outcome, reason FROM arcore.sync_conflicts');

    // The cache expires (or the worker restarts): the replaced list is noticed; the operator relinks.
    forgetResolution(h.ctx, parseDefinition(projectsDefinition()));
    const refused = await runPush(h.ctx, 'projects', { trigger: 'test' });
    const relinked = await relinkDefinition(h.ctx, 'projects');
    for (let i = 0; i < 2; i++) {
      await runPush(h.ctx, 'projects', { trigger: 'test' });
      await runPull(h.ctx, 'projects', { trigger: 'test' });
    }
    const items = await h.items('Projects');
    const keys = items.map((i) => i.fields.ArcoreKey as string);

    expect(refused.error).toMatch(/relink projects/);
    // I1/I6: one item per row. Fails: row 1 has two items (the restored "one" and a new "one edited").
    expect(keys.length).toBe(new Set(keys).size);
    expect(items).toHaveLength(3);
    expect(relinked.adopted).toBe(3);
    // I15: the stale push should have refused, not taken the old list's 404 for a SharePoint delete.
    expect(conflicts.rows).toEqual([]);
    expect(push.status).toBe('FAILED');
    expect(push.error).toMatch(/relink projects/);
  });

  /**
   * I8 (docs/design.md): under deletes.pull IGNORE an item the user deleted leaves its row with an ITEM_DELETED
   * entry, which only a full resync or the item coming back undoes. Relink treated it as a pair whose item is gone
   * and the next push created the item again (found by review r9).
   */
  it('I8 relink keeps a row whose item the user deleted under deletes.pull IGNORE without an item; full_resync brings it back', async () => {
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

    // The list is replaced by a copy of what it holds (item "two" only), then relinked; row "one" is edited.
    await replaceList('rlig', 'rlig', true);
    const relinked = await relinkDefinition(h.ctx, 'rlig');
    expect(relinked).toMatchObject({ adopted: 1, toRecreate: 0, itemDeletedKept: 1 });
    await h.db.pool.query("UPDATE rlig SET name = 'one edited', updated_at = now() WHERE id = 1");
    await runPush(h.ctx, 'rlig', { trigger: 'test' });
    await runPull(h.ctx, 'rlig', { trigger: 'test' });
    // The user's SharePoint delete still stands, and the row is kept apart on the new list, naming no old item.
    expect((await h.items('rlig')).map((i) => i.fields.Title)).toEqual(['two']);
    const { rows } = await h.db.pool.query<{ state: string; item: string | null; list: string }>(
      `SELECT l.state, l.sp_item_id AS item, l.sp_list_id = d.list_id AS list
         FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
        WHERE d.name = 'rlig' ORDER BY l.state`,
    );
    expect(rows.map((r) => [r.state, r.item === null, r.list])).toEqual([
      ['ITEM_DELETED', true, true],
      ['SYNCED', false, true],
    ]);

    // What brings it back is asked for: a full resync pushing creates it in the new list.
    await runBackfill(h.ctx, 'rlig', { fields: ['Title'], strategy: 'full_resync', trigger: 'test' });
    expect((await h.items('rlig')).map((i) => i.fields.Title).sort()).toEqual(['one edited', 'two']);
  });

  it('DESTINATION_WINS: a Postgres edit meeting the replaced list is not taken for a SharePoint delete (row kept)', async () => {
    await syncedProjects('projects2', 'Projects2', ['one', 'two'], { conflictPolicy: 'DESTINATION_WINS' });
    await replaceList('Projects2', 'projects2', false);

    await h.db.pool.query("UPDATE projects2 SET name = 'one edited' WHERE id = 1");
    const push = await runPush(h.ctx, 'projects2', { trigger: 'test' });
    const { rows } = await h.db.pool.query('SELECT id, name FROM projects2 ORDER BY id');
    // The user's edit (and the row) must survive: the list was replaced, nobody deleted the item.
    expect(rows).toEqual([
      { id: 1, name: 'one edited' },
      { id: 2, name: 'two' },
    ]);
    expect(push.status).toBe('FAILED');
  });

  it('a delete and a pull meeting the replaced list refuse (relink) and change nothing; the delete reaches the list after relink', async () => {
    await syncedProjects('projects3', 'Projects3', ['one', 'two']);

    // Replaced (restored from an export) while this process holds the resolution; then row 2 is deleted.
    await replaceList('Projects3', 'projects3', true);
    await h.db.pool.query('DELETE FROM projects3 WHERE id = 2');
    const push = await runPush(h.ctx, 'projects3', { trigger: 'test' });
    expect(push).toMatchObject({ status: 'FAILED', deleted: 0, errorHint: expect.stringMatching(/relink/) });
    expect(push.error).toMatch(/relink projects3/);
    // The delete's 404 was not taken for the item gone: relink still finds the row's pair, and the push deletes
    // the restored item.
    expect(await relinkDefinition(h.ctx, 'projects3')).toMatchObject({ adopted: 2, toRecreate: 0 });
    expect(await runPush(h.ctx, 'projects3', { trigger: 'test' })).toMatchObject({ deleted: 1, failed: 0 });
    expect((await h.items('Projects3')).map((i) => i.fields.Title)).toEqual(['one']);

    // A pull in the window: the old list's delta answers 404; the run says relink, not "check the name".
    expect((await runPull(h.ctx, 'projects3', { trigger: 'test' })).status).toBe('SUCCEEDED');
    await replaceList('Projects3', 'projects3', false);
    const pull = await runPull(h.ctx, 'projects3', { trigger: 'test' });
    expect(pull).toMatchObject({ status: 'FAILED', errorHint: expect.stringMatching(/relink projects3/) });
    expect(pull.error).toMatch(/relink projects3/);
    const { rows } = await h.db.pool.query('SELECT id, name FROM projects3 ORDER BY id');
    expect(rows).toEqual([{ id: 1, name: 'one' }]);
  });

  it('a list deleted and not re-created: the push fails naming provision and relink, and keeps every pair', async () => {
    await defineProjects(h, 'projects4', { list: 'Projects4' });
    await h.db.pool.query("INSERT INTO projects4 (id, name) VALUES (1, 'one')");
    expect((await runPush(h.ctx, 'projects4', { trigger: 'test' })).created).toBe(1);
    await deleteList('Projects4');
    await h.db.pool.query("UPDATE projects4 SET name = 'one edited' WHERE id = 1");
    const push = await runPush(h.ctx, 'projects4', { trigger: 'test' });
    expect(push).toMatchObject({ status: 'FAILED', errorKind: 'not_found', conflicts: 0, deleted: 0 });
    expect(push.error).toMatch(/is gone/);
    expect(push.errorHint).toMatch(/provision projects4.*relink projects4/);
    const { rows } = await h.db.pool.query(
      `SELECT count(*)::int AS n FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
        WHERE d.name = 'projects4' AND l.state = 'SYNCED'`,
    );
    expect(rows[0].n).toBe(1);
  });

  /**
   * I15 outside a run: verify and relink read a list they resolved a moment before. Deleted while they read it, it
   * answered 404 on a page, which they reported as a bare "not found" of a page; now they name the list gone and
   * the next step, as a run does.
   */
  it.each([
    ['verify', '/items', (name: string) => verifyDefinition(h.ctx, name)],
    ['relink', '/items/delta', (name: string) => relinkDefinition(h.ctx, name)],
  ])(
    'a list deleted while %s reads its items: the list is named gone, with provision and relink',
    async (command, pagePath, run) => {
      const table = `gone_${command}`;
      const list = `Gone${command}`;
      await syncedProjects(table, list, ['one', 'two']);
      const { body } = await h.asUser('GET', `/sites/${h.siteId}/lists/${list}`);
      const listId = (body as { id: string }).id;
      // The command's first page waits 1.5 s before it is served; the list is deleted once the command has
      // resolved it and read its columns, so the page answers 404.
      h.emulator.control.injectFault({
        method: 'GET',
        pathPattern: `/lists/${listId}${pagePath}$`,
        latencyMs: 1500,
        count: 1,
      });
      const logged = h.emulator.control.requestLog().length;
      const outcome = run(table).catch((e: unknown) => e);
      const columnsRead = () =>
        h.emulator.control
          .requestLog()
          .slice(logged)
          .some((r) => r.path === `/sites/${h.siteId}/lists/${listId}/columns`);
      while (!columnsRead()) await new Promise((resolve) => setTimeout(resolve, 20));
      await deleteList(list);
      const err = await outcome;
      expect(err).toBeInstanceOf(ListGoneError);
      expect((err as ListGoneError).message).toMatch(new RegExp(`${listId}.*is gone`));
      expect((err as ListGoneError).hint).toMatch(new RegExp(`provision ${table}.*relink ${table}`));
      // Nothing was bound: the definition still names the list it synced with.
      const { rows } = await h.db.pool.query('SELECT list_id FROM arcore.sync_definitions WHERE name = $1', [
        table,
      ]);
      expect(rows[0].list_id).toBe(listId);
    },
  );

  /** Table `table` on `list` (projectsDefinition with `definition`), rows `names` (ids 1, 2, …) pushed and pulled. */
  async function syncedProjects(
    table: string,
    list: string,
    names: string[],
    definition: Partial<SyncDefinitionInput> = {},
  ): Promise<void> {
    await defineProjects(h, table, { list, definition });
    const values = names.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ');
    await h.db.pool.query(
      `INSERT INTO ${table} (id, name) VALUES ${values}`,
      names.flatMap((n, i) => [i + 1, n]),
    );
    expect((await runPush(h.ctx, table, { trigger: 'test' })).created).toBe(names.length);
    await runPull(h.ctx, table, { trigger: 'test' });
  }

  /** A SharePoint user deletes the list. */
  async function deleteList(list: string): Promise<void> {
    const { body } = await h.asUser('GET', `/sites/${h.siteId}/lists/${list}`);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${(body as { id: string }).id}`)).status).toBe(
      204,
    );
  }

  /** Deletes the list and provisions it again from another process (whose resolution cache is its own). */
  async function replaceList(list: string, definition: string, restoreItems: boolean): Promise<void> {
    const kept = (await h.items(list)).map((i) => i.fields as { ArcoreKey: string; Title: string });
    await deleteList(list);
    const other = await h.otherInstance();
    try {
      await provisionList(other.ctx, definition);
    } finally {
      await other.close();
    }
    if (!restoreItems) return;
    for (const { ArcoreKey, Title } of kept) {
      const res = await h.asUser('POST', `/sites/${h.siteId}/lists/${list}/items`, {
        fields: { ArcoreKey, Title },
      });
      expect(res.status).toBe(201);
    }
  }

  /**
   * A routes change replaces list "Closed" by list "Archive", and the user deletes the retired list in SharePoint.
   * Its items are gone with it, which is what the moves and deletes of its rows want: they settle, and the run
   * succeeds (before, every push failed with ListGoneError naming the current lists and `provision`, which would
   * not create the retired list). Lists the definition still routes to keep the errors above.
   */
  describe('a retired routed list deleted in SharePoint', () => {
    let n = 0;

    /** Rows 1 (OPEN, in Open) and 2 (CLOSED, in Closed) synced; then routes replace Closed by Archive. */
    async function retiring() {
      n++;
      const table = `cases${n}`;
      const [open, closed, archive] = [`Open${n}`, `Closed${n}`, `Archive${n}`];
      const def = (other: string): SyncDefinitionInput => ({
        name: table,
        source: {
          table,
          key: ['id'],
          cursor: { type: 'TIMESTAMP', column: 'updated_at' },
          overlapSeconds: 0,
        },
        target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: open }, { list: other }] },
        fields: [
          { source: 'title', target: 'Title' },
          { source: 'status', target: 'Status' },
        ],
      });
      await h.db.pool.query(`CREATE TABLE ${table} (
        id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
      await installCursorTrigger(h.db.pool, 'public', table, 'updated_at');
      await h.define(def(closed));
      await h.db.pool.query(
        `INSERT INTO ${table} (id, title, status) VALUES (1, 'a', 'OPEN'), (2, 'b', 'CLOSED')`,
      );
      const push = () => runPush(h.ctx, table, { trigger: 'test' });
      expect(await push()).toMatchObject({ created: 2, error: null });
      const ledger = async () =>
        (
          await h.db.pool.query<{ h: string; list: string }>(
            `SELECT l.source_identity_hash AS h, l.sp_list_id AS list FROM arcore.sync_ledger l
               JOIN arcore.sync_definitions d ON d.id = l.definition_id
              WHERE d.name = $1 AND l.source_identity->>'id' = '2'`,
            [table],
          )
        ).rows;
      const [{ h: hash, list: closedId }] = await ledger();
      // The routes change (apply makes the next push read every row again).
      await applyDefinitions(h.db.pool, [parseDefinition(def(archive))]);
      await provisionList(h.ctx, table);
      const deleteClosed = async () =>
        expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${closedId}`)).status).toBe(204);
      return { table, open, closed, archive, hash, closedId, push, ledger, deleteClosed };
    }

    it('moves the rows of the deleted retired list into its replacement in one successful push', async () => {
      const r = await retiring();
      await r.deleteClosed();
      const s = await r.push();
      expect({ error: s.error, moved: s.moved }).toEqual({ error: null, moved: 1 });
      expect((await itemsWithKey(h, [r.open, r.archive], r.hash)).map((i) => i.list)).toEqual([r.archive]);
      expect(await r.push()).toMatchObject({ error: null, moved: 0, created: 0 });
    });

    it('a Postgres delete of a row whose retired list was deleted settles at once', async () => {
      const r = await retiring();
      await r.deleteClosed();
      await h.db.pool.query(`DELETE FROM ${r.table} WHERE id = 2`);
      expect(await r.push()).toMatchObject({ error: null, deleted: 1 });
      expect(await r.ledger()).toEqual([]);
      expect(await r.push()).toMatchObject({ error: null, deleted: 0 });
    });

    it('a move left waiting (its old delete refused) out of a retired list deleted since finishes', async () => {
      const r = await retiring();
      h.emulator.control.injectFault({
        method: 'DELETE',
        pathPattern: `/lists/${r.closedId}/items/`,
        status: 403,
        count: 1,
      });
      try {
        expect(await r.push()).toMatchObject({ moved: 0, failed: 1 });
      } finally {
        h.emulator.control.clearFaults();
      }
      await r.deleteClosed();
      expect(await r.push()).toMatchObject({ error: null, moved: 1 });
      const details = await h.db.pool.query<{ d: Record<string, unknown> }>(
        `SELECT details AS d FROM arcore.sync_runs WHERE run_type = 'PUSH' ORDER BY id DESC LIMIT 1`,
      );
      expect(details.rows[0].d).toMatchObject({ movesFinishedAfterCrash: 1 });
      expect((await itemsWithKey(h, [r.open, r.archive], r.hash)).map((i) => i.list)).toEqual([r.archive]);
      expect((await r.ledger()).map((e) => e.list)).not.toContain(r.closedId);
    });
  });
});

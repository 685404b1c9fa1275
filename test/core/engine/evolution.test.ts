import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { applyDefinitions, DefinitionChangeRefusedError } from '../../../src/core/engine/apply';
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

/** docs/design.md I14 (definitions evolve safely) and I15 (the list is who the ledger says). */
describe('I14 definitions evolve safely', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
    await h.db.pool.query('ALTER TABLE projects ADD COLUMN color text');
  });
  afterEach(async () => h.close());

  const push = () => runPush(h.ctx, 'projects', { trigger: 'test' });
  const pull = () => runPull(h.ctx, 'projects', { trigger: 'test' });
  const apply = async (input: SyncDefinitionInput) => {
    const result = await applyDefinitions(h.db.pool, [parseDefinition(input)]);
    await provisionList(h.ctx, input.name);
    return result;
  };
  const rows = async () =>
    (await h.db.pool.query('SELECT id, name, color FROM projects ORDER BY id')).rows as {
      id: number;
      name: string | null;
      color: string | null;
    }[];
  const itemOf = async (title: string) => (await h.items('Projects')).find((i) => i.fields.Title === title)!;
  const spEdit = async (itemId: string, fields: Record<string, unknown>) => {
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${itemId}/fields`, fields);
    expect(res.status).toBe(200);
  };
  const writesSent = () =>
    h.emulator.control
      .requestLog()
      .filter((r) => r.identity === 'app' && (r.method !== 'GET' || r.path.endsWith('$batch')))
      .filter((r) => r.method !== 'POST' || r.path.endsWith('$batch'))
      .flatMap((r) =>
        r.path.endsWith('$batch')
          ? ((r.body as { requests: { method: string }[] }).requests ?? []).filter((q) => q.method !== 'GET')
          : [r],
      ).length;
  const withColor = (direction: 'BIDIRECTIONAL' | 'PUSH_ONLY' | 'PULL_ONLY' = 'BIDIRECTIONAL') =>
    projectsDefinition({
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'color', target: 'Color', direction },
      ],
    });
  const withoutColor = () => projectsDefinition({ fields: [{ source: 'name', target: 'Title' }] });

  async function seedWithoutColor() {
    await apply(withoutColor());
    await h.db.pool.query(
      "INSERT INTO projects (id, name, color) VALUES (1, 'a', 'red'), (2, 'b', NULL), (3, 'c', 'green'), (4, 'd', 'blue')",
    );
    await push();
    await pull();
  }

  it('a field added to a synced definition is aligned once, never nulled (the reproduction)', async () => {
    await seedWithoutColor();
    await apply(withColor());
    await spEdit((await itemOf('b')).id, { Color: 'sp-yellow' }); // Postgres empty: SharePoint fills it
    await spEdit((await itemOf('c')).id, { Color: 'sp-purple' }); // both full, different: policy (SOURCE_WINS)
    await spEdit((await itemOf('d')).id, { Title: 'd edited' }); // an unrelated edit must not null Color

    h.emulator.control.clearRequestLog();
    expect((await push()).updated).toBe(0); // the push leaves the new field to the pull's alignment
    expect(writesSent()).toBe(0);
    const summary = await pull();
    expect(summary.status).toBe('SUCCEEDED');
    expect(await rows()).toEqual([
      { id: 1, name: 'a', color: 'red' },
      { id: 2, name: 'b', color: 'sp-yellow' },
      { id: 3, name: 'c', color: 'green' },
      { id: 4, name: 'd edited', color: 'blue' },
    ]);
    await push();
    const items = await h.items('Projects');
    const colorOf = (t: string) => items.find((i) => i.fields.Title === t)!.fields.Color ?? null;
    expect([colorOf('a'), colorOf('b'), colorOf('c'), colorOf('d edited')]).toEqual([
      'red',
      'sp-yellow',
      'green',
      'blue',
    ]);
    // The differing values went to the policy and were recorded as a conflict.
    const { rows: conflicts } = await h.db.pool.query(
      "SELECT source_identity FROM arcore.sync_conflicts WHERE source_identity->>'id' = '3'",
    );
    expect(conflicts).toHaveLength(1);

    // SharePoint edits of the new field arrive from now on, and the sync is quiet afterwards (I4).
    await spEdit((await itemOf('a')).id, { Color: 'sp-orange' });
    await pull();
    expect((await rows())[0].color).toBe('sp-orange');
    expect((await push()).updated + (await pull()).updated).toBe(0);
  });

  it('an empty value never overwrites a full one during alignment, in either direction', async () => {
    await seedWithoutColor();
    await apply(withColor('PUSH_ONLY'));
    await spEdit((await itemOf('b')).id, { Color: 'kept in SharePoint' }); // Postgres NULL, push-only field
    await pull();
    await push();
    expect((await itemOf('b')).fields.Color).toBe('kept in SharePoint');
    expect((await itemOf('a')).fields.Color).toBe('red'); // push-only: Postgres fills SharePoint
    expect((await rows())[1].color).toBeNull(); // and pull never writes a push-only field
  });

  it('a definition that does not pull aligns a new field from Postgres where Postgres has a value', async () => {
    await apply({ ...withoutColor(), pull: { enabled: false } });
    await h.db.pool.query("INSERT INTO projects (id, name, color) VALUES (1, 'a', 'red'), (2, 'b', NULL)");
    await push();
    await apply({ ...withColor(), pull: { enabled: false } });
    await spEdit((await itemOf('b')).id, { Color: 'only in SharePoint' });
    await h.db.pool.query("UPDATE projects SET name = name || '!'");
    await push();
    expect((await itemOf('a!')).fields.Color).toBe('red');
    expect((await itemOf('b!')).fields.Color).toBe('only in SharePoint');
  });

  /** Row a last changed an hour ago, then row b, each pushed: the cursor is past a's overlap window. */
  const pushOldRowThenNew = async (): Promise<void> => {
    await h.db.pool.query('ALTER TABLE projects DISABLE TRIGGER USER');
    await h.db.pool.query(
      "INSERT INTO projects (id, name, color, updated_at) VALUES (1, 'a', 'red', now() - interval '1 hour')",
    );
    await h.db.pool.query('ALTER TABLE projects ENABLE TRIGGER USER');
    await push();
    await h.db.pool.query("INSERT INTO projects (id, name, color) VALUES (2, 'b', 'blue')");
    await push();
  };

  it('a definition that does not pull writes a new field to the items of rows its cursor passed long ago', async () => {
    // Found by review r24: its push aligned the field only on the rows it read, so an old row's item never got it.
    await apply({ ...withoutColor(), pull: { enabled: false } });
    await pushOldRowThenNew();
    const applied = await apply({ ...withColor(), pull: { enabled: false } });
    expect(applied.definitions[0].changes[0].effect).toMatch(
      /^the next push reads every row again and writes it/,
    );
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', updated: 2, created: 0 });
    expect([(await itemOf('a')).fields.Color, (await itemOf('b')).fields.Color]).toEqual(['red', 'blue']);
  });

  it('a field added before pulls are turned off is written to the items of rows its cursor passed long ago', async () => {
    // Found by review r24: the pull that would have aligned it never came, and the push aligns only rows it reads.
    await apply(withoutColor());
    await pushOldRowThenNew();
    await apply(withColor());
    const applied = await apply({ ...withColor(), pull: { enabled: false } });
    expect(applied.definitions[0].changes.find((c) => c.path === 'pull')?.effect).toMatch(
      /^pulls stop from the next run; the next push reads every row again/,
    );
    await push();
    expect([(await itemOf('a')).fields.Color, (await itemOf('b')).fields.Color]).toEqual(['red', 'blue']);
  });

  it('removing a field or changing its direction writes nothing to either side', async () => {
    await apply(withColor());
    await h.db.pool.query("INSERT INTO projects (id, name, color) VALUES (1, 'a', 'red'), (2, 'b', 'blue')");
    await push();
    await pull();
    const before = (await h.db.pool.query('SELECT id, updated_at FROM projects ORDER BY id')).rows;
    const applied = await apply(withColor('PULL_ONLY'));
    expect(applied.definitions[0].changes.map((c) => c.kind)).toEqual(['direction-changed']);
    h.emulator.control.clearRequestLog();
    await push();
    await pull();
    await apply(withoutColor());
    await push();
    await pull();
    expect(writesSent()).toBe(0);
    expect((await h.db.pool.query('SELECT id, updated_at FROM projects ORDER BY id')).rows).toEqual(before);
  });

  it('a field removed and mapped again is aligned afresh, not against its stale synced value', async () => {
    await apply(withColor());
    await h.db.pool.query("INSERT INTO projects (id, name, color) VALUES (1, 'a', 'red')");
    await push();
    await pull();
    await apply(withoutColor());
    await spEdit((await itemOf('a')).id, { Color: 'changed while unmapped' });
    const applied = await apply(withColor());
    expect(applied.definitions[0].changes.map((c) => c.kind)).toEqual(['field-added']);
    await push(); // must not write the stale "red" over SharePoint's edit
    expect((await itemOf('a')).fields.Color).toBe('changed while unmapped');
    await pull(); // both full and different: SOURCE_WINS decides, recorded as a conflict
    await push();
    expect((await itemOf('a')).fields.Color).toBe('red');
    expect((await rows())[0].color).toBe('red');
  });

  it('apply refuses a key or list change on a definition that has synced, and says what to do', async () => {
    await apply(withColor());
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a')");
    await push();
    const attempt = applyDefinitions(h.db.pool, [
      parseDefinition({ ...withColor(), target: { ...withColor().target, list: 'Other' } }),
    ]);
    await expect(attempt).rejects.toBeInstanceOf(DefinitionChangeRefusedError);
    await expect(attempt).rejects.toThrow(/target\.list.*arcore-sync remove projects.*relink projects/);
    await h.db.pool.query('ALTER TABLE projects ADD UNIQUE (name)');
    await expect(
      applyDefinitions(h.db.pool, [
        parseDefinition({ ...withColor(), source: { ...withColor().source, key: ['name'] } }),
      ]),
    ).rejects.toThrow(/source\.key/);
    // Case only: the same list (SharePoint resolves names case-insensitively).
    const sameList = await applyDefinitions(h.db.pool, [
      parseDefinition({ ...withColor(), target: { ...withColor().target, list: 'projects' } }),
    ]);
    expect(sameList.definitions[0].changes).toEqual([]);
  });
});

describe('I15 the list is who the ledger says', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
  });
  afterEach(async () => h.close());

  const push = () => runPush(h.ctx, 'projects', { trigger: 'test' });
  const pull = () => runPull(h.ctx, 'projects', { trigger: 'test' });

  it('a deleted and re-created list stops push and pull until relink, which recovers every row', async () => {
    await h.define(projectsDefinition());
    await h.db.pool.query(
      "INSERT INTO projects (id, name) SELECT g, 'row ' || g FROM generate_series(1, 30) AS g",
    );
    await push();
    await pull();
    const oldListId = await listId();

    // Someone deletes the list and restores part of it from an export (items carry their hidden key).
    const kept = (await h.items('Projects')).slice(0, 10).map((i) => i.fields);
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${oldListId}`)).status).toBe(204);
    await provisionList(h.ctx, 'projects');
    for (const fields of kept) {
      const { ArcoreKey, Title } = fields as { ArcoreKey: string; Title: string };
      const res = await h.asUser('POST', `/sites/${h.siteId}/lists/Projects/items`, {
        fields: { ArcoreKey, Title: Title === 'row 1' ? 'row 1 edited in the new list' : Title },
      });
      expect(res.status).toBe(201);
    }

    const refusedPush = await push();
    expect(refusedPush.status).toBe('FAILED');
    expect(refusedPush.error).toMatch(/npx arcore-sync relink projects/);
    const refusedPull = await pull();
    expect(refusedPull.status).toBe('FAILED');
    expect(refusedPull.error).toMatch(/relink/);

    const relinked = await relinkDefinition(h.ctx, 'projects');
    expect(relinked).toMatchObject({ adopted: 10, toRecreate: 20, previousListId: oldListId });
    expect(relinked.listId).not.toBe(oldListId);

    expect((await push()).created).toBe(20);
    await pull();
    const items = await h.items('Projects');
    expect(items).toHaveLength(30);
    expect(new Set(items.map((i) => i.fields.ArcoreKey)).size).toBe(30);
    // The edit made in the new list is a SharePoint change against the synced values: it arrives.
    const { rows } = await h.db.pool.query('SELECT name FROM projects WHERE id = 1');
    expect(rows[0].name).toBe('row 1 edited in the new list');
    expect((await push()).updated + (await pull()).updated).toBe(0);
  });

  async function listId(): Promise<string> {
    const res = await h.asUser('GET', `/sites/${h.siteId}/lists/Projects`);
    return (res.body as { id: string }).id;
  }
});

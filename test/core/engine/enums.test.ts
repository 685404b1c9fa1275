import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { validateAgainstDatabase } from '../../../src/core/definition/validateLive';
import { provisionList } from '../../../src/core/engine/provision';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { upsertDefinitions } from '../../../src/core/store/definitions';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

const LABELS = ['sad', 'ok', 'happy'];

function peopleDefinition(extraFields: SyncDefinitionInput['fields'] = []): SyncDefinitionInput {
  return {
    name: 'people',
    source: { table: 'people', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: SITE, list: 'People' },
    fields: [
      { source: 'name', target: 'Title' },
      { source: 'mood', target: 'Mood' },
      { source: 'moods', target: 'Moods' },
      { source: 'cost', target: 'Cost' },
      ...extraFields,
    ],
  };
}

describe('enums and domains (issue 14 item 4)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await h.db.pool.query(`CREATE SCHEMA app;
      CREATE TYPE app."Mood" AS ENUM ('sad', 'ok', 'happy');
      CREATE DOMAIN money2 AS numeric(12,2) CHECK (VALUE >= 0);
      CREATE DOMAIN price AS money2;
      CREATE TABLE people (id int PRIMARY KEY, name text, mood app."Mood", moods app."Mood"[], cost price,
        spot point, updated_at timestamptz NOT NULL DEFAULT now());
      CREATE INDEX ON people (updated_at, id);`);
    await installCursorTrigger(h.db.pool, 'public', 'people', 'updated_at');
  });
  afterEach(async () => h.close());

  const push = () => runPush(h.ctx, 'people', { trigger: 'test' });
  const pull = () => runPull(h.ctx, 'people', { trigger: 'test' });
  const row = async (id: number) =>
    (
      await h.db.pool.query(
        'SELECT name, mood::text, moods::text[] AS moods, cost FROM people WHERE id = $1',
        [id],
      )
    ).rows[0];
  const itemOf = async (title: string) => (await h.items('People')).find((i) => i.fields.Title === title)!;
  const spEdit = async (itemId: string, fields: Record<string, unknown>) => {
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/People/items/${itemId}/fields`, fields);
    expect(res.status).toBe(200);
  };
  const columns = async () => {
    const target = h.ctx.target();
    try {
      const list = await target.resolveList(h.siteId, 'People');
      return new Map((await target.getColumns(h.siteId, list.id)).map((c) => [c.name, c]));
    } finally {
      await target.close();
    }
  };
  /** A list made by hand before the definition exists, with a Mood column of the given choices. */
  const listWithMood = async (choices: string[]) => {
    const target = h.ctx.target();
    try {
      const list = await target.createList(h.siteId, 'People', []);
      await target.addColumn(h.siteId, list.id, {
        name: 'Mood',
        displayName: 'Mood',
        choice: { allowTextEntry: false, choices, displayAs: 'dropDownMenu' },
      });
    } finally {
      await target.close();
    }
  };
  const parkedErrors = async (direction: string) =>
    (
      await h.db.pool.query(
        "SELECT last_error FROM arcore.sync_failures WHERE status = 'PARKED' AND direction = $1",
        [direction],
      )
    ).rows.map((r: { last_error: string }) => r.last_error);

  it('validate → provision → push → pull works for an enum, an enum array and a domain', async () => {
    const def = parseDefinition(peopleDefinition());
    expect((await validateAgainstDatabase(def, h.db.pool)).errors).toEqual([]);
    await h.define(peopleDefinition());
    const cols = await columns();
    expect(cols.get('Mood')).toMatchObject({ type: 'choice', choices: LABELS });
    expect(cols.get('Moods')).toMatchObject({ type: 'multiChoice', choices: LABELS });
    expect(cols.get('Cost')).toMatchObject({ type: 'number' });
    expect(cols.get('ArcoreKey')).toMatchObject({ hidden: true, indexed: true });

    await h.db.pool.query(`INSERT INTO people (id, name, mood, moods, cost) VALUES
      (1, 'a', 'ok', '{sad,happy}', 3.5), (2, 'b', NULL, NULL, 0)`);
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 2, failed: 0 });
    const a = await itemOf('a');
    expect(a.fields).toMatchObject({ Mood: 'ok', Moods: ['sad', 'happy'], Cost: 3.5 });

    await spEdit(a.id, {
      Mood: 'happy',
      Moods: ['ok'],
      'Moods@odata.type': 'Collection(Edm.String)',
      Cost: 7.25,
    });
    expect(await pull()).toMatchObject({ status: 'SUCCEEDED', updated: 1, failed: 0 });
    expect(await row(1)).toEqual({ name: 'a', mood: 'happy', moods: ['ok'], cost: '7.25' });
    expect(await push()).toMatchObject({ updated: 0, created: 0, failed: 0 });
  });

  it('a SharePoint value outside the enum parks that row, naming the labels; the rest of the page applies', async () => {
    await listWithMood([...LABELS, 'furious']);
    await h.define(peopleDefinition());
    await h.db.pool.query("INSERT INTO people (id, name, mood) VALUES (1, 'a', 'ok'), (2, 'b', 'sad')");
    expect(await push()).toMatchObject({ created: 2, failed: 0 });
    await spEdit((await itemOf('a')).id, { Mood: 'furious' });
    await spEdit((await itemOf('b')).id, { Title: 'b renamed', Mood: 'happy' });
    expect(await pull()).toMatchObject({ status: 'PARTIAL', updated: 1, failed: 1 });
    expect(await row(1)).toMatchObject({ name: 'a', mood: 'ok' });
    expect(await row(2)).toMatchObject({ name: 'b renamed', mood: 'happy' });
    expect(await parkedErrors('PULL')).toEqual([
      expect.stringContaining(
        '"furious" is not a label of enum app.Mood (column mood); allowed: sad, ok, happy',
      ),
    ]);
  });

  it('a SharePoint value outside the enum met by push (after a 412) parks that row instead of failing the run', async () => {
    await listWithMood([...LABELS, 'furious']);
    await h.define({ ...peopleDefinition(), conflictPolicy: 'DESTINATION_WINS' });
    await h.db.pool.query("INSERT INTO people (id, name, mood) VALUES (1, 'a', 'ok'), (2, 'b', 'ok')");
    await push();
    await spEdit((await itemOf('a')).id, { Mood: 'furious' });
    await h.db.pool.query("UPDATE people SET name = name || ' pg'");
    const summary = await push();
    // Different fields changed on each side: no conflict (I7), but SharePoint's Mood cannot be written to Postgres.
    expect(summary).toMatchObject({ status: 'PARTIAL', conflicts: 0, failed: 1, updated: 1 });
    expect(await row(1)).toMatchObject({ name: 'a pg', mood: 'ok' });
    expect((await itemOf('b pg')).fields.Title).toBe('b pg');
    expect(await parkedErrors('PUSH')).toEqual([expect.stringContaining('allowed: sad, ok, happy')]);
  });

  it('provision reuses an existing list and its columns and adds the missing ones, the key column included', async () => {
    await listWithMood([...LABELS, 'furious']);
    await upsertDefinitions(h.db.pool, [parseDefinition(peopleDefinition())]);
    const result = await provisionList(h.ctx, 'people');
    expect(result.listCreated).toBe(false);
    expect(result.columnsAdded.sort()).toEqual(['ArcoreKey', 'Cost', 'Moods']);
    expect((await provisionList(h.ctx, 'people')).columnsAdded).toEqual([]);
  });

  it('provision checks every mapped column first: a refusal creates nothing and names every problem', async () => {
    await upsertDefinitions(h.db.pool, [
      parseDefinition(peopleDefinition([{ source: 'spot', target: 'Spot' }])),
    ]);
    await expect(provisionList(h.ctx, 'people')).rejects.toThrow(
      /provision refused, nothing was created or changed: fields\[4\]: cannot map Postgres column spot/,
    );
    await expect(columns()).rejects.toThrow();

    await upsertDefinitions(h.db.pool, [parseDefinition(peopleDefinition())]);
    expect((await provisionList(h.ctx, 'people')).listCreated).toBe(true);
    expect((await columns()).get('Mood')).toMatchObject({ choices: LABELS });
  });

  it('provision refuses an existing choice column that lacks enum labels, and changes nothing', async () => {
    await listWithMood(['sad', 'ok']);
    await upsertDefinitions(h.db.pool, [parseDefinition(peopleDefinition())]);
    await expect(provisionList(h.ctx, 'people')).rejects.toThrow(
      'SharePoint column "Mood" lacks the choice "happy" of enum app.Mood',
    );
    expect((await columns()).has('ArcoreKey')).toBe(false);
  });
});

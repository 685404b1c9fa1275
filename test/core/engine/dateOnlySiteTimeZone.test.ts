/**
 * Date-only columns on a site whose time zone is UTC+12 or later (New Zealand, Fiji, Tonga, Samoa, Kiribati), as
 * review r11 found them (finding 2). SharePoint keeps a date-only value as midnight of the site's time zone
 * (https://learn.microsoft.com/en-us/graph/api/resources/datetimecolumn; graph.md "Field values"), and the
 * emulator does too. Told the zone (`target.siteTimeZone`), the engine writes and reads the day in it; without it
 * (UTC), the day it pushes is shown a day late there, which is what the setting is for.
 */
import { parseDefinition } from '../../../src/core/definition/parse';
import { applyDefinitions } from '../../../src/core/engine/apply';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import {
  createProjectsTable,
  defineOnHandMadeColumn,
  projectsDefinition,
  SITE,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

const ZONE = 'Pacific/Auckland'; // UTC+13 in March (daylight saving), UTC+12 in July

/** The calendar day SharePoint shows its users for a stored instant: its day in the site's zone. */
function dayIn(zone: string, iso: string): string {
  return new Date(iso).toLocaleString('sv-SE', { timeZone: zone }).slice(0, 10);
}

describe('date-only columns on a New Zealand site told its zone (target.siteTimeZone)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ siteTimeZones: { [SITE]: ZONE } });
    await createProjectsTable(h.db);
    await h.define(projectsDefinition({ target: { site: SITE, list: 'Projects', siteTimeZone: ZONE } }));
  });
  afterAll(() => h.close());

  it('a due date pushed from Postgres shows that day in SharePoint, in summer and in winter time', async () => {
    await h.db.pool.query(
      "INSERT INTO projects (id, name, due) VALUES (1, 'launch', '2024-03-10'), (2, 'review', '2024-07-10')",
    );
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    const items = await h.items('Projects');
    const shown = Object.fromEntries(items.map((i) => [i.fields.Title, dayIn(ZONE, i.fields.Due as string)]));
    expect(shown).toEqual({ launch: '2024-03-10', review: '2024-07-10' });
  });

  it('a due date picked in SharePoint reaches Postgres as that day', async () => {
    const items = await h.items('Projects');
    for (const [title, picked] of [
      ['launch', '2024-03-15'],
      ['review', '2024-07-15'],
    ]) {
      const item = items.find((i) => i.fields.Title === title)!;
      // The SharePoint form stores the picked day as midnight of the site's zone, as a bare date write does.
      const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item.id}/fields`, {
        Due: picked,
      });
      expect(edit.status).toBe(200);
    }
    await runPull(h.ctx, 'projects', { trigger: 'test' });
    const { rows } = await h.db.pool.query(
      "SELECT id, to_char(due, 'YYYY-MM-DD') AS due FROM projects ORDER BY id",
    );
    expect(rows).toEqual([
      { id: 1, due: '2024-03-15' },
      { id: 2, due: '2024-07-15' },
    ]);
  });

  it('reads its own push back as the day it wrote: the next pull changes nothing', async () => {
    await h.db.pool.query("UPDATE projects SET due = '2024-03-31', updated_at = now() WHERE id = 1");
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    const pull = await runPull(h.ctx, 'projects', { trigger: 'test' });
    expect({ updated: pull.updated, conflicts: pull.conflicts }).toEqual({ updated: 0, conflicts: 0 });
    const { rows } = await h.db.pool.query(
      "SELECT to_char(due, 'YYYY-MM-DD') AS due FROM projects WHERE id = 1",
    );
    expect(rows[0].due).toBe('2024-03-31');
  });

  it('a date mapped to a date-and-time column keeps its day: the noon pushed and an evening picked are that day', async () => {
    await defineOnHandMadeColumn(h, {
      table: 'events',
      list: 'Events',
      column: 'day',
      sqlType: 'date',
      spColumn: { name: 'Day', dateTime: { format: 'dateTime' } },
      target: { siteTimeZone: ZONE },
    });
    await h.db.pool.query("INSERT INTO events (id, name, day) VALUES (1, 'a', '2024-03-10')");
    expect(await runPush(h.ctx, 'events', { trigger: 'test' })).toMatchObject({ created: 1, failed: 0 });
    const [item] = await h.items('Events');
    expect(dayIn(ZONE, item.fields.Day as string)).toBe('2024-03-10');
    // Read back, SharePoint's noon was the nearest midnight's next day: the pull moved the row to the 11th.
    const pulled = await runPull(h.ctx, 'events', { trigger: 'test' });
    const pushed = await runPush(h.ctx, 'events', { trigger: 'test' });
    const day = async () => (await h.db.pool.query('SELECT day::text FROM events')).rows[0].day;
    expect({ day: await day(), writes: [pulled.updated, pushed.updated] }).toEqual({
      day: '2024-03-10',
      writes: [0, 0],
    });
    // A user picks 20:00 on the 11th, Auckland time (07:00Z): Postgres takes the 11th, the day the user sees.
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Events/items/${item.id}/fields`, {
      Day: '2024-03-11T07:00:00Z',
    });
    expect(edit.status).toBe(200);
    await runPull(h.ctx, 'events', { trigger: 'test' });
    expect(await day()).toBe('2024-03-11');
  });
});

describe('date-only columns on a New Zealand site without target.siteTimeZone', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ siteTimeZones: { [SITE]: ZONE } });
    await createProjectsTable(h.db);
    await h.define(projectsDefinition());
  });
  afterAll(() => h.close());

  it('shows a pushed day a day late: the zone UTC is 13 hours away (conformance roundTrip.dateOnly fails)', async () => {
    await h.db.pool.query("INSERT INTO projects (id, name, due) VALUES (1, 'launch', '2024-03-10')");
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    const [item] = await h.items('Projects');
    expect(dayIn(ZONE, item.fields.Due as string)).toBe('2024-03-11');
  });

  it('pulls a picked day a day early', async () => {
    const [item] = await h.items('Projects');
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item.id}/fields`, {
      Title: 'launch',
      Due: '2024-03-15',
    });
    expect(edit.status).toBe(200);
    await runPull(h.ctx, 'projects', { trigger: 'test' });
    const { rows } = await h.db.pool.query(
      "SELECT to_char(due, 'YYYY-MM-DD') AS due FROM projects WHERE id = 1",
    );
    expect(rows[0].due).toBe('2024-03-14');
  });

  it('once told the zone, compares both sides afresh: a day the old zone moved is a conflict, not a silent change', async () => {
    await h.db.pool.query("INSERT INTO projects (id, name, due) VALUES (2, 'review', '2024-07-10')");
    await runPush(h.ctx, 'projects', { trigger: 'test' }); // shown as 11 July
    const applied = await applyDefinitions(h.db.pool, [
      parseDefinition(
        projectsDefinition({
          target: { site: SITE, list: 'Projects', siteTimeZone: ZONE },
          conflictPolicy: 'MANUAL',
        }),
      ),
    ]);
    expect(applied.definitions[0].changes.map((c) => c.path)).toEqual(
      expect.arrayContaining(['target.siteTimeZone']),
    );
    const pull = await runPull(h.ctx, 'projects', { trigger: 'test' });
    // Row 1: Postgres 14 March, SharePoint 15 March (the user's pick). Row 2: Postgres 10 July, SharePoint 11 July.
    expect(pull.conflicts).toBe(2);
    const { rows } = await h.db.pool.query(
      "SELECT id, to_char(due, 'YYYY-MM-DD') AS due FROM projects ORDER BY id",
    );
    expect(rows).toEqual([
      { id: 1, due: '2024-03-14' },
      { id: 2, due: '2024-07-10' },
    ]);
  });
});

describe('a site time zone change (review r13)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
    await h.define(projectsDefinition());
  });
  afterAll(() => h.close());

  it('keeps an unpulled SharePoint edit of a field that is not date-only: only the date-only fields are compared afresh', async () => {
    await h.db.pool.query(
      "INSERT INTO projects (id, name, budget, due) VALUES (1, 'launch', 10, '2024-03-10')",
    );
    expect(await runPush(h.ctx, 'projects', { trigger: 'test' })).toMatchObject({ created: 1 });
    const [item] = await h.items('Projects');
    // A user raises the budget in SharePoint; no pull has run yet.
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item.id}/fields`, {
      Budget: 20,
    });
    expect(edit.status).toBe(200);
    // The operator sets the site's zone (UTC's offset all year: no day moves). Under SOURCE_WINS, a Budget whose
    // synced value was forgotten would be a conflict Postgres wins, and the edit would be written over.
    const applied = await applyDefinitions(h.db.pool, [
      parseDefinition(
        projectsDefinition({ target: { site: SITE, list: 'Projects', siteTimeZone: 'Africa/Abidjan' } }),
      ),
    ]);
    expect(applied.definitions[0].changes.map((c) => c.path)).toContain('target.siteTimeZone');

    const pull = await runPull(h.ctx, 'projects', { trigger: 'test' });
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    const { rows } = await h.db.pool.query('SELECT budget::text AS budget FROM projects WHERE id = 1');
    const [after] = await h.items('Projects');
    expect({ conflicts: pull.conflicts, postgres: rows[0].budget, sharepoint: after.fields.Budget }).toEqual({
      conflicts: 0,
      postgres: '20.00',
      sharepoint: 20,
    });
    // The date-only field was compared afresh and found equal; the flag is spent.
    const { rows: flags } = await h.db.pool.query(
      "SELECT realign_date_only FROM arcore.sync_definitions WHERE name = 'projects'",
    );
    expect(flags).toEqual([{ realign_date_only: false }]);
  });
});

/**
 * r11 review: date-only values in a site whose time zone is UTC+12 or more (New Zealand, Fiji, Tonga, Samoa,
 * Kiribati). SharePoint keeps a date-only value as midnight of the site's time zone (graph.md "Field values";
 * https://learn.microsoft.com/en-us/graph/api/resources/datetimecolumn), and the emulator does too. The engine
 * writes `YYYY-MM-DDT12:00:00Z` (canonical/toGraph.ts) and reads back by rounding to the nearest UTC day
 * (canonical/toCanonical.ts dateOnlyFromGraph), which only holds between UTC−12 and UTC+11:59. It never reads the
 * site's time zone, and `arcore-sync conformance` (roundTrip.dateOnly) writes a bare date and accepts any answer
 * within 14 hours, so a probe on such a site passes.
 */
import { runConformance } from '../../../src/conformance';
import { fromGraphFields, toGraphFields, type MappedColumn } from '../../../src/core/canonical';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { DEMO_SITE, startTestEmulator, type EntityShape, type TestEmulator } from '../../emulator/support';
import {
  createProjectsTable,
  projectsDefinition,
  SITE,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

const ZONE = 'Pacific/Auckland'; // UTC+13 in March (daylight saving), UTC+12 otherwise

/** The calendar day an instant falls on in `zone`. */
function dayIn(zone: string, iso: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  })
    .format(new Date(iso))
    .slice(0, 10);
}

describe('r11: date-only columns on a site east of UTC+12', () => {
  let t: TestEmulator;
  let items: string;
  const columns = new Map<string, MappedColumn>([['Due', { kind: 'dateOnly' }]]);

  beforeAll(async () => {
    t = await startTestEmulator({ siteTimeZones: { [DEMO_SITE]: ZONE }, batchAmbiguous503Rate: 0 });
    const listId = await t.createList('Deadlines', [{ name: 'Due', dateTime: { format: 'dateOnly' } }]);
    items = `/sites/${t.siteId}/lists/${listId}/items`;
  });
  afterAll(() => t.stop());

  it('a date the engine pushes is stored (and shown to SharePoint users) as the next day', async () => {
    const created = await t.graph<EntityShape & { fields: Record<string, unknown> }>('POST', items, {
      body: { fields: toGraphFields({ Due: '2024-03-10' }, columns) },
    });
    expect(created.status).toBe(201);
    expect(dayIn(ZONE, created.body.fields.Due as string)).toBe('2024-03-10');
  });

  it('a date a SharePoint user enters reaches Postgres as the day before', async () => {
    // What the SharePoint form stores for 15 March: midnight of the site's zone (a bare date write does the same).
    const created = await t.graph<EntityShape & { fields: Record<string, unknown> }>('POST', items, {
      body: { fields: { Due: '2024-03-15' } },
    });
    expect(created.status).toBe(201);
    expect(fromGraphFields(created.body.fields, columns).Due).toBe('2024-03-15');
  });

  it('the conformance probe does not warn the operator of this site', async () => {
    const report = await runConformance({
      graph: {
        baseUrl: t.emulator.baseUrl,
        auth: { kind: 'token', token: t.emulator.appToken },
        caCert: t.emulator.caCert,
      },
      site: DEMO_SITE,
      scratchSuffix: 'r11-tz',
    });
    const check = report.checks.find((c) => c.name === 'roundTrip.dateOnly');
    expect(check?.status).toBe('failed');
  }, 120_000);
});

describe('r11: a synced date column on a New Zealand site (engine, Postgres)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ siteTimeZones: { [SITE]: ZONE } });
    await createProjectsTable(h.db);
    await h.define(projectsDefinition());
  });
  afterAll(() => h.close());

  it('a due date pushed from Postgres shows a day late in SharePoint', async () => {
    await h.db.pool.query("INSERT INTO projects (id, name, due) VALUES (1, 'launch', '2024-03-10')");
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    const [item] = await h.items('Projects');
    // What SharePoint shows its users: the day of the stored instant in the site's zone.
    expect(dayIn(ZONE, item.fields.Due as string)).toBe('2024-03-10');
  });

  it('a due date edited in SharePoint reaches Postgres a day early', async () => {
    const [item] = await h.items('Projects');
    // The SharePoint form stores the picked day as midnight of the site's zone, as a bare date write does.
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item.id}/fields`, {
      Due: '2024-03-15',
    });
    expect(edit.status).toBe(200);
    await runPull(h.ctx, 'projects', { trigger: 'test' });
    const { rows } = await h.db.pool.query(
      "SELECT to_char(due, 'YYYY-MM-DD') AS due FROM projects WHERE id = 1",
    );
    expect(rows[0].due).toBe('2024-03-15');
  });
});

/**
 * r11 review: the restart link of a 410 is trusted to select every mapped field.
 *
 * listItem delta answers a token it cannot serve with 410 and "a Location header containing a new nextLink to
 * start a fresh delta enumeration" (https://learn.microsoft.com/en-us/graph/api/listitem-delta, "Response").
 * Options live in the token ("Microsoft Graph automatically encodes any specified parameters into the token …
 * you only need to specify any query parameters once upfront",
 * https://learn.microsoft.com/en-us/graph/delta-query-overview), so a service that cannot read a token cannot
 * know the `$expand=fields(...)` it carried: the emulator's restart link for an unreadable token carries only the
 * options of the call (src/emulator/delta.ts resync), none, since the engine calls the link verbatim. The engine
 * follows that Location and records the full selection as carried (engine/pull/feed.ts, ResyncRequiredError
 * handling), reads each item without `fields` as every mapped field empty (target/sharepoint/listItems.ts
 * toListItem: `item.fields ?? {}`), and writes those empties into Postgres. Nothing in `arcore-sync conformance`
 * checks what the restart link selects (delta.resync410 only looks for 410 and a Location).
 */
import { runConformance } from '../../../src/conformance';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';
import { DEMO_SITE, startTestEmulator, type PageShape, type TestEmulator } from '../../emulator/support';

describe('r11: pull after a 410 whose restart link has no field selection', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaRepeats: false });
    await createProjectsTable(h.db);
    await h.define(projectsDefinition());
    await h.db.pool.query(
      "INSERT INTO projects (id, name, budget, done) VALUES (1, 'alpha', 10, true), (2, 'beta', 20, false)",
    );
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    await runPull(h.ctx, 'projects', { trigger: 'test' });
  });
  afterAll(() => h.close());

  it('keeps every Postgres value when the stored delta token can no longer be served', async () => {
    // The service no longer knows the stored token (server state changed, token format changed).
    const changed = await h.db.pool.query(
      "UPDATE arcore.sync_cursors SET value = regexp_replace(value, 'token=[^&]*', 'token=unreadable') WHERE scope = 'TARGET' AND value IS NOT NULL",
    );
    expect(changed.rowCount).toBe(1);
    const summary = await runPull(h.ctx, 'projects', { trigger: 'test' });
    expect(summary).toMatchObject({ conflicts: 0 });
    const { rows } = await h.db.pool.query(
      'SELECT id, name, budget::float AS budget, done FROM projects ORDER BY id',
    );
    expect(rows).toEqual([
      { id: 1, name: 'alpha', budget: 10, done: true },
      { id: 2, name: 'beta', budget: 20, done: false },
    ]);
  });

  it('keeps reading SharePoint edits after that resync (the stored link selects no fields either)', async () => {
    const [item] = (await h.items('Projects')).filter((i) => i.fields.Title === 'alpha');
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item.id}/fields`, {
      Title: 'alpha edited in SharePoint',
    });
    expect(edit.status).toBe(200);
    await runPull(h.ctx, 'projects', { trigger: 'test' });
    const { rows } = await h.db.pool.query('SELECT name FROM projects WHERE id = 1');
    expect(rows[0].name).toBe('alpha edited in SharePoint');
  });
});

describe('r11: conformance delta.resync410 and the restart link', () => {
  let t: TestEmulator;
  beforeAll(async () => {
    t = await startTestEmulator({ batchAmbiguous503Rate: 0 });
  });
  afterAll(() => t.stop());

  it('the restart link of an unreadable token reads items without their fields', async () => {
    const listId = await t.createList('Restart', [{ name: 'Qty', number: {} }]);
    const items = `/sites/${t.siteId}/lists/${listId}/items`;
    await t.graph('POST', items, { body: { fields: { Title: 'one', Qty: 1 } } });
    const gone = await t.graph('GET', `${items}/delta?token=unreadable`);
    expect(gone.status).toBe(410);
    const restart = await t.graph<PageShape>('GET', gone.headers.get('location')!);
    expect(restart.body.value[0].fields).toBeUndefined();
  });

  it('passes although the restart link it was given selects no fields', async () => {
    const report = await runConformance({
      graph: {
        baseUrl: t.emulator.baseUrl,
        auth: { kind: 'token', token: t.emulator.appToken },
        caCert: t.emulator.caCert,
      },
      site: DEMO_SITE,
      scratchSuffix: 'r11-410',
    });
    const check = report.checks.find((c) => c.name === 'delta.resync410');
    expect(check?.status).toBe('failed');
  }, 120_000);
});

import type { Page } from 'playwright-core';
import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';
import { startConsole, type ConsoleSession } from '../support/console';
import { pushedTwoProjects } from '../support/projects';
import {
  createProjectsTable,
  projectsDefinition,
  SITE,
  startHarness,
  type Harness,
} from '../support/engineHarness';

/**
 * What the web console shows of a definition's state and what its conflict editor sends (review r12, findings
 * 6–8), in a real headless Chromium against the local host, the emulator and real Postgres:
 * - a replication slot the ops API calls unhealthy makes the overview's badge say so, with the slot's message;
 *   the definition page shows the slot;
 * - rows no route matches (not synced) are shown on the overview and the definition page, with the next step;
 * - "Edit values…" sends what the operator typed by the field's kind: `1004` typed for a text column stays text.
 */
describe('web console: definition state and conflict values (headless Chromium, local host, emulator)', () => {
  let h: Harness;
  let session: ConsoleSession;
  let page: Page;

  beforeAll(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
    await h.define(projectsDefinition({ conflictPolicy: 'MANUAL', schedule: '0 0 0 1 1 *' }));
    await h.db.pool.query("INSERT INTO projects (id, name, budget) VALUES (1, '1001', 10)");
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    await runPull(h.ctx, 'projects', { trigger: 'test' });
    // A conflict on Title: an order number edited on both sides.
    const [item] = await h.items('Projects');
    await h.db.pool.query("UPDATE projects SET name = '1002' WHERE id = 1");
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item.id}/fields`, {
      Title: '1003',
    });
    expect(edit.status).toBe(200);
    expect(await runPull(h.ctx, 'projects', { trigger: 'test' })).toMatchObject({ conflicts: 1 });

    // An LSN definition that has pushed before (it holds an LSN cursor) and whose replication slot is gone.
    await h.db.pool.query('CREATE TABLE events (id int PRIMARY KEY, title text)');
    await h.define({
      name: 'events',
      schedule: '0 0 0 1 1 *',
      source: { table: 'events', key: ['id'], cursor: { type: 'LSN' } },
      target: { site: SITE, list: 'Events' },
      fields: [{ source: 'title', target: 'Title' }],
    });
    await h.db.pool.query(
      `INSERT INTO arcore.sync_cursors (definition_id, scope, cursor_type, value)
       SELECT id, 'SOURCE', 'LSN', pg_current_wal_lsn()::text FROM arcore.sync_definitions WHERE name = 'events'`,
    );

    // A routed definition with no default route: a row no route matches is not synced (unrouted).
    await h.db.pool.query(
      'CREATE TABLE tickets (id int PRIMARY KEY, title text, status text, updated_at timestamptz)',
    );
    await h.define({
      name: 'tickets',
      schedule: '0 0 0 1 1 *',
      source: { table: 'tickets', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: 'Tickets' }] },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
    });
    await h.db.pool.query(
      "INSERT INTO tickets VALUES (1, 'open one', 'OPEN', now()), (2, 'closed one', 'CLOSED', now())",
    );
    expect(await runPush(h.ctx, 'tickets', { trigger: 'test' })).toMatchObject({ created: 1, unrouted: 1 });

    session = await startConsole(h);
    page = session.page;
  });

  afterAll(async () => {
    await session?.close();
    await h?.close();
  });

  afterEach(() => {
    expect(session.errors).toEqual([]);
  });

  it('a replication slot the ops API calls unhealthy: attention on the overview with its message, and on the definition page', async () => {
    const res = await fetch(`${session.host.url}/api/ops/definitions/events`);
    const status = (await res.json()) as { healthy: boolean; slot: { message: string } };
    expect(status.healthy).toBe(false);
    expect(status.slot.message).toMatch(/the slot is missing/);

    await session.open('#/');
    const row = page.locator('tr[data-definition="events"]');
    await row.waitFor();
    await expect(row.locator('.badge').textContent()).resolves.toBe('attention');
    await expect(row.locator('td').nth(6).textContent()).resolves.toMatch(
      /replication slot unhealthy: the slot is missing: its next push re-reads the table/,
    );

    await session.open('#/definitions/events');
    const slot = page.locator('#replication-slot');
    await slot.waitFor();
    await expect(slot.textContent()).resolves.toMatch(
      /^Replication slot\s*unhealthy: none on the source server; the slot is missing: its next push re-reads/,
    );
  });

  it('an open conflict makes the definition unhealthy; its page says why with the next step', async () => {
    const res = await fetch(`${session.host.url}/api/ops/definitions/projects`);
    const status = (await res.json()) as { healthy: boolean; healthIssues: string[] };
    expect(status.healthy).toBe(false);
    expect(status.healthIssues).toEqual([
      expect.stringMatching(/^1 open conflict; next step: arcore-sync conflicts projects/),
    ]);

    await session.open('#/definitions/projects');
    const issues = page.locator('#health-issues');
    await issues.waitFor();
    await expect(issues.textContent()).resolves.toMatch(
      /^Needs you:\s*1 open conflict; next step: arcore-sync conflicts projects, then arcore-sync resolve ID/,
    );
  });

  it('rows no route matches (not synced) are shown on the overview and the definition page, with the next step', async () => {
    const res = await fetch(`${session.host.url}/api/ops/definitions/tickets`);
    expect(((await res.json()) as { unroutedRows: number }).unroutedRows).toBe(1);

    await session.open('#/');
    const row = page.locator('tr[data-definition="tickets"]');
    await row.waitFor();
    await expect(row.locator('td').nth(6).textContent()).resolves.toMatch(
      /^1 rows no route matches: not synced \(add a route whose "when" matches them, or a last route without "when" as the default; the next push syncs them\)$/,
    );
    await session.open('#/definitions/tickets');
    const unrouted = page.locator('#unrouted-rows');
    await unrouted.waitFor();
    await expect(unrouted.textContent()).resolves.toMatch(
      /^No route matches\s*1 rows no route matches: not synced/,
    );
  });

  it('conflicts: "Edit values…" then "Save these values" with a number-like text saves that text', async () => {
    await session.open('#/conflicts');
    const card = page.locator('article.conflict', { hasText: '1003' });
    await card.waitFor();
    await card.getByRole('button', { name: 'Edit values…' }).click();
    const input = card.locator('input[type="text"]').first();
    await expect(input.inputValue()).resolves.toBe('1002'); // Postgres's value, as text
    await input.fill('1004');
    await card.getByRole('button', { name: 'Save these values' }).click();
    await card.waitFor({ state: 'detached' });
    await expect(page.getByRole('status').first().textContent()).resolves.toMatch(/Conflict \d+ resolved/);
    const { rows } = await h.db.pool.query('SELECT name FROM projects WHERE id = 1');
    const conflicts = await h.db.pool.query('SELECT status FROM arcore.sync_conflicts');
    const [item] = await h.items('Projects');
    expect({ name: rows[0].name, conflict: conflicts.rows[0].status, title: item.fields.Title }).toEqual({
      name: '1004',
      conflict: 'RESOLVED',
      title: '1004',
    });
  });

  /**
   * A row deleted in Postgres against an item edited in SharePoint: "Edit values…" starts from the item's values
   * (the side that still has them). It started from Postgres's, which a deleted row has none of, so every field the
   * operator left alone was sent empty and the row came back with nulls, the item's values wiped (found by review).
   */
  it('conflicts: "Edit values…" on a row deleted in Postgres starts from the item’s values', async () => {
    // A definition of its own, made after the host started: it has no subscription, so no notification starts a
    // pull of it in the background while the test runs its own.
    await pushedTwoProjects(h, 'gone', { definition: { conflictPolicy: 'MANUAL', schedule: '0 0 0 1 1 *' } });
    await runPull(h.ctx, 'gone', { trigger: 'test' });
    const item = (await h.items('gone')).find((i) => i.fields.Title === 'two');
    const edit = await h.asUser('PATCH', `/sites/${h.siteId}/lists/gone/items/${item!.id}/fields`, {
      Title: 'two in sp',
    });
    expect(edit.status).toBe(200);
    await h.db.pool.query('DELETE FROM gone WHERE id = 2');
    expect(await runPull(h.ctx, 'gone', { trigger: 'test' })).toMatchObject({ conflicts: 1 });

    // From another page, so that the conflicts page is read again (the last test left the browser on it).
    await session.open('#/');
    await session.open('#/conflicts');
    const card = page.locator('article.conflict', { hasText: '(deleted)' });
    await card.waitFor();
    await card.getByRole('button', { name: 'Edit values…' }).click();
    const inputs = card.locator('input[type="text"]');
    const shown = await Promise.all((await inputs.all()).map((i) => i.inputValue()));
    expect(shown).toEqual(expect.arrayContaining(['two in sp', '20']));
    await inputs.first().press('End'); // nothing changed: the item's values are taken as they are
    await card.getByRole('button', { name: 'Save these values' }).click();
    await card.waitFor({ state: 'detached' });
    const { rows } = await h.db.pool.query('SELECT name, budget FROM gone WHERE id = 2');
    expect(rows).toEqual([{ name: 'two in sp', budget: '20.00' }]);
  });
});

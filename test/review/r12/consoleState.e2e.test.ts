import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { startLocalHost, type LocalHost } from '../../../src/serve';
import {
  createProjectsTable,
  projectsDefinition,
  SITE,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/**
 * The web console against the local host (real Chromium, Postgres, emulator), reviewing what it shows and does:
 * - the overview's health badge ignores the replication slot health the ops API reports (`healthy: false`);
 * - "Edit values…" on a conflict turns a text value that looks like a number into a JSON number, which the ops
 *   API refuses for a text column, so the operator cannot save the value typed.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('r12: console state and actions (headless Chromium, local host, emulator, real Postgres)', () => {
  let h: Harness;
  let host: LocalHost;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
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

    host = await startLocalHost({
      ctx: h.ctx,
      port: 0,
      pushIntervalMs: 3_600_000,
      safetyIntervalMs: 3_600_000,
      subscriptionIntervalMs: 3_600_000,
      retryDelayMs: 200,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });

  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    await h?.close();
  });

  it('overview: a definition whose replication slot the ops API calls unhealthy is not shown as ok', async () => {
    const res = await fetch(`${host.url}/api/ops/definitions/events`);
    const status = (await res.json()) as { healthy: boolean; slot: { message: string } };
    expect(status.healthy).toBe(false);
    expect(status.slot.message).toMatch(/the slot is missing/);

    await page.goto(`${host.url}/console/#/`);
    const row = page.locator('tr[data-definition="events"]');
    await row.waitFor();
    const badge = await row.locator('.badge').textContent();
    const text = await page.locator('main').textContent();
    // The operator must see that something is wrong with the slot somewhere on the overview.
    expect({ badge, mentionsSlot: /slot/i.test(text ?? '') }).not.toEqual({
      badge: 'ok',
      mentionsSlot: false,
    });
  });

  it('conflicts: "Edit values…" then "Save these values" with a number-like text saves that text', async () => {
    await page.goto(`${host.url}/console/#/conflicts`);
    const card = page.locator('article.conflict').first();
    await card.waitFor();
    await card.getByRole('button', { name: 'Edit values…' }).click();
    const input = card.locator('input[type="text"]').first();
    await input.fill('1004');
    await card.getByRole('button', { name: 'Save these values' }).click();
    const said = card.locator('.message');
    // Either the card says why it was not resolved, or it leaves the inbox (resolved).
    await Promise.race([said.waitFor(), card.waitFor({ state: 'detached' })]);
    const { rows } = await h.db.pool.query('SELECT name FROM projects WHERE id = 1');
    const conflicts = await h.db.pool.query('SELECT status FROM arcore.sync_conflicts');
    expect({
      said: (await said.count()) > 0 ? await said.textContent() : null,
      name: rows[0].name,
      conflict: conflicts.rows[0].status,
    }).toEqual({ said: null, name: '1004', conflict: 'RESOLVED' });
  });

  it('a row that matches no route (not synced) is shown on the overview or the definition page', async () => {
    const res = await fetch(`${host.url}/api/ops/definitions/tickets`);
    expect(((await res.json()) as { unroutedRows: number }).unroutedRows).toBe(1);

    await page.goto(`${host.url}/console/#/`);
    await page.locator('tr[data-definition="tickets"]').waitFor();
    const overview = (await page.locator('tr[data-definition="tickets"]').textContent()) ?? '';
    await page.goto(`${host.url}/console/#/definitions/tickets`);
    await page.getByText('Synced pairs').waitFor();
    const detail = (await page.locator('main').textContent()) ?? '';
    expect({ overview: /route/i.test(overview), detail: /route/i.test(detail) }).not.toEqual({
      overview: false,
      detail: false,
    });
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { installCursorTrigger } from '../../src/core/source/postgres/PostgresSource';
import { tryLockDefinition } from '../../src/core/store/locks';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { freshDatabase, type TestDatabase } from '../support/db';
import { jsonOf, runCli, tempDir, writeJson, type CliEnv } from './cliHarness';

const SITE = 'contoso.sharepoint.com:/sites/demo';
const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

function definition(name: string, table: string, list: string, cursor = 'updated_at') {
  return {
    name,
    source: { table, key: ['id'], cursor: { column: cursor } },
    target: { site: SITE, list },
    fields: [
      { source: 'name', target: 'Title' },
      { source: 'budget', target: 'Budget' },
    ],
    conflictPolicy: 'SOURCE_WINS',
  };
}

/**
 * The lifecycle commands of issue 14 item 6 as real child processes against one embedded Postgres database
 * and one emulator: verify, push/pull/sync --dry-run, remove and install-cursor.
 */
describe('arcore-sync verify, --dry-run, remove and install-cursor', () => {
  let db: TestDatabase;
  let emulator: RunningEmulator;
  let dispatcher: Agent;
  let dir: string;
  let env: CliEnv;

  async function asAlice(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const response = await fetch(`${emulator.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${emulator.userToken('alice')}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher,
    } as RequestInit);
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null };
  }

  async function itemPath(definitionName: string, rowId: number): Promise<string> {
    const { rows } = await db.pool.query<{ sp_list_id: string; sp_item_id: string }>(
      `SELECT l.sp_list_id, l.sp_item_id FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
        WHERE d.name = $1 AND l.source_identity->>'id' = $2`,
      [definitionName, String(rowId)],
    );
    return `/sites/${emulator.control.getSiteId(SITE)}/lists/${rows[0].sp_list_id}/items/${rows[0].sp_item_id}`;
  }

  async function setUp(name: string, table: string, list: string, rows: number): Promise<void> {
    await db.pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text, budget numeric(12,2),
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(db.pool, 'public', table, 'updated_at');
    await db.pool.query(
      `INSERT INTO ${table} (id, name, budget) SELECT i, 'Row ' || i, i * 10 FROM generate_series(1, ${rows}) i`,
    );
    const file = writeJson(dir, `${name}.json`, { definitions: [definition(name, table, list)] });
    expect((await runCli(['apply', file], env)).code).toBe(0);
    expect((await runCli(['provision', name], env)).code).toBe(0);
    expect(jsonOf(await runCli(['sync', name, '--json'], env))).toMatchObject({ created: rows, failed: 0 });
  }

  beforeAll(async () => {
    db = await freshDatabase();
    emulator = await startEmulator({ throttling: { enabled: false }, notificationDelayMs: 0 });
    dispatcher = new Agent({ connect: { ca: emulator.caCert } });
    dir = tempDir('arcore-cli-lifecycle-');
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, emulator.caCert);
    env = {
      DATABASE_URL: db.url,
      GRAPH_BASE_URL: emulator.baseUrl,
      GRAPH_TOKEN: emulator.appToken,
      GRAPH_CA_CERT_FILE: caFile,
      GRAPH_RU_PER_MINUTE: '1000000',
    };
    expect((await runCli(['migrate'], env)).code).toBe(0);
  });

  afterAll(async () => {
    await dispatcher?.close();
    await emulator?.stop();
    await db?.drop();
  });

  it('verify exits 0 when both sides agree and 1 with a sample when they differ; 2 for an unknown name', async () => {
    await setUp('budgets', 'budgets', 'Budgets', 5);
    const agree = await runCli(['verify', 'budgets'], env);
    expect(agree.code).toBe(0);
    expect(agree.stdout).toMatch(/^\s+5\s+5\s+5\s+10\s+0\s+0$/m);
    expect(agree.stdout).toContain('budgets: both sides agree (fields compared: Title, Budget)');

    expect(
      (await asAlice('PATCH', `${await itemPath('budgets', 2)}/fields`, { Title: 'Edited' })).status,
    ).toBe(200);
    await db.pool.query('DELETE FROM budgets WHERE id = 5');
    const differ = await runCli(['verify', 'budgets', '--json'], env);
    expect(differ.code).toBe(1);
    const report = jsonOf(differ);
    expect(report).toMatchObject({
      definition: 'budgets',
      agree: false,
      rows: 4,
      items: 5,
      paired: 4,
      fieldsCompared: 8,
      differences: 1,
      unpaired: 1,
      sample: {
        differences: [{ key: { id: 2 }, field: 'Title', postgres: 'Row 2', sharepoint: 'Edited' }],
      },
    });
    expect(differ.stderr).toContain('Postgres and SharePoint differ (1 field difference(s), 1 unpaired)');
    const human = await runCli(['verify', 'budgets'], env);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain('Title: Postgres "Row 2" ≠ SharePoint "Edited"');

    const unknown = await runCli(['verify', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No sync definition named "nope"');
  });

  it('remove refuses while a run holds the lock, then deletes the definition and its metadata, keeping the data', async () => {
    await setUp('doomed', 'doomed', 'Doomed', 3);
    const { rows } = await db.pool.query<{ id: string }>(
      "SELECT id::text AS id FROM arcore.sync_definitions WHERE name = 'doomed'",
    );
    const lock = await tryLockDefinition(db.pool, rows[0].id);
    try {
      const busy = await runCli(['remove', 'doomed'], env);
      expect(busy.code).toBe(3);
      expect(busy.stderr).toContain('is running a push or pull; removing it needs it idle');
    } finally {
      await lock?.release();
    }
    const itemsBefore = emulator.control.listItems(emulator.control.getSiteId(SITE), 'Doomed').length;
    expect((await runCli(['install-cursor', 'doomed'], env)).code).toBe(0); // adds delete capture
    const removed = await runCli(['remove', 'doomed', '--json'], env);
    expect(removed.code).toBe(0);
    expect(jsonOf(removed)).toMatchObject({
      definition: 'doomed',
      removed: { ledger: 3, cursors: 2, runs: 2 },
      subscriptionsLeft: [],
      // No other definition reads the table: its delete capture goes with the definition.
      deleteCapture: { table: 'public.doomed', status: 'dropped', keptFor: [] },
    });
    expect((await db.pool.query("SELECT to_regclass('arcore_doomed_deleted') AS t")).rows[0].t).toBeNull();
    expect((await runCli(['status', 'doomed'], env)).code).toBe(2);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM doomed')).rows[0].n).toBe(3);
    expect(emulator.control.listItems(emulator.control.getSiteId(SITE), 'Doomed')).toHaveLength(itemsBefore);
    const again = await runCli(['remove', 'doomed'], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('No sync definition named "doomed"');
  });

  it('install-cursor prints or adds the column, trigger and index (before apply with --file), and refuses a view', async () => {
    await db.pool.query('CREATE TABLE fresh (id int PRIMARY KEY, name text, budget numeric(12,2))');
    await db.pool.query("INSERT INTO fresh VALUES (1, 'a', 1)");
    await db.pool.query('CREATE VIEW fresh_view AS SELECT * FROM fresh');
    const file = writeJson(dir, 'fresh.json', {
      definitions: [
        definition('fresh', 'fresh', 'Fresh', 'changed_at'),
        definition('freshview', 'fresh_view', 'FreshView', 'changed_at'),
      ],
    });
    expect((await runCli(['apply', file], env)).code).toBe(2);

    const printed = await runCli(['install-cursor', 'fresh', '--file', file, '--print-sql'], env);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain(
      'ALTER TABLE "public"."fresh" ADD COLUMN IF NOT EXISTS "changed_at" timestamptz NOT NULL DEFAULT clock_timestamp();',
    );
    expect(printed.stdout).toContain(
      'CREATE TRIGGER "arcore_touch_changed_at" BEFORE INSERT OR UPDATE ON "public"."fresh"',
    );
    expect(printed.stdout).toContain(
      'CREATE INDEX IF NOT EXISTS "arcore_fresh_changed_at_cursor" ON "public"."fresh" ("changed_at", "id");',
    );
    const columns = await db.pool.query(
      "SELECT 1 FROM information_schema.columns WHERE table_name = 'fresh' AND column_name = 'changed_at'",
    );
    expect(columns.rowCount).toBe(0);

    const installed = await runCli(['install-cursor', 'fresh', '--file', file, '--json'], env);
    expect(installed.code).toBe(0);
    expect(jsonOf(installed)).toMatchObject({
      applied: true,
      parts: [
        { part: 'column', status: 'added' },
        { part: 'trigger', status: 'added' },
        { part: 'index', status: 'added' },
        { part: 'deletes', status: 'added' },
      ],
    });
    const view = await runCli(['install-cursor', 'freshview', '--file', file], env);
    expect(view.code).toBe(2);
    expect(view.stderr).toContain('"public.fresh_view" is a view, which cannot carry a trigger');

    const single = writeJson(dir, 'fresh-only.json', {
      definitions: [definition('fresh', 'fresh', 'Fresh', 'changed_at')],
    });
    expect((await runCli(['apply', single], env)).code).toBe(0);
    const again = await runCli(['install-cursor', 'fresh'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      'fresh: public.fresh cursor "changed_at": column already there, trigger already there, index already there, ' +
        'delete capture already there\n',
    );
    const nothing = await runCli(['install-cursor', 'fresh', '--print-sql'], env);
    expect(nothing.stdout).toContain('already there; nothing to do');
    expect((await runCli(['install-cursor', 'nope'], env)).code).toBe(2);
  });

  it('push, pull and sync --dry-run write nothing anywhere and report the counts the real runs then produce', async () => {
    await setUp('preview', 'preview', 'Preview', 6);
    await db.pool.query("UPDATE preview SET name = 'edited in Postgres' WHERE id = 1");
    await db.pool.query("INSERT INTO preview (id, name) VALUES (7, 'new in Postgres')");
    await db.pool.query('DELETE FROM preview WHERE id = 2');
    expect(
      (await asAlice('PATCH', `${await itemPath('preview', 3)}/fields`, { Title: 'edited in SP' })).status,
    ).toBe(200);
    expect((await asAlice('DELETE', await itemPath('preview', 4))).status).toBe(204);
    const state = async () => {
      const q = async (sql: string) => (await db.pool.query(sql)).rows;
      return {
        rows: await q('SELECT * FROM preview ORDER BY id'),
        ledger: await q('SELECT * FROM arcore.sync_ledger ORDER BY definition_id, source_identity_hash'),
        cursors: await q('SELECT * FROM arcore.sync_cursors ORDER BY definition_id, scope'),
        runs: await q('SELECT id FROM arcore.sync_runs ORDER BY id'),
        failures: await q('SELECT * FROM arcore.sync_failures ORDER BY id'),
      };
    };
    const before = await state();
    emulator.control.clearRequestLog();

    const sync = await runCli(['sync', 'preview', '--dry-run', '--json'], env);
    expect(sync.code).toBe(0);
    const preview = jsonOf(sync);
    expect(preview).toMatchObject({
      dryRun: true,
      definition: 'preview',
      status: 'SUCCEEDED',
      runIds: [null, null],
    });
    // The pull enumerates the list for the first time: it applies item 3's edit to Postgres and writes row 1's
    // Postgres edit back to SharePoint (a write-back counts as updated, one outcome per item).
    expect(preview.pull).toMatchObject({ dryRun: true, updated: 2, deleted: 1 });
    expect(preview.push).toMatchObject({ dryRun: true, created: 1, updated: 1, deleted: 1 });
    const pushPreview = await runCli(['push', 'preview', '--dry-run', '--json'], env);
    const human = await runCli(['pull', 'preview', '--dry-run'], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('dry run: nothing was written');
    expect(human.stdout).toContain('update Postgres row {"id":3}: name');
    expect(human.stdout).toContain('delete Postgres row {"id":4}');

    expect(emulator.control.requestLog().filter((e) => WRITE_METHODS.has(e.method))).toEqual([]);
    expect(await state()).toEqual(before);

    const counts = (o: Record<string, unknown>) =>
      Object.fromEntries(
        ['processed', 'created', 'updated', 'deleted', 'skipped', 'conflicts', 'failed'].map((k) => [
          k,
          o[k],
        ]),
      );
    const push = jsonOf(await runCli(['push', 'preview', '--json'], env));
    expect(counts(push)).toEqual(counts(jsonOf(pushPreview)));
    expect(counts(push)).toEqual(counts(preview.push as Record<string, unknown>));
    const pullPreview = jsonOf(await runCli(['pull', 'preview', '--dry-run', '--json'], env));
    const pull = jsonOf(await runCli(['pull', 'preview', '--json'], env));
    expect(counts(pull)).toEqual(counts(pullPreview));
    expect(pull).toMatchObject({ updated: 1, deleted: 1 });
  });
});

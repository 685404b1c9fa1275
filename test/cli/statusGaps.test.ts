import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/index';
import { parseDefinition } from '../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../src/core/definition/schema';
import { provisionList } from '../../src/core/engine/provision';
import { runPull } from '../../src/core/engine/pull';
import { runPush } from '../../src/core/engine/push';
import { createSplitsTable, createUnfitSouth } from '../support/routed';
import { upsertDefinitions } from '../../src/core/store/definitions';
import { disabledTelemetry } from '../../src/core/telemetry';
import { installRuntime } from '../../src/functions/runtime';
import { ops } from '../functions/support/opsHarness';
import { SITE, startHarness, type Harness } from '../support/engineHarness';

/**
 * Known gaps of `status` (issue 23's closing note), through the CLI (text and --json) and the ops API status
 * routes the console reads, against Postgres and the emulator: a routed list the runs skip is shown with why
 * and the next step, the pull's idle probe records its last check beside the push's, and rows kept by deletes.pull
 * IGNORE are named with the next step after the policy changes (validate and apply say so too).
 */
describe('status: list problems, the pull idle check, rows kept by deletes.pull IGNORE', () => {
  let h: Harness;
  let env: Record<string, string>;
  let uninstall: () => void;

  async function cli(args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, {
      io: { out: (t) => (stdout += `${t}\n`), err: (t) => (stderr += `${t}\n`) },
      env,
      cwd: tmpdir(),
      interactive: false,
      progressStream: new PassThrough(),
    });
    return { code, stdout, stderr };
  }
  const statusJson = async (name: string) => {
    const r = await cli(['status', name, '--json']);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown> & {
      listProblems: { list: string; problem: string; nextStep: string | null; runId: string }[];
      pullIdleCheckedAt: string | null;
      lastPull: { startedAt: string } | null;
    };
  };

  const splitDefinition = (routes: { when?: string; list: string }[]): SyncDefinitionInput => ({
    name: 'split',
    source: { table: 'splits', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: SITE, routes },
    fields: [
      { source: 'title', target: 'Title' },
      { source: 'region', target: 'Region' },
    ],
  });

  beforeAll(async () => {
    h = await startHarness();
    const dir = mkdtempSync(join(tmpdir(), 'arcore-status-gaps-'));
    writeFileSync(join(dir, 'ca.pem'), h.emulator.caCert);
    env = {
      DATABASE_URL: h.db.url,
      GRAPH_BASE_URL: h.emulator.baseUrl,
      GRAPH_TOKEN: h.emulator.appToken,
      GRAPH_CA_CERT_FILE: join(dir, 'ca.pem'),
      GRAPH_RU_PER_MINUTE: '10000000',
    };
    uninstall = installRuntime({ ctx: h.ctx, telemetry: disabledTelemetry, webhookUrls: {} });
    await createSplitsTable(h);
    // North is provisioned; South was created by hand, without the Region column.
    await h.define(splitDefinition([{ list: 'North' }]));
    await createUnfitSouth(h);
    await upsertDefinitions(h.db.pool, [
      parseDefinition(splitDefinition([{ when: "region == 'S'", list: 'South' }, { list: 'North' }])),
    ]);
    await h.db.pool.query("INSERT INTO splits (id, title, region) VALUES (1, 'n1', 'N'), (2, 's2', 'S')");
  });
  afterAll(async () => {
    uninstall();
    await h.close();
  });

  it('a routed list that does not fit is shown with why and the next step (CLI text and --json, ops API) until fixed', async () => {
    expect((await statusJson('split')).listProblems).toEqual([]);
    const s = await runPush(h.ctx, 'split', { trigger: 'test' });
    expect(s).toMatchObject({ status: 'PARTIAL', created: 1, failed: 1 });

    const json = await statusJson('split');
    expect(json.listProblems).toEqual([
      {
        list: 'South',
        problem: expect.stringMatching(/list "South" has no column with internal name "Region"/),
        nextStep:
          'add the missing column with "arcore-sync provision split" (or map the field to the column\'s ' +
          'internal name), then run again',
        runId: s.runId,
        seenAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      },
    ]);
    const text = (await cli(['status', 'split'])).stdout;
    expect(text).toMatch(
      new RegExp(
        `^ {2}list problems: 1 routed list skipped by run ${s.runId} at \\S+ \\(its rows wait, parked; the other lists sync\\):$`,
        'm',
      ),
    );
    expect(text).toMatch(
      /^ {4}list "South": .*has no column.*Next step: add the missing column with "arcore-sync provision split"/m,
    );

    // The ops API routes the console reads say the same.
    const one = await ops('GET', 'definitions/split');
    expect(one.status).toBe(200);
    expect(one.json.listProblems).toEqual(json.listProblems);
    const all = await ops('GET', 'definitions');
    const listed = (all.json.definitions as { name: string; listProblems: unknown }[]).find(
      (d) => d.name === 'split',
    );
    expect(listed?.listProblems).toEqual(json.listProblems);

    // The pull skips the list too, and a later run that finds every list fitting clears it.
    const p = await runPull(h.ctx, 'split', { trigger: 'test' });
    expect(p).toMatchObject({ status: 'PARTIAL', failed: 1 });
    expect((await statusJson('split')).listProblems.map((x) => [x.list, x.runId])).toEqual([
      ['South', p.runId],
    ]);
    await provisionList(h.ctx, 'split');
    expect(await runPush(h.ctx, 'split', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: 1,
    });
    expect((await statusJson('split')).listProblems).toEqual([]);
    expect((await cli(['status', 'split'])).stdout).not.toContain('list problems');
    expect((await ops('GET', 'definitions/split')).json.listProblems).toEqual([]);
  });

  it('rows kept by deletes.pull IGNORE stay kept when the policy changes, and validate, apply and status say so', async () => {
    await h.db.pool.query(`CREATE TABLE kept (id integer PRIMARY KEY, name text, note text,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO kept (id, name) VALUES (1, 'one'), (2, 'two')`);
    const kept = (pull: 'IGNORE' | 'PROPAGATE'): SyncDefinitionInput => ({
      name: 'kept',
      source: { table: 'kept', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'Kept' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'note', target: 'Note', direction: 'PULL_ONLY' },
      ],
      deletes: { push: 'PROPAGATE', pull },
    });
    await h.define(kept('IGNORE'));
    expect(await runPush(h.ctx, 'kept', { trigger: 'test' })).toMatchObject({ created: 2 });
    await runPull(h.ctx, 'kept', { trigger: 'test' });
    const [first] = await h.items('Kept');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/Kept/items/${first.id}`)).status).toBe(204);
    await runPull(h.ctx, 'kept', { trigger: 'test' });
    const recreate = '"arcore-sync backfill kept --fields Title --strategy full_resync" re-creates its item';
    expect((await statusJson('kept')).itemDeletedAdvice).toEqual({
      deletesPull: 'IGNORE',
      reason: expect.stringContaining(
        '1 row whose item was deleted in SharePoint, kept by deletes.pull IGNORE',
      ),
      nextStep: `${recreate}; or leave them`,
    });

    // The operator switches deletes.pull to PROPAGATE: nothing is deleted for the kept row, and every command says so.
    const dir = mkdtempSync(join(tmpdir(), 'arcore-kept-'));
    const file = join(dir, 'kept.json');
    writeFileSync(file, JSON.stringify({ definitions: [kept('PROPAGATE')] }));
    const reason =
      '1 row whose item was deleted in SharePoint while deletes.pull was IGNORE is still kept: the new policy ' +
      '(PROPAGATE) applies to deletes from now on, not to these rows';
    const nextStep =
      `${recreate}, or to let the PROPAGATE policy apply to them, delete those rows in Postgres yourself (the ` +
      'items are gone already: the push only forgets them). "arcore-sync verify kept" counts them';
    const validated = await cli(['validate', file]);
    expect(validated.code).toBe(0);
    expect(validated.stdout).toContain(`    warning deletes.pull: ${reason}`);
    expect(validated.stdout).toContain(`Next step: ${nextStep}`);
    const applied = await cli(['apply', file, '--json']);
    expect(applied.code).toBe(0);
    const change = (
      JSON.parse(applied.stdout) as {
        applied: { definitions: { changes: { path: string; effect: string; heldRows?: number }[] }[] };
      }
    ).applied.definitions[0].changes.find((c) => c.path === 'deletes');
    expect(change).toMatchObject({
      heldRows: 1,
      effect: expect.stringMatching(
        /^applies from the next run to every SharePoint delete it reads \(one made before this change and not pulled yet too: run a pull before applying to have it kept under IGNORE\); 1 row .*Next step: /,
      ),
    });
    const advice = { deletesPull: 'PROPAGATE', reason: expect.stringContaining(reason), nextStep };
    expect((await statusJson('kept')).itemDeletedAdvice).toEqual(advice);
    expect((await ops('GET', 'definitions/kept')).json.itemDeletedAdvice).toEqual(advice);
    const text = (await cli(['status', 'kept'])).stdout;
    expect(text).toContain(`  item deleted in SharePoint: ${reason}`);
    expect(text).toContain(`    next step: ${nextStep}`);

    // Runs under the new policy keep the row as it was, and the next step named does what it says.
    await runPush(h.ctx, 'kept', { trigger: 'test' });
    await runPull(h.ctx, 'kept', { trigger: 'test' });
    expect((await h.db.pool.query('SELECT id FROM kept ORDER BY id')).rows).toEqual([{ id: 1 }, { id: 2 }]);
    const resynced = await cli(['backfill', 'kept', '--fields', 'Title', '--strategy', 'full_resync']);
    expect(resynced.code).toBe(0);
    expect((await h.items('Kept')).map((i) => i.fields.Title).sort()).toEqual(['one', 'two']);
    expect((await statusJson('kept')).itemDeletedAdvice).toBeNull();
  });

  it('an idle pull records its last idle check (routed: no TARGET cursor row), shown beside the push one', async () => {
    const full = await runPull(h.ctx, 'split', { trigger: 'test' });
    expect(full).toMatchObject({ status: 'SUCCEEDED' });
    expect((await statusJson('split')).pullIdleCheckedAt).toBeNull();
    expect((await cli(['status', 'split'])).stdout).not.toContain('last idle check (pull)');

    const idle = await runPull(h.ctx, 'split', { trigger: 'queue' });
    expect(idle).toMatchObject({ idle: true, runId: null });
    const json = await statusJson('split');
    expect(json.pullIdleCheckedAt).not.toBeNull();
    expect(json.pullIdleCheckedAt! > json.lastPull!.startedAt).toBe(true);
    const text = (await cli(['status', 'split'])).stdout;
    expect(text).toContain(
      `  last idle check (pull): ${json.pullIdleCheckedAt} (nothing to pull since the last pull; no run recorded)`,
    );
    // Right after "last pull:", as the push's check follows "last push:".
    expect(text).toMatch(/^ {2}last pull: .*\n {2}last idle check \(pull\): /m);
    expect((await ops('GET', 'definitions/split')).json.pullIdleCheckedAt).toBe(json.pullIdleCheckedAt);

    // Within IDLE_MARK_SECONDS the next idle pull writes nothing: the check keeps its time.
    expect(await runPull(h.ctx, 'split', { trigger: 'queue' })).toMatchObject({ idle: true });
    expect((await statusJson('split')).pullIdleCheckedAt).toBe(json.pullIdleCheckedAt);

    // A stale mark is written again; a pull that runs is shown as the last pull, which hides the older check.
    await h.db.pool.query(
      "UPDATE arcore.sync_definitions SET pull_idle_checked_at = now() - interval '1 hour' WHERE name = 'split'",
    );
    expect(await runPull(h.ctx, 'split', { trigger: 'queue' })).toMatchObject({ idle: true });
    const again = (await statusJson('split')).pullIdleCheckedAt!;
    expect(again > json.pullIdleCheckedAt!).toBe(true);
    expect((await runPull(h.ctx, 'split', { trigger: 'cli', full: true })).runId).not.toBeNull();
    expect((await cli(['status', 'split'])).stdout).not.toContain('last idle check (pull)');
  });
});

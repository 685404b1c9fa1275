import { probePullIdle } from '../../../src/core/engine/idlePull';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import type { RunSummary } from '../../../src/core/engine/types';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { getDefinition } from '../../../src/core/store/definitions';
import { park } from '../../../src/core/store/failures';
import { disabledTelemetry } from '../../../src/core/telemetry';
import { pullWorker } from '../../../src/functions/pullWorker';
import { installRuntime } from '../../../src/functions/runtime';
import { invocation } from '../../functions/support/invocation';
import {
  createProjectsTable,
  projectsDefinition,
  SITE,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/**
 * The pull's idle probe (I18): a scheduled pull whose delta feed is empty costs one metadata statement and one
 * delta request per list, records no run and writes nothing; any change in SharePoint, a parked item due, a
 * definition change or a 429 sends the pull down its normal path, which applies it.
 */
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  await createProjectsTable(h.db);
  await h.db.pool.query('CREATE SEQUENCE projects_id START 100');
  await h.db.pool.query("ALTER TABLE projects ALTER COLUMN id SET DEFAULT nextval('projects_id')");
  await h.db.pool.query(`CREATE TABLE tickets (
      id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
  await installCursorTrigger(h.db.pool, 'public', 'tickets', 'updated_at');
});
afterAll(async () => h.close());

/** Everything a pull could write to the metadata store and the table, as one comparable value. */
async function written(table: string): Promise<string> {
  const { rows } = await h.db.pool.query<{ state: string }>(
    `SELECT concat_ws('|',
        (SELECT count(*) FROM arcore.sync_runs),
        (SELECT string_agg(concat_ws(',', definition_id, scope, value, progress, updated_at, idle_checked_at), ';'
                           ORDER BY definition_id, scope) FROM arcore.sync_cursors),
        (SELECT string_agg(concat_ws(',', definition_id, list_id, value, progress, updated_at), ';'
                           ORDER BY definition_id, list_id) FROM arcore.sync_list_cursors),
        (SELECT string_agg(concat_ws(',', id, status, attempts, next_attempt_at), ';' ORDER BY id)
           FROM arcore.sync_failures),
        (SELECT count(*) || ',' || max(last_sync_ts) FROM arcore.sync_ledger),
        (SELECT string_agg(t::text, ';' ORDER BY t::text) FROM ${table} t)) AS state`,
  );
  return rows[0].state;
}

const deltaRequests = (from: number) =>
  h.emulator.control
    .requestLog()
    .slice(from)
    .filter((r) => r.method === 'GET' && r.path.endsWith('/items/delta'));

/** A scheduled pull the probe finds idle: no run, nothing written, exactly one delta request per list. */
async function expectIdle(name: string, table: string, lists: number): Promise<void> {
  const before = await written(table);
  const from = h.emulator.control.requestLog().length;
  const summary = await runPull(h.ctx, name, { trigger: 'queue' });
  expect(summary).toMatchObject({
    idle: true,
    runType: 'PULL',
    status: 'SUCCEEDED',
    runId: null,
    graphRequests: lists,
    // One resource unit per delta request with a token, drawn from the shared budget as any run's would be.
    resourceUnits: lists,
  });
  expect(h.emulator.control.requestLog().length - from).toBe(lists);
  expect(deltaRequests(from)).toHaveLength(lists);
  expect(await written(table)).toBe(before);
}

/** A scheduled pull the probe hands over: a recorded run. */
async function expectRun(name: string, counts: Partial<RunSummary>): Promise<RunSummary> {
  const summary = await runPull(h.ctx, name, { trigger: 'queue' });
  expect(summary.idle).toBeUndefined();
  expect(summary.runId).not.toBeNull();
  expect(summary).toMatchObject({ status: 'SUCCEEDED', ...counts });
  return summary;
}

const row = async (id: number) =>
  (await h.db.pool.query('SELECT name, budget FROM projects WHERE id = $1', [id])).rows[0];

describe('pull idle probe, one list', () => {
  const fourFields = projectsDefinition({
    fields: projectsDefinition().fields.filter((f) => f.source !== 'done'),
  });

  beforeAll(async () => {
    // Provisioned with every column, synced without Done: mapping it later needs no new column.
    await h.define(projectsDefinition());
    await h.define(fourFields);
    await h.db.pool.query("INSERT INTO projects (id, name, budget) VALUES (1, 'one', 1), (2, 'two', 2)");
    await runPush(h.ctx, 'projects', { trigger: 'test' });
    await runPull(h.ctx, 'projects', { trigger: 'test' });
  });

  it('an empty feed is idle: no run, nothing written, one delta request; a webhook or --full pull still runs', async () => {
    await expectIdle('projects', 'projects', 1);
    await expectIdle('projects', 'projects', 1);
    expect((await runPull(h.ctx, 'projects', { trigger: 'webhook' })).runId).not.toBeNull();
    expect((await runPull(h.ctx, 'projects', { trigger: 'cli', full: true })).runId).not.toBeNull();
  });

  it('a create, an update and a delete in SharePoint each make the next pull run and apply it', async () => {
    const created = await h.asUser('POST', `/sites/${h.siteId}/lists/Projects/items`, {
      fields: { Title: 'from SP', Budget: 5 },
    });
    expect(created.status).toBe(201);
    await expectRun('projects', { created: 1 });
    expect(await row(100)).toEqual({ name: 'from SP', budget: '5.00' });
    await expectIdle('projects', 'projects', 1);

    const itemId = (created.body as { id: string }).id;
    const patched = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${itemId}/fields`, {
      Budget: 7,
    });
    expect(patched.status).toBe(200);
    await expectRun('projects', { updated: 1 });
    expect(await row(100)).toEqual({ name: 'from SP', budget: '7.00' });
    await expectIdle('projects', 'projects', 1);

    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/Projects/items/${itemId}`)).status).toBe(204);
    await expectRun('projects', { deleted: 1 });
    expect(await row(100)).toBeUndefined();
    await expectIdle('projects', 'projects', 1);
  });

  it('a parked pull failure is idle until it is due, then the pull runs and retries it', async () => {
    const { id } = await getDefinition(h.db.pool, 'projects');
    const item = (await h.items('Projects')).find((i) => i.fields.Title === 'one')!;
    await park(h.db.pool, id, { direction: 'PULL', itemKey: item.id, spItemId: item.id, error: 'test' });
    await h.db.pool.query(
      "UPDATE arcore.sync_failures SET next_attempt_at = now() + interval '1 hour' WHERE definition_id = $1",
      [id],
    );
    await expectIdle('projects', 'projects', 1);
    await h.db.pool.query(
      "UPDATE arcore.sync_failures SET next_attempt_at = now() - interval '1 second' WHERE definition_id = $1",
      [id],
    );
    expect((await probePullIdle(h.ctx, 'projects'))?.busy).toEqual(['parked items due']);
    await expectRun('projects', {});
    expect(
      (await h.db.pool.query('SELECT status FROM arcore.sync_failures WHERE definition_id = $1', [id])).rows,
    ).toEqual([{ status: 'RESOLVED' }]);
    await expectIdle('projects', 'projects', 1);
  });

  it('a newly mapped field owes a re-read (I14): the pull runs, even in a process that never saw the old definition', async () => {
    const item = (await h.items('Projects')).find((i) => i.fields.Title === 'two')!;
    // Set in SharePoint while the field was not mapped: only a re-read with the new selection brings it over.
    const patched = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${item.id}/fields`, {
      Done: true,
    });
    expect(patched.status).toBe(200);
    await expectRun('projects', { updated: 0 });
    await expectIdle('projects', 'projects', 1);

    await h.define(projectsDefinition());
    expect((await probePullIdle(h.ctx, 'projects'))?.busy).toEqual([
      'definition changed',
      'definition changed since the last pull',
    ]);
    // The probe rebuilt itself from the new definition, as a fresh process would: the re-read is still owed.
    expect((await probePullIdle(h.ctx, 'projects'))?.busy).toEqual([
      'definition changed since the last pull',
    ]);
    await expectRun('projects', { updated: 1 });
    expect((await h.db.pool.query('SELECT done FROM projects WHERE id = 2')).rows[0].done).toBe(true);
    await expectIdle('projects', 'projects', 1);
  });
});

describe('pull idle probe in the pull worker', () => {
  it('a safety pull of a quiet list is idle and the worker says so', async () => {
    const { id } = await getDefinition(h.db.pool, 'projects');
    const uninstall = installRuntime({ ctx: h.ctx, telemetry: disabledTelemetry, webhookUrls: {} });
    try {
      const { context, logs } = invocation('pullWorker');
      const summary = await pullWorker(
        { definition: 'projects', definitionId: id, trigger: 'safety' },
        context,
      );
      expect(summary).toMatchObject({ idle: true, runId: null, graphRequests: 1 });
      expect(logs.map((l) => l.text)).toContainEqual(
        expect.stringMatching(
          /^pullWorker: projects idle, nothing to pull \(no run recorded, 1 delta request\(s\), \d+ ms\)$/,
        ),
      );
    } finally {
      uninstall();
    }
  });
});

describe('pull idle probe, routed definition with two lists', () => {
  beforeAll(async () => {
    await h.define({
      name: 'tickets',
      source: { table: 'tickets', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: {
        site: SITE,
        routes: [{ when: "status == 'OPEN'", list: 'Open' }, { list: 'Closed' }],
      },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
    });
    await h.db.pool.query(
      "INSERT INTO tickets (id, title, status) VALUES (1, 'a', 'OPEN'), (2, 'b', 'DONE')",
    );
    await runPush(h.ctx, 'tickets', { trigger: 'test' });
    await runPull(h.ctx, 'tickets', { trigger: 'test' });
  });

  it('reads each list once from its own link; an edit in the second list makes the pull run', async () => {
    await expectIdle('tickets', 'tickets', 2);
    const item = (await h.items('Closed')).find((i) => i.fields.Title === 'b')!;
    const patched = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Closed/items/${item.id}/fields`, {
      Title: 'b2',
    });
    expect(patched.status).toBe(200);
    await expectRun('tickets', { updated: 1 });
    expect((await h.db.pool.query('SELECT title FROM tickets WHERE id = 2')).rows[0].title).toBe('b2');
    await expectIdle('tickets', 'tickets', 2);
  });
});

describe('pull idle probe under throttling', () => {
  it('a short 429 is waited out by the probe; a long one hands over to the run, which stops cleanly', async () => {
    h.emulator.control.injectFault({
      method: 'GET',
      pathPattern: '/items/delta$',
      count: 1,
      status: 429,
      retryAfterSeconds: 1,
    });
    const short = await runPull(h.ctx, 'projects', { trigger: 'queue' });
    expect(short).toMatchObject({ idle: true, runId: null, graphRequests: 2 });

    h.emulator.control.injectFault({
      method: 'GET',
      pathPattern: '/items/delta$',
      count: 1,
      status: 429,
      retryAfterSeconds: 8,
    });
    // The probe may wait 5 s, the run 2 s: the run records that it stopped before the wait, with nothing lost.
    const long = await runPull(h.ctx, 'projects', { trigger: 'queue', maxSeconds: 2 });
    expect(long.idle).toBeUndefined();
    expect(long.runId).not.toBeNull();
    expect(long).toMatchObject({ status: 'SUCCEEDED', complete: false, error: null });
    expect(long.resumeAfter).not.toBeNull();
  });
});

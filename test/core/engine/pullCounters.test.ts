import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import type { RunSummary } from '../../../src/core/engine/types';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/** Every item a pull considers is counted once, under exactly one outcome. */
function expectCountsAddUp(s: RunSummary): void {
  expect(s.processed).toBe(s.created + s.updated + s.deleted + s.skipped + s.conflicts + s.failed);
}

describe('pull counters: processed = created + updated + deleted + skipped + conflicts + failed', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
  });
  afterEach(async () => h.close());

  const push = () => runPush(h.ctx, 'projects', { trigger: 'test' });
  const pull = () => runPull(h.ctx, 'projects', { trigger: 'test' });
  const items = () => h.items('Projects');
  const spEdit = async (itemId: string, fields: Record<string, unknown>) => {
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/Projects/items/${itemId}/fields`, fields);
    expect(res.status).toBe(200);
  };

  const pushOnlyBudget = () =>
    h.define(
      projectsDefinition({
        fields: [
          { source: 'name', target: 'Title' },
          { source: 'budget', target: 'Budget', direction: 'PUSH_ONLY' },
        ],
      }),
    );

  // Postgres changed and not yet pushed; the pull sees the item because a push-only field was edited there.
  it('a write-back to SharePoint of a Postgres edit counts as updated', async () => {
    await pushOnlyBudget();
    await h.db.pool.query("INSERT INTO projects (id, name, budget) VALUES (1, 'a', 10), (2, 'b', 20)");
    await push();
    await pull();
    const [first] = (await items()).filter((i) => i.fields.Title === 'a');
    await h.db.pool.query("UPDATE projects SET name = 'a2' WHERE id = 1");
    await spEdit(first.id, { Budget: 99 });

    const run = await pull();

    expect(run).toMatchObject({ status: 'SUCCEEDED', processed: 1, updated: 1, failed: 0 });
    expectCountsAddUp(run);
    expect((await items()).find((i) => i.id === first.id)?.fields).toMatchObject({ Title: 'a2', Budget: 10 });
  });

  it('a conflict settled on both sides counts once, as a conflict', async () => {
    await h.define(projectsDefinition({ conflictPolicy: 'DESTINATION_WINS' }));
    await h.db.pool.query("INSERT INTO projects (id, name, budget) VALUES (1, 'T0', 10)");
    await push();
    await pull();
    const [item] = await items();
    await h.db.pool.query("UPDATE projects SET name = 'T1 postgres' WHERE id = 1");
    await spEdit(item.id, { Title: 'T2 sharepoint' });

    const run = await pull();

    expect(run).toMatchObject({ processed: 1, conflicts: 1, updated: 0 });
    expectCountsAddUp(run);
    expect((await h.db.pool.query('SELECT name FROM projects WHERE id = 1')).rows[0].name).toBe(
      'T2 sharepoint',
    );
  });

  it('an edit from SharePoint applied to Postgres counts as updated', async () => {
    await h.define(projectsDefinition());
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'a')");
    await push();
    await pull();
    const [item] = await items();
    await spEdit(item.id, { Title: 'b' });

    const run = await pull();

    expect(run).toMatchObject({ processed: 1, updated: 1 });
    expectCountsAddUp(run);
  });
});

describe('PARTIAL only when this run parked something', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.db.pool.query(
      'CREATE TABLE projects (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL DEFAULT now())',
    );
    await h.define(projectsDefinition({ fields: [{ source: 'name', target: 'Title' }] }));
  });
  afterAll(async () => h?.close());
  const push = () => runPush(h.ctx, 'projects', { trigger: 'test' });
  const pull = () => runPull(h.ctx, 'projects', { trigger: 'test' });

  it('a run that parks a failure is PARTIAL; later runs that do not retry it succeed and report it apart', async () => {
    // SharePoint refuses a Title of more than 255 characters.
    await h.db.pool.query("INSERT INTO projects (id, name) VALUES (1, 'ok'), (2, repeat('x', 300))");
    const first = await push();
    expect(first).toMatchObject({ status: 'PARTIAL', failed: 1, parkedFailures: 1 });

    // Not due yet: its back-off keeps it out of the next runs.
    await h.db.pool.query("UPDATE arcore.sync_failures SET next_attempt_at = now() + interval '1 hour'");
    await h.db.pool.query(
      "UPDATE projects SET name = 'ok again', updated_at = now() + interval '1 second' WHERE id = 1",
    );
    const second = await push();
    expect(second).toMatchObject({ status: 'SUCCEEDED', updated: 1, failed: 0, parkedFailures: 1 });
    const pulled = await pull();
    expect(pulled).toMatchObject({ status: 'SUCCEEDED', failed: 0, parkedFailures: 1 });

    // Due again and still refused: failed again in this run, so this run is PARTIAL.
    await h.db.pool.query('UPDATE arcore.sync_failures SET next_attempt_at = now()');
    const retried = await push();
    expect(retried).toMatchObject({ status: 'PARTIAL', failed: 1, parkedFailures: 1 });
  });
});

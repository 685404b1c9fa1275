/**
 * I5, I14 (docs/design.md, "Definitions evolve safely"; found by review r24): ALTER … TYPE and a renamed enum label
 * change stored values without a row trigger, so the push cursor never passes them again. The next push reads
 * every row again and brings the items to the values the change gave the rows; the idle probe sees the change on
 * the next tick, not at the hourly full push. A mapped column dropped and added again holds none of the synced
 * values: they are never pushed empty over SharePoint's.
 */
import { runBackfill } from '../../../src/core/engine/backfill/run';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { projectsDefinition, SITE, startHarness, type Harness } from '../../support/engineHarness';
import { defineProjects, pushedTwoProjects, runDetails } from '../../support/projects';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => h.close());

const push = () => runPush(h.ctx, 'projects', { trigger: 'test' });
/** A scheduled push: the idle probe goes first. */
const scheduled = () => runPush(h.ctx, 'projects', { trigger: 'queue' });
const budgets = async () =>
  (await h.db.pool.query<{ budget: string | null }>('SELECT budget FROM projects ORDER BY id')).rows.map(
    (r) => (r.budget === null ? null : Number(r.budget)),
  );
const fieldOf = async (field: string) =>
  (await h.items('projects')).map((i) => i.fields[field]).sort((a, b) => String(a).localeCompare(String(b)));

/**
 * Rows 1 and 2 last changed an hour ago, pushed; then row 3, pushed: the cursor is past the old rows' overlap window,
 * so only a re-read reaches them.
 */
async function oldRowsPushed(values: string): Promise<void> {
  await h.db.pool.query('ALTER TABLE projects DISABLE TRIGGER USER');
  await h.db.pool.query(`INSERT INTO projects (id, name, budget, mood, updated_at) VALUES ${values}`);
  await h.db.pool.query('ALTER TABLE projects ENABLE TRIGGER USER');
  expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 2 });
  await h.db.pool.query("INSERT INTO projects (id, name, budget, mood) VALUES (3, 'three', 30, 'sad')");
  expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
}

describe('I5/I14 a column retyped in Postgres', () => {
  beforeEach(async () => {
    const fields = [...projectsDefinition().fields, { source: 'mood', target: 'Mood' }];
    // No overlap window and a daily delete sweep: a scheduled push of the quiet table is idle.
    await defineProjects(h, 'projects', {
      alter: ['ADD COLUMN mood text'],
      source: { overlapSeconds: 0 },
      definition: { fields, deletes: { checkIntervalSeconds: 86400 } },
    });
    await oldRowsPushed(
      "(1, 'one', 10.4, 'ok', now() - interval '1 hour'), (2, 'two', 20, 'ok', now() - interval '1 hour')",
    );
  });

  it('a retyped column: the next push writes the values the new type gave the rows, and only those', async () => {
    // What a push with nothing to do reads (the overlap window behind its cursor). It writes no definition row: the
    // recorded types, read back from jsonb in another key order, are still the types now (review r34).
    const version = async () =>
      (
        await h.db.pool.query<{ v: string }>(
          "SELECT xmin::text AS v FROM arcore.sync_definitions WHERE name = 'projects'",
        )
      ).rows[0].v;
    const before = await version();
    const quiet = (await push()).processed;
    expect(await version()).toBe(before);
    expect(await scheduled()).toMatchObject({ idle: true, runId: null });
    // Whole currency units from now on: ALTER rounds every stored value and fires no row trigger. The next
    // scheduled push is a run, not an idle probe that trusts the table's shape for the hour.
    await h.db.pool.query('ALTER TABLE projects ALTER COLUMN budget TYPE numeric(12,0)');
    const run = await scheduled();
    expect(run.idle).toBeUndefined();
    expect(run).toMatchObject({ status: 'SUCCEEDED', processed: 3, updated: 1, created: 0, deleted: 0 });
    expect(await fieldOf('Budget')).toEqual([10, 20, 30]);
    // Recorded: the push after it reads from its cursor again, and the probe finds the table quiet again.
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', processed: quiet });
    expect(await scheduled()).toMatchObject({ idle: true });
  });

  it('an enum label renamed: the rows holding it are pushed with the new label', async () => {
    await h.db.pool.query(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
      ALTER TABLE projects ALTER COLUMN mood TYPE mood USING mood::mood`);
    // Same labels as the text held: read again, nothing written.
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', processed: 3, updated: 0, created: 0 });
    const quiet = (await push()).processed;
    // A label added changes no stored value: no re-read.
    await h.db.pool.query("ALTER TYPE mood ADD VALUE 'furious'");
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', processed: quiet });
    expect(await scheduled()).toMatchObject({ idle: true });
    await h.db.pool.query("ALTER TYPE mood RENAME VALUE 'ok' TO 'fine'");
    const run = await scheduled();
    expect(run.idle).toBeUndefined();
    expect(run).toMatchObject({ status: 'SUCCEEDED', updated: 2, created: 0 });
    expect(await fieldOf('Mood')).toEqual(['fine', 'fine', 'sad']);
  });
});

describe('I14 a mapped column dropped and added again', () => {
  const recreate = async () => {
    await h.db.pool.query('ALTER TABLE projects DROP COLUMN budget');
    await h.db.pool.query('ALTER TABLE projects ADD COLUMN budget numeric(12,2)');
    // An edit of another column: the push reads the row, with its now empty budget.
    await h.db.pool.query("UPDATE projects SET name = 'ONE' WHERE id = 1");
  };

  it('a definition that pulls: the empty column is not pushed, the next pull fills it from SharePoint', async () => {
    await pushedTwoProjects(h, 'projects');
    await recreate();
    const run = await push();
    expect(run).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
    expect(await fieldOf('Title')).toEqual(['ONE', 'two']);
    expect(await fieldOf('Budget')).toEqual([10, 20]);
    expect((await runDetails(h, run.runId)).warnings).toEqual(
      expect.arrayContaining([
        expect.stringContaining('column "budget" was dropped and added again in Postgres'),
      ]),
    );
    expect(await runPull(h.ctx, 'projects', { trigger: 'test' })).toMatchObject({ status: 'SUCCEEDED' });
    expect(await budgets()).toEqual([10, 20]);
    // Aligned: nothing left to write either way.
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', updated: 0 });
    expect(await fieldOf('Budget')).toEqual([10, 20]);
  });

  it('a definition that does not pull: SharePoint keeps its values, the warning names the column and the backfill that takes them', async () => {
    await pushedTwoProjects(h, 'projects', { definition: { pull: { enabled: false } } });
    await recreate();
    const run = await push();
    expect(run).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
    expect(await fieldOf('Budget')).toEqual([10, 20]);
    const command = 'npx arcore-sync backfill projects --fields Budget --direction pull';
    expect((await runDetails(h, run.runId)).warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/column "budget" was dropped and added again[^]*does not pull/),
      ]),
    );
    expect(((await runDetails(h, run.runId)).warnings as string[]).join('\n')).toContain(command);
    // The next step the warning names brings SharePoint's values back into Postgres.
    expect(
      await runBackfill(h.ctx, 'projects', { fields: ['Budget'], direction: 'pull', trigger: 'test' }),
    ).toMatchObject({ complete: true });
    expect(await budgets()).toEqual([10, 20]);
    // A value written in the column is the operator's: pushed.
    await h.db.pool.query('UPDATE projects SET budget = 15 WHERE id = 1');
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
    expect(await fieldOf('Budget')).toEqual([15, 20]);
  });

  it('a view made again with its columns in another order shows the same values: nothing is aligned afresh', async () => {
    await h.db.pool.query(`CREATE TABLE gadgets (id int PRIMARY KEY, name text, price numeric(12,2),
        updated_at timestamptz NOT NULL DEFAULT now());
      CREATE VIEW gadgets_v AS SELECT id, name, price, updated_at FROM gadgets;
      INSERT INTO gadgets VALUES (1, 'one', 10, now() - interval '1 hour')`);
    await h.define({
      name: 'gadgets',
      source: {
        table: 'gadgets_v',
        key: ['id'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        overlapSeconds: 0,
      },
      target: { site: SITE, list: 'Gadgets' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'price', target: 'Price' },
      ],
      deletes: { checkIntervalSeconds: 86400 },
    });
    const gadgets = (trigger: 'test' | 'queue') => runPush(h.ctx, 'gadgets', { trigger });
    expect(await gadgets('test')).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    expect(await gadgets('queue')).toMatchObject({ idle: true });
    await h.db.pool.query(`DROP VIEW gadgets_v;
      CREATE VIEW gadgets_v AS SELECT id, price, name, updated_at FROM gadgets`);
    // The view's shape changed (its column numbers): one run looks, and records it.
    const run = await gadgets('queue');
    expect(run.idle).toBeUndefined();
    expect(run).toMatchObject({ status: 'SUCCEEDED', updated: 0 });
    expect(JSON.stringify((await runDetails(h, run.runId)).warnings)).not.toContain(
      'dropped and added again',
    );
    const { rows } = await h.db.pool.query<{ kept: boolean }>(
      "SELECT synced_values ? 'Price' AS kept FROM arcore.sync_ledger",
    );
    expect(rows).toEqual([{ kept: true }]);
    expect(await gadgets('queue')).toMatchObject({ idle: true });
  });
});

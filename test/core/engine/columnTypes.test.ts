/**
 * I5, I14 (docs/design.md, "Definitions evolve safely"; found by review r24): ALTER … TYPE and a renamed enum label
 * change stored values without a row trigger, so the push cursor never passes them again. The next push reads
 * every row again and brings the items to the values the change gave the rows.
 */
import { runPush } from '../../../src/core/engine/push';
import { projectsDefinition, startHarness, type Harness } from '../../support/engineHarness';
import { defineProjects } from '../../support/projects';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => h.close());

const push = () => runPush(h.ctx, 'projects', { trigger: 'test' });
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
    await defineProjects(h, 'projects', { alter: ['ADD COLUMN mood text'], definition: { fields } });
    await oldRowsPushed(
      "(1, 'one', 10.4, 'ok', now() - interval '1 hour'), (2, 'two', 20, 'ok', now() - interval '1 hour')",
    );
  });

  it('a retyped column: the next push writes the values the new type gave the rows, and only those', async () => {
    // What a push with nothing to do reads (the overlap window behind its cursor).
    const quiet = (await push()).processed;
    // Whole currency units from now on: ALTER rounds every stored value and fires no row trigger.
    await h.db.pool.query('ALTER TABLE projects ALTER COLUMN budget TYPE numeric(12,0)');
    expect(await push()).toMatchObject({
      status: 'SUCCEEDED',
      processed: 3,
      updated: 1,
      created: 0,
      deleted: 0,
    });
    expect(await fieldOf('Budget')).toEqual([10, 20, 30]);
    // Recorded: the push after it reads from its cursor again.
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', processed: quiet });
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
    await h.db.pool.query("ALTER TYPE mood RENAME VALUE 'ok' TO 'fine'");
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', updated: 2, created: 0 });
    expect(await fieldOf('Mood')).toEqual(['fine', 'fine', 'sad']);
  });
});

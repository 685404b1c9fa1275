/**
 * Provisioning against the strict emulator: names SharePoint would not keep are refused before anything
 * is created, multi-choice columns take the documented shape, and a missing permission is named.
 */
import { randomUUID } from 'node:crypto';
import { errorKindOf } from '../../../src/core/errors/classify';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { verifyDefinition } from '../../../src/core/engine/verify';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

describe('provision against the strict emulator', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await createProjectsTable(h.db);
  });
  afterEach(async () => h.close());

  it('refuses a target whose internal name SharePoint would escape or cut, naming the name it would get', async () => {
    const long = 'Budget Remaining For The Fiscal Year';
    const list = `Names ${randomUUID().slice(0, 8)}`;
    await expect(
      h.define(projectsDefinition({ fields: [{ source: 'budget', target: long }] }, list)),
    ).rejects.toThrow(
      /internal name "Budget_x0020_Remaining_x0020_For".*e\.g\. "BudgetRemainingForTheFiscalYear"/,
    );
    const columns = await h.asUser('GET', `/sites/${h.siteId}/lists/${encodeURIComponent(list)}/columns`);
    const names = (columns.body as { value?: { name: string }[] } | null)?.value?.map((c) => c.name) ?? [];
    expect(names.some((n) => n.startsWith('Budget'))).toBe(false);
  });

  it('a target naming an existing column by its display name is an invalid definition naming the internal name', async () => {
    const list = `Shown ${randomUUID().slice(0, 8)}`;
    const made = await h.asUser('POST', `/sites/${h.siteId}/lists`, {
      displayName: list,
      list: { template: 'genericList' },
      columns: [{ name: 'Due_x0020_Date', displayName: 'Due Date', dateTime: { format: 'dateOnly' } }],
    });
    expect(made.status).toBe(201);
    const refusal = await h
      .define(projectsDefinition({ fields: [{ source: 'due', target: 'Due Date' }] }, list))
      .then(() => null)
      .catch((err: unknown) => err);
    expect(errorKindOf(refusal)).toBe('invalid_definition');
    expect((refusal as Error).message).toContain(
      'fields[0].target: list "' +
        list +
        '" has a column displayed as "Due Date" whose internal name is ' +
        '"Due_x0020_Date": map that name',
    );
    const columns = await h.asUser('GET', `/sites/${h.siteId}/lists/${encodeURIComponent(list)}/columns`);
    const names = (columns.body as { value: { name: string }[] }).value.map((c) => c.name);
    expect(names.filter((n) => n.startsWith('Due'))).toEqual(['Due_x0020_Date']);
  });

  it('an append-only multi-line column reads empty: mapped both ways it is refused; PUSH_ONLY it syncs without loss or loop', async () => {
    // "Append changes to existing text" keeps the text in version history: Graph reads the field empty
    // (https://github.com/pnp/pnpjs/issues/859). Pulled, that empty value would overwrite Postgres's.
    const list = `Log ${randomUUID().slice(0, 8)}`;
    const made = await h.asUser('POST', `/sites/${h.siteId}/lists`, {
      displayName: list,
      list: { template: 'genericList' },
      columns: [{ name: 'Log', text: { allowMultipleLines: true, appendChangesToExistingText: true } }],
    });
    expect(made.status).toBe(201);
    await h.db.pool.query(
      "ALTER TABLE projects ADD COLUMN log text; INSERT INTO projects (id, name, log) VALUES (1, 'one', 'first entry')",
    );
    const fields = [
      { source: 'name', target: 'Title' },
      { source: 'log', target: 'Log' },
    ];
    const refusal = await h
      .define(projectsDefinition({ fields }, list))
      .then(() => null)
      .catch((err: unknown) => err);
    expect(errorKindOf(refusal)).toBe('invalid_definition');
    expect((refusal as Error).message).toContain(
      `fields[1]: "log" maps column "Log" of list "${list}", which has "Append changes to existing text" on`,
    );
    expect((refusal as Error).message).toMatch(
      /turn the setting off in the column's settings, or map the field PUSH_ONLY/,
    );

    await h.define(
      projectsDefinition({ fields: [fields[0], { ...fields[1], direction: 'PUSH_ONLY' }] }, list),
    );
    const push = () => runPush(h.ctx, 'projects', { trigger: 'test' });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    const [item] = await h.items(list);
    expect(item.fields.Log).toBe('first entry');
    expect(
      (
        await h.asUser(
          'PATCH',
          `/sites/${h.siteId}/lists/${encodeURIComponent(list)}/items/${item.id}/fields`,
          { Title: 'renamed' },
        )
      ).status,
    ).toBe(200);
    expect(await runPull(h.ctx, 'projects', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      conflicts: 0,
    });
    expect((await h.db.pool.query('SELECT name, log FROM projects')).rows).toEqual([
      { name: 'renamed', log: 'first entry' },
    ]);
    expect(await push()).toMatchObject({ created: 0, updated: 0, failed: 0 });
    expect(await runPull(h.ctx, 'projects', { trigger: 'test' })).toMatchObject({ conflicts: 0, updated: 0 });
    expect(await push()).toMatchObject({ created: 0, updated: 0, failed: 0 });
    // verify cannot compare a field SharePoint reads empty: it names it instead of reporting a difference.
    expect(await verifyDefinition(h.ctx, 'projects')).toMatchObject({
      agree: true,
      fields: ['Title'],
      notCompared: ['Log'],
    });
  });

  it('provisions a text[] column as the documented multi-choice (displayAs checkBoxes) and the hidden key indexed', async () => {
    await h.define(projectsDefinition());
    const columns = await h.asUser('GET', `/sites/${h.siteId}/lists/Projects/columns`);
    const byName = new Map(
      (
        columns.body as {
          value: { name: string; hidden?: boolean; indexed?: boolean; choice?: { displayAs?: string } }[];
        }
      ).value.map((c) => [c.name, c]),
    );
    expect(byName.get('Tags')?.choice?.displayAs).toBe('checkBoxes');
    expect([...byName.values()].some((c) => c.hidden === true && c.indexed === true)).toBe(true);
  });
});

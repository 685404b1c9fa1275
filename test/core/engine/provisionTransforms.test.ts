import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { provisionList } from '../../../src/core/engine/provision';
import { runPush } from '../../../src/core/engine/push';
import { upsertDefinitions } from '../../../src/core/store/definitions';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/** provision with pipelines that change a field's type (issue #22): the column holds what the pipeline makes. */
describe('provision types a column by its push pipeline', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.db.pool.query(`CREATE TABLE events (
      id integer PRIMARY KEY, name text, budget numeric(12,2), starts_at timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await h.db.pool.query("INSERT INTO events VALUES (1, 'Kick-off', 12.5, '2026-03-01T22:30:00Z', now())");
  });
  afterAll(async () => h.close());

  const definition = (list: string, fields: SyncDefinitionInput['fields']): SyncDefinitionInput => ({
    name: list.toLowerCase(),
    source: { table: 'events', key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
    target: { site: SITE, list },
    fields,
  });

  async function provision(input: SyncDefinitionInput) {
    await upsertDefinitions(h.db.pool, [parseDefinition(input)]);
    return provisionList(h.ctx, input.name);
  }

  const columnsOf = async (list: string) =>
    new Map(
      (
        (await h.asUser('GET', `/sites/${h.siteId}/lists/${list}/columns`)).body as {
          value: { name: string; text?: unknown; number?: unknown; dateTime?: { format?: string } }[];
        }
      ).value.map((c) => [c.name, c]),
    );

  it('creates the column with the type the pipeline produces, says so, and the push writes into it', async () => {
    const input = definition('Events', [
      { source: 'name', target: 'Title' },
      { source: 'starts_at', target: 'StartsLocal', transform: 'TZ(Europe/Paris)' },
      { source: 'starts_at', target: 'StartsDay', transform: 'DATE', direction: 'PUSH_ONLY' },
      {
        source: 'budget',
        target: 'BudgetLabel',
        transform: "CONCAT(' EUR for ', name)",
        direction: 'PUSH_ONLY',
      },
      { source: 'budget', target: 'Budget' },
    ]);
    const logged: string[] = [];
    const info = h.ctx.log.info;
    h.ctx.log.info = (m: string) => logged.push(m);
    let result;
    try {
      result = await provision(input);
    } finally {
      h.ctx.log.info = info;
    }
    expect(result.typedByTransform).toEqual([
      {
        column: 'StartsLocal',
        sourceType: 'timestamp with time zone',
        type: 'text',
        transform: 'TZ(Europe/Paris)',
      },
      { column: 'StartsDay', sourceType: 'timestamp with time zone', type: 'date', transform: 'DATE' },
      { column: 'BudgetLabel', sourceType: 'numeric', type: 'text', transform: "CONCAT(' EUR for ', name)" },
    ]);
    expect(logged).toContain(
      'events: column "StartsLocal" created as text column: its transform TZ(Europe/Paris) turns the Postgres ' +
        'timestamp with time zone into text',
    );
    const columns = await columnsOf('Events');
    expect(columns.get('StartsLocal')?.text).toBeDefined();
    expect(columns.get('StartsDay')?.dateTime?.format).toBe('dateOnly');
    expect(columns.get('BudgetLabel')?.text).toBeDefined();
    expect(columns.get('Budget')?.number).toBeDefined();

    expect(await runPush(h.ctx, 'events', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      created: 1,
      failed: 0,
    });
    const [item] = await h.items('Events');
    expect(item.fields).toMatchObject({
      StartsLocal: '2026-03-01T23:30:00+01:00',
      BudgetLabel: '12.5 EUR for Kick-off',
      Budget: 12.5,
    });
    expect(String(item.fields.StartsDay)).toMatch(/^2026-03-01/);

    // A rerun finds the columns in place, of the pipeline's type: nothing to add, nothing refused.
    expect(await provision(input)).toMatchObject({ columnsAdded: [] });
  });

  it('refuses an existing column that cannot hold what the pipeline produces, naming the field', async () => {
    await provision(definition('Typed', [{ source: 'starts_at', target: 'Starts' }]));
    await expect(
      provision(
        definition('Typed', [{ source: 'starts_at', target: 'Starts', transform: 'TZ(Europe/Paris)' }]),
      ),
    ).rejects.toThrow(
      /fields\[0\]\.transform: the value ends as a text, which SharePoint dateTime column "Starts"/,
    );
  });
});

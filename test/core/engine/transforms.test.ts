import { applyDefinitions } from '../../../src/core/engine/apply';
import { verifyDefinition } from '../../../src/core/engine/verify';
import { runPull } from '../../../src/core/engine/pull';
import { runBackfill } from '../../../src/core/engine/backfill';
import { runPush } from '../../../src/core/engine/push';
import { parseDefinition } from '../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { validateAgainstDatabase } from '../../../src/core/definition/validateLive';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import { eventually } from '../../support/eventually';

/**
 * Transform pipelines end to end, against Postgres and the emulator (I3, I4, I7, I14): values are transformed on
 * the way out and undone (or re-mapped by pullTransform) on the way in; the ledger holds what each side holds,
 * so a second push and pull write nothing; a field whose pipeline cannot be undone is push-only and a
 * SharePoint edit of it is a conflict; a changed pipeline is counted by apply and rewrites nothing by itself.
 */
describe('I3 I4 transform pipelines in both directions', () => {
  let h: Harness;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  const fields = (): SyncDefinitionInput['fields'] => [
    { source: 'name', target: 'Title', transform: "TRIM | PREFIX('PRJ-')" },
    // The pull pipeline is not the push pipeline's inverse: only the ledger's pairs keep this from looping.
    { source: 'code', target: 'Code', transform: "PREFIX('X-')", pullTransform: 'TRIM' },
    { source: 'notes', target: 'Notes', transform: 'REGEX(s/Project/Initiative/g)' },
    { source: 'amount', target: 'Amount', transform: 'SCALE(100)' },
    { source: 'label', target: 'Label', transform: ['trim', 'uppercase'] },
  ];

  async function table() {
    n++;
    const name = `tf${n}`;
    await h.db.pool.query(
      `CREATE TABLE ${name} (id serial PRIMARY KEY, name text, code text, notes text, amount double precision, label text,
        updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    const definition = (f = fields()): SyncDefinitionInput => ({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: f,
    });
    await h.define(definition());
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name, code, notes, amount, label) VALUES
        (1, ' alpha ', 'c1', 'Project one', 0.25, ' first '), (2, 'beta', 'c2', 'plain', 1.5, NULL)`,
    );
    await h.db.pool.query(`SELECT setval(pg_get_serial_sequence('${name}', 'id'), 100)`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    const items = async () =>
      Object.fromEntries(
        (await h.items(name)).map((i) => [
          i.fields.Title as string,
          {
            id: i.id,
            eTag: i.eTag,
            Code: i.fields.Code,
            Notes: i.fields.Notes,
            Amount: i.fields.Amount,
            Label: i.fields.Label,
          },
        ]),
      );
    const rows = async () =>
      (await h.db.pool.query(`SELECT id, name, code, notes, amount, label FROM ${name} ORDER BY id`)).rows;
    const spEdit = async (itemId: string, f: Record<string, unknown>) => {
      const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, f);
      expect(res.status).toBe(200);
    };
    const writes = (s: { created: number; updated: number; deleted: number; conflicts: number }) =>
      s.created + s.updated + s.deleted + s.conflicts;
    const quiet = async () => {
      const again = [await push(), await pull(), await push(), await pull()];
      expect(again.map(writes)).toEqual([0, 0, 0, 0]);
    };
    const conflicts = async () =>
      (
        await h.db.pool.query(
          `SELECT c.fields, c.outcome, c.reason, c.sharepoint_values, c.postgres_values
             FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
            WHERE d.name = $1 ORDER BY c.id`,
          [name],
        )
      ).rows;
    expect((await push()).created).toBe(2);
    expect(writes(await pull())).toBe(0);
    return { name, definition, push, pull, items, rows, spEdit, quiet, conflicts, writes };
  }

  it('pushes transformed values, and a second push and pull write nothing', async () => {
    const t = await table();
    const items = await t.items();
    expect(items['PRJ-alpha']).toMatchObject({
      Code: 'X-c1',
      Notes: 'Initiative one',
      Amount: 25,
      Label: 'FIRST',
    });
    expect(items['PRJ-beta']).toMatchObject({ Code: 'X-c2', Notes: 'plain', Amount: 150 });
    await t.quiet();
    expect((await t.items())['PRJ-alpha'].eTag).toBe(items['PRJ-alpha'].eTag);
  });

  it('SharePoint edits are undone into Postgres (or mapped by pullTransform) and do not echo back', async () => {
    const t = await table();
    const { id } = (await t.items())['PRJ-alpha'];
    await t.spEdit(id, { Title: 'PRJ-gamma', Code: '  X-k9 ', Amount: 7 });
    const pulled = await t.pull();
    expect(pulled).toMatchObject({ updated: 1, conflicts: 0, failed: 0 });
    expect((await t.rows())[0]).toMatchObject({ name: 'gamma', code: 'X-k9', amount: 0.07 });
    const eTag = (await t.items())['PRJ-gamma'].eTag;
    // Pushing "X-k9" through PREFIX('X-') would give "X-X-k9": the ledger knows Postgres holds what pull wrote.
    await t.quiet();
    const after = (await t.items())['PRJ-gamma'];
    expect(after).toMatchObject({ eTag, Code: '  X-k9 ', Amount: 7 });
    // verify reads both sides through the same ledger pairs: the pair is in sync.
    expect((await verifyDefinition(h.ctx, t.name)).differences).toBe(0);
  });

  it('a backfill of a transformed field reads it through the ledger pairs: values pull wrote are not rewritten', async () => {
    const t = await table();
    const { id } = (await t.items())['PRJ-alpha'];
    await t.spEdit(id, { Code: '  X-k9 ' });
    expect(await t.pull()).toMatchObject({ updated: 1, conflicts: 0 });
    const eTag = (await t.items())['PRJ-alpha'].eTag;
    for (const direction of ['push', 'pull'] as const) {
      const b = await runBackfill(h.ctx, t.name, {
        fields: ['Code'],
        direction,
        restart: true,
        trigger: 'test',
      });
      expect(b).toMatchObject({ status: 'SUCCEEDED', updated: 0, conflicts: 0, failed: 0 });
    }
    // Pushing "X-k9" through PREFIX('X-') would give "X-X-k9": the item keeps what the user typed.
    expect((await t.items())['PRJ-alpha']).toMatchObject({ eTag, Code: '  X-k9 ' });
    expect((await t.rows())[0]).toMatchObject({ code: 'X-k9' });
    expect(await t.conflicts()).toEqual([]);
    await t.quiet();
  });

  it('Postgres edits flow out through the pipeline after a pull wrote the row', async () => {
    const t = await table();
    const { id } = (await t.items())['PRJ-beta'];
    await t.spEdit(id, { Code: 'pulled' });
    await t.pull();
    await h.db.pool.query(`UPDATE ${t.name} SET code = 'c22', name = ' delta' WHERE id = 2`);
    expect((await t.push()).updated).toBe(1);
    expect((await t.items())['PRJ-delta']).toMatchObject({ Code: 'X-c22' });
    await t.quiet();
  });

  it('the array form keeps its meaning: a SharePoint value is pulled as it is and normalised by the next push', async () => {
    const t = await table();
    const { id } = (await t.items())['PRJ-alpha'];
    await t.spEdit(id, { Label: ' mixed Case ' });
    expect(await t.pull()).toMatchObject({ updated: 1, failed: 0 });
    expect((await t.rows())[0]).toMatchObject({ label: ' mixed Case ' });
    expect((await t.push()).updated).toBe(1);
    expect((await t.items())['PRJ-alpha']).toMatchObject({ Label: 'MIXED CASE' });
    await t.quiet();
  });

  it('I12 a value a step refuses is not written: the item (or row) is parked naming the field, the step and the next step; the rest lands', async () => {
    const t = await table();
    const { id } = (await t.items())['PRJ-beta'];
    await t.spEdit(id, { Title: 'no prefix' });
    expect(await t.pull()).toMatchObject({ updated: 0, failed: 1 });
    expect((await t.rows())[1]).toMatchObject({ name: 'beta' });
    const parked = async (direction: string) =>
      (
        await h.db.pool.query(
          `SELECT f.last_error AS error FROM arcore.sync_failures f JOIN arcore.sync_definitions d ON d.id = f.definition_id
            WHERE d.name = $1 AND f.direction = $2`,
          [t.name, direction],
        )
      ).rows.map((r) => r.error as string);
    expect(await parked('PULL')).toEqual([
      `item ${id}: field Title (column name), transform undone step 2 PREFIX: "no prefix" does not carry "PRJ-". ` +
        'Next step: change Title of the item in SharePoint to a value the transform gives, or give the field a pullTransform',
    ]);
    // A pull backfill meets the same refusal: it is the pipeline's, not Postgres's.
    const backfill = await runBackfill(h.ctx, t.name, {
      fields: ['Title'],
      direction: 'pull',
      trigger: 'test',
    });
    expect(backfill.failures).toEqual([
      {
        key: { id: 2 },
        error: expect.stringMatching(/^field Title \(column name\), transform undone step 2 PREFIX/),
      },
    ]);
    // A row whose value REGEX refuses is parked naming Notes; another row of the page is pushed.
    await h.db.pool.query(`UPDATE ${t.name} SET notes = repeat('x', 10001) WHERE id = 1`);
    await h.db.pool.query(`INSERT INTO ${t.name} (id, name, notes) VALUES (3, 'gamma', 'Project three')`);
    expect(await t.push()).toMatchObject({ created: 1, updated: 0, failed: 1 });
    expect((await t.items())['PRJ-gamma'].Notes).toBe('Initiative three');
    expect((await t.items())['PRJ-alpha'].Notes).toBe('Initiative one');
    expect(await parked('PUSH')).toEqual([
      'row {"id":1}: field Notes (column notes), transform step 1 REGEX: a value of 10001 characters is longer than ' +
        "the 10000 a regex step reads. Next step: change column notes of the row in Postgres to a value the transform takes, or change the field's transform",
    ]);
  });

  it('a SharePoint edit of a field whose push pipeline cannot be undone is a conflict Postgres wins', async () => {
    const t = await table();
    const { id } = (await t.items())['PRJ-alpha'];
    await t.spEdit(id, { Notes: 'edited in SharePoint', Title: 'PRJ-renamed' });
    const pulled = await t.pull();
    expect(pulled).toMatchObject({ conflicts: 1, failed: 0 });
    const rows = await t.rows();
    expect(rows[0]).toMatchObject({ name: 'renamed', notes: 'Project one' });
    const [c] = await t.conflicts();
    expect(c.fields).toEqual(['Notes']);
    expect(c.outcome).toBe('TAKE_POSTGRES');
    expect(c.sharepoint_values.Notes).toBe('edited in SharePoint');
    expect(c.reason).toContain('its push transform cannot be undone, so the field is push-only');
    expect((await t.items())['PRJ-renamed']).toMatchObject({ Notes: 'Initiative one' });
    await t.quiet();
    // A new item's value of such a field is kept as it is, not lost.
    const created = await h.asUser('POST', `/sites/${h.siteId}/lists/${t.name}/items`, {
      fields: { Title: 'PRJ-new', Notes: 'Initiative new', Code: 'X-n' },
    });
    expect(created.status).toBe(201);
    expect((await t.pull()).created).toBe(1);
    expect((await t.rows())[2]).toMatchObject({ name: 'new', code: 'X-n', notes: 'Initiative new' });
    await t.quiet();
    expect((await t.items())['PRJ-new']).toMatchObject({ Notes: 'Initiative new', Code: 'X-n' });
  });

  it('validate type-checks pipelines against the columns and says which fields are one-way', async () => {
    const t = await table();
    const def = parseDefinition(
      t.definition([
        { source: 'name', target: 'Title', transform: "TRIM | PREFIX('PRJ-')" },
        { source: 'amount', target: 'Amount', transform: 'TRIM' },
        { source: 'notes', target: 'Notes', transform: "CONCAT(' ', missing, code)" },
        { source: 'code', target: 'Code', transform: 'REGEX(s/x/y/)', direction: 'PUSH_ONLY' },
      ]),
    );
    const report = await validateAgainstDatabase(def, h.db.pool);
    expect(report.errors).toEqual([
      {
        definition: t.name,
        path: 'fields[1].transform',
        message: 'step 1 TRIM: takes text values, but the value here is a number',
      },
      {
        definition: t.name,
        path: 'fields[2].transform',
        message: 'step 1 CONCAT: column "missing" does not exist in the source table',
      },
    ]);
    expect(report.warnings.filter((w) => w.path.startsWith('fields'))).toEqual([
      {
        definition: t.name,
        path: 'fields[2].transform',
        message: expect.stringContaining('step 1 CONCAT cannot be undone, so "Notes" is push-only') as string,
      },
    ]);
  });

  it('apply counts what a changed pipeline would rewrite, and nothing is rewritten until rows change', async () => {
    const t = await table();
    const changed = fields().map((f) =>
      f.target === 'Title' ? { ...f, transform: "TRIM | UPPER | PREFIX('PRJ-')" } : f,
    );
    const applied = await applyDefinitions(h.db.pool, [parseDefinition(t.definition(changed))]);
    const change = applied.definitions[0].changes.find((c) => c.kind === 'transform-changed');
    expect(change).toMatchObject({
      path: 'fields[0].transform',
      rewrites: { evaluated: 2, wouldRewrite: 2, unknown: 0 },
    });
    expect(change?.effect).toContain('the new pipeline gives 2 of 2 synced SharePoint items another value');
    const before = await t.items();
    await t.quiet();
    expect(await t.items()).toEqual(before);
    // The field's Postgres value changes: the new pipeline writes it; the other item keeps its old value.
    await h.db.pool.query(`UPDATE ${t.name} SET name = 'beta two' WHERE id = 2`);
    expect((await t.push()).updated).toBe(1);
    const after = await t.items();
    expect(after['PRJ-BETA TWO']).toMatchObject({ Code: 'X-c2' });
    expect(after['PRJ-alpha']).toEqual(before['PRJ-alpha']);
    await t.quiet();
  });

  it('I14 apply: a pair a run commits while apply records the pairs of a pipeline change is kept', async () => {
    // apply records a pair for entries without one (the input the old pipeline implies) without holding the
    // definition's run lock: a run's page committing a fresh pair in between must not be overwritten by it.
    const t = await table();
    const entry = `definition_id = (SELECT id FROM arcore.sync_definitions WHERE name = '${t.name}')
      AND source_identity->>'id' = '1'`;
    await h.db.pool.query(
      `UPDATE arcore.sync_ledger SET synced_source_values = synced_source_values - 'Title' WHERE ${entry}`,
    );
    const run = await h.db.pool.connect();
    try {
      await run.query('BEGIN');
      await run.query(`SELECT 1 FROM arcore.sync_ledger WHERE ${entry} FOR UPDATE`);
      const changed = fields().map((f) =>
        f.target === 'Title' ? { ...f, transform: "TRIM | UPPER | PREFIX('PRJ-')" } : f,
      );
      const applying = applyDefinitions(h.db.pool, [parseDefinition(t.definition(changed))]);
      await eventually('apply waiting on the ledger row', async () => {
        const { rows } = await h.db.pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%synced_source_values =%'`,
        );
        return rows.length > 0;
      });
      // The run's page commits the field's new synced value and its pair.
      await run.query(
        `UPDATE arcore.sync_ledger SET synced_values = synced_values || '{"Title": "PRJ-fresh"}',
           synced_source_values = synced_source_values || '{"Title": {"sp": "PRJ-fresh", "pg": "fresh"}}'
         WHERE ${entry}`,
      );
      await run.query('COMMIT');
      await applying;
    } finally {
      run.release();
    }
    const { rows } = await h.db.pool.query(
      `SELECT synced_source_values -> 'Title' AS pair FROM arcore.sync_ledger WHERE ${entry}`,
    );
    expect(rows[0].pair).toEqual({ sp: 'PRJ-fresh', pg: 'fresh' });
  });
});

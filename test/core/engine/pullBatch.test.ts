import { Client } from 'pg';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import type { RunSummary } from '../../../src/core/engine/types';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';
import {
  countStatementsOn,
  installStatementCounts,
  resetStatementCounts,
  statementCounts,
} from '../../support/statementCounts';
import { eventually } from '../../support/eventually';

/**
 * The pull writes a delta page in one statement per kind and column set (engine/pull/pageWrites.ts); a refused
 * statement is split down to its bad rows, which take one savepoint each, so one bad row is parked and the rest of
 * the page lands (I12; the split's cost is in pullBatchPairing.test.ts).
 * Statement counts come from a statement-level trigger on the table: Postgres itself says how many UPDATE,
 * INSERT and DELETE statements the pull ran.
 */
describe('batched pull writes (issue 23 item 3)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await h.db.pool.query(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`);
    await installStatementCounts(h.db.pool);
  });
  afterAll(async () => h?.close());

  /** A table `name` with a CHECK on its name and columns of types that need casts, synced to list `name`. */
  const synced = async (name: string, rows: number, def: Partial<SyncDefinitionInput> = {}) => {
    await h.db.pool.query(`CREATE TABLE ${name} (
        id int PRIMARY KEY,
        name text NOT NULL CHECK (name <> 'bad'),
        mood mood,
        cost numeric(12,2),
        seen timestamptz,
        meta jsonb,
        tags text[],
        removed boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now());
      CREATE SEQUENCE ${name}_ids START 1000 OWNED BY ${name}.id;
      ALTER TABLE ${name} ALTER COLUMN id SET DEFAULT nextval('${name}_ids');
      ${countStatementsOn(name)}`);
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    await h.define({
      name,
      source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'mood', target: 'Mood' },
        { source: 'cost', target: 'Cost' },
        { source: 'seen', target: 'Seen' },
        { source: 'meta', target: 'Meta' },
        { source: 'tags', target: 'Tags' },
      ],
      ...def,
    });
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name, mood, cost) SELECT i, 'p' || i, 'ok', i FROM generate_series(1, $1) i`,
      [rows],
    );
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: rows, failed: 0 });
    await runPull(h.ctx, name, { trigger: 'test' }); // the push's echoes
    await resetStatementCounts(h.db.pool, name);
    const items = await h.items(name);
    const itemOf = (title: string) => items.find((i) => i.fields.Title === title)!.id;
    const base = `/sites/${h.siteId}/lists/${name}/items`;
    return {
      itemOf,
      edit: async (title: string, fields: Record<string, unknown>) =>
        expect((await h.asUser('PATCH', `${base}/${itemOf(title)}/fields`, fields)).status).toBe(200),
      create: async (fields: Record<string, unknown>) =>
        expect((await h.asUser('POST', base, { fields })).status).toBe(201),
      remove: async (title: string) =>
        expect((await h.asUser('DELETE', `${base}/${itemOf(title)}`)).status).toBe(204),
      pull: () => runPull(h.ctx, name, { trigger: 'test' }),
      rows: async () =>
        (
          await h.db.pool.query(
            `SELECT id, name, mood::text, cost, seen, meta, tags, removed FROM ${name} ORDER BY id`,
          )
        ).rows as {
          id: number;
          name: string;
          mood: string | null;
          cost: string | null;
          seen: Date | null;
          meta: unknown;
          tags: string[] | null;
          removed: boolean;
        }[],
      statements: () => statementCounts(h.db.pool, name),
    };
  };

  const parked = async (definition: string) =>
    (
      await h.db.pool.query<{ last_error: string }>(
        `SELECT f.last_error FROM arcore.sync_failures f JOIN arcore.sync_definitions d ON d.id = f.definition_id
          WHERE d.name = $1 AND f.status = 'PARKED' AND f.direction = 'PULL' ORDER BY f.last_error`,
        [definition],
      )
    ).rows.map((r) => r.last_error);

  const countsAddUp = (s: RunSummary) =>
    expect(s.processed).toBe(s.created + s.updated + s.deleted + s.skipped + s.conflicts + s.failed);

  it('a page of updates, inserts and deletes is one statement each', async () => {
    const t = await synced('pb_clean', 6);
    for (const i of [1, 2, 3, 4]) await t.edit(`p${i}`, { Title: `p${i} edited` });
    await t.create({ Title: 'new one', Cost: 5 });
    await t.create({ Title: 'new two', Cost: 6 });
    await t.remove('p5');
    await t.remove('p6');

    const run = await t.pull();

    expect(run).toMatchObject({ status: 'SUCCEEDED', updated: 4, created: 2, deleted: 2, failed: 0 });
    countsAddUp(run);
    expect((await t.rows()).map((r) => r.name).sort()).toEqual([
      'new one',
      'new two',
      'p1 edited',
      'p2 edited',
      'p3 edited',
      'p4 edited',
    ]);
    expect(await t.statements()).toEqual({ UPDATE: 1, INSERT: 1, DELETE: 1 });
    // The new rows are paired: a push sends nothing back, a second pull finds only echoes.
    expect(await runPush(h.ctx, 'pb_clean', { trigger: 'test' })).toMatchObject({ created: 0, updated: 0 });
    expect(await t.pull()).toMatchObject({ updated: 0, created: 0, failed: 0 });
  });

  it('new items that carry their key are inserted in one statement, each row paired with its own item', async () => {
    await h.db.pool.query(`CREATE TABLE pb_coded (code text PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      CREATE TRIGGER count_statement AFTER INSERT OR UPDATE OR DELETE ON pb_coded
        FOR EACH STATEMENT EXECUTE FUNCTION count_statement();`);
    await installCursorTrigger(h.db.pool, 'public', 'pb_coded', 'updated_at');
    await h.define({
      name: 'pb_coded',
      source: { table: 'pb_coded', key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'pb_coded' },
      fields: [
        { source: 'code', target: 'Code' },
        { source: 'name', target: 'Title' },
      ],
    });
    await h.db.pool.query("INSERT INTO pb_coded (code, name) VALUES ('A0', 'zero')");
    await runPush(h.ctx, 'pb_coded', { trigger: 'test' });
    await runPull(h.ctx, 'pb_coded', { trigger: 'test' });
    await resetStatementCounts(h.db.pool, 'pb_coded');
    const base = `/sites/${h.siteId}/lists/pb_coded/items`;
    // Keys in an order unlike the items' order, so a row paired by position alone would show.
    for (const [code, name] of [
      ['Z9', 'nine'],
      ['B2', 'two'],
      ['M5', 'five'],
      ['C3', 'three'],
    ])
      expect((await h.asUser('POST', base, { fields: { Code: code, Title: name } })).status).toBe(201);
    const run = await runPull(h.ctx, 'pb_coded', { trigger: 'test' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', created: 4, failed: 0 });
    expect(await statementCounts(h.db.pool, 'pb_coded')).toEqual({ INSERT: 1 });
    // Each ledger entry pairs an item with the row of that item's key.
    const { rows: pairs } = await h.db.pool.query<{ code: string; item: string }>(
      `SELECT l.source_identity->>'code' AS code, l.sp_item_id AS item FROM arcore.sync_ledger l
         JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = 'pb_coded' ORDER BY 1`,
    );
    const items = await h.items('pb_coded');
    expect(pairs.map((p) => [p.code, items.find((i) => i.id === p.item)?.fields.Code])).toEqual([
      ['A0', 'A0'],
      ['B2', 'B2'],
      ['C3', 'C3'],
      ['M5', 'M5'],
      ['Z9', 'Z9'],
    ]);
  });

  it('a key freed by a delete on the page is taken by a new item on the same page', async () => {
    await h.db.pool.query(`CREATE TABLE pb_reuse (code text PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', 'pb_reuse', 'updated_at');
    await h.define({
      name: 'pb_reuse',
      source: { table: 'pb_reuse', key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: 'pb_reuse' },
      fields: [
        { source: 'code', target: 'Code' },
        { source: 'name', target: 'Title' },
      ],
    });
    await h.db.pool.query("INSERT INTO pb_reuse (code, name) VALUES ('A0', 'old')");
    await runPush(h.ctx, 'pb_reuse', { trigger: 'test' });
    await runPull(h.ctx, 'pb_reuse', { trigger: 'test' });
    const base = `/sites/${h.siteId}/lists/pb_reuse/items`;
    const old = (await h.items('pb_reuse'))[0].id;
    // In feed order: a new item, the delete of A0's item, then a new item that takes the key A0.
    expect((await h.asUser('POST', base, { fields: { Code: 'N1', Title: 'other' } })).status).toBe(201);
    expect((await h.asUser('DELETE', `${base}/${old}`)).status).toBe(204);
    expect((await h.asUser('POST', base, { fields: { Code: 'A0', Title: 'new' } })).status).toBe(201);
    const run = await runPull(h.ctx, 'pb_reuse', { trigger: 'test' });
    expect(run).toMatchObject({ status: 'SUCCEEDED', created: 2, deleted: 1, failed: 0 });
    const { rows } = await h.db.pool.query('SELECT code, name FROM pb_reuse ORDER BY code');
    expect(rows).toEqual([
      { code: 'A0', name: 'new' },
      { code: 'N1', name: 'other' },
    ]);
  });

  it('one row Postgres refuses is parked with its message; every other change of the page lands', async () => {
    const t = await synced('pb_bad', 8);
    for (const i of [1, 2, 3, 5, 6]) await t.edit(`p${i}`, { Title: `p${i} edited`, Cost: 100 + i });
    await t.edit('p4', { Title: 'bad' }); // violates the CHECK constraint
    await t.create({ Title: 'fresh', Cost: 1 });
    await t.create({ Title: 'bad' }); // refused too, among the inserts
    await t.remove('p7');

    const run = await t.pull();

    expect(run).toMatchObject({ status: 'PARTIAL', updated: 5, created: 1, deleted: 1, failed: 2 });
    countsAddUp(run);
    const rows = await t.rows();
    expect(rows.map((r) => [r.name, r.cost]).sort()).toEqual([
      ['fresh', '1.00'],
      ['p1 edited', '101.00'],
      ['p2 edited', '102.00'],
      ['p3 edited', '103.00'],
      ['p4', '4.00'],
      ['p5 edited', '105.00'],
      ['p6 edited', '106.00'],
      ['p8', '8.00'],
    ]);
    const errors = await parked('pb_bad');
    expect(errors).toHaveLength(2);
    for (const e of errors) expect(e).toMatch(/violates check constraint "pb_bad_name_check"/);
    expect(errors.some((e) => e.includes(`item ${t.itemOf('p4')}:`))).toBe(true);
  });

  it('a page mixing echoes, a conflict, a soft delete, inserts and updates keeps every outcome', async () => {
    const t = await synced('pb_mixed', 6, { deletes: { pull: 'SOFT', pullSoftColumn: 'removed' } });
    await t.edit('p1', { Title: 'p1 edited' });
    await t.edit('p2', { Title: 'p2 edited' });
    // Both sides edit p3's name: SOURCE_WINS keeps Postgres's and writes it back to SharePoint.
    await h.db.pool.query("UPDATE pb_mixed SET name = 'p3 postgres' WHERE id = 3");
    await t.edit('p3', { Title: 'p3 sharepoint' });
    // p4: SharePoint sends it again with an unchanged value (an echo, I3).
    await t.edit('p4', { Title: 'p4' });
    await t.remove('p5');
    await t.create({ Title: 'added' });

    const run = await t.pull();

    expect(run).toMatchObject({
      status: 'SUCCEEDED',
      updated: 2,
      created: 1,
      deleted: 1,
      conflicts: 1,
      skipped: 1,
      failed: 0,
    });
    countsAddUp(run);
    const rows = await t.rows();
    expect(rows.map((r) => [r.id, r.name, r.removed])).toEqual([
      [1, 'p1 edited', false],
      [2, 'p2 edited', false],
      [3, 'p3 postgres', false],
      [4, 'p4', false],
      [5, 'p5', true],
      [6, 'p6', false],
      [1000, 'added', false],
    ]);
    expect((await h.items('pb_mixed')).find((i) => i.id === t.itemOf('p3'))?.fields.Title).toBe(
      'p3 postgres',
    );
    // The test's own edit of p3, then the pull's: the edits in one statement, the soft delete in another.
    expect(await t.statements()).toEqual({ UPDATE: 3, INSERT: 1 });
  });

  it('values that need casts (enum, numeric, timestamptz, jsonb, text[]) bind as the one-row writes bind them', async () => {
    const t = await synced('pb_types', 3);
    const seen = '2026-03-04T05:06:07Z';
    for (const i of [1, 2])
      await t.edit(`p${i}`, {
        Mood: i === 1 ? 'happy' : 'sad',
        Cost: 12.5 + i,
        Seen: seen,
        Meta: JSON.stringify({ n: i, tags: ['x'] }),
        Tags: ['a', `b${i}`],
        'Tags@odata.type': 'Collection(Edm.String)',
      });
    await t.create({
      Title: 'typed',
      Mood: 'ok',
      Cost: 0.25,
      Seen: seen,
      Meta: '{"k":true}',
      Tags: ['z'],
      'Tags@odata.type': 'Collection(Edm.String)',
    });

    expect(await t.pull()).toMatchObject({ status: 'SUCCEEDED', updated: 2, created: 1, failed: 0 });

    const rows = await t.rows();
    const at = new Date(seen);
    expect(
      rows.map(({ name, mood, cost, seen: s, meta, tags }) => ({ name, mood, cost, s, meta, tags })),
    ).toEqual([
      { name: 'p1', mood: 'happy', cost: '13.50', s: at, meta: { n: 1, tags: ['x'] }, tags: ['a', 'b1'] },
      { name: 'p2', mood: 'sad', cost: '14.50', s: at, meta: { n: 2, tags: ['x'] }, tags: ['a', 'b2'] },
      { name: 'p3', mood: 'ok', cost: '3.00', s: null, meta: null, tags: null },
      { name: 'typed', mood: 'ok', cost: '0.25', s: at, meta: { k: true }, tags: ['z'] },
    ]);
    expect(await t.statements()).toEqual({ UPDATE: 1, INSERT: 1 });
    expect(await runPush(h.ctx, 'pb_types', { trigger: 'test' })).toMatchObject({ updated: 0, created: 0 });
  });

  it('a row deleted in Postgres while the pull waits to lock it is decided as deleted (I8); the rest lands', async () => {
    const t = await synced('pb_gone', 4);
    for (const i of [1, 2, 3, 4]) await t.edit(`p${i}`, { Title: `p${i} edited` });
    // Another session deletes row 3 and holds its lock: the pull's locking read of the page waits for it, then
    // decides the item against the row as it is (gone), not as it was before (docs/design.md, the pull's page).
    const other = new Client({ connectionString: h.db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('DELETE FROM pb_gone WHERE id = 3');
      const pulling = t.pull();
      await eventually('the pull waiting for row 3', async () => {
        const { rows } = await h.db.pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
            AND query LIKE '%"public"."pb_gone"%'`,
        );
        return rows.length > 0;
      });
      await other.query('COMMIT');
      const run = await pulling;

      // A delete meeting an edit is a conflict (I8), settled by the policy: never a row written by a stale read.
      expect(run).toMatchObject({ status: 'SUCCEEDED', updated: 3, conflicts: 1, failed: 0 });
      countsAddUp(run);
    } finally {
      await other.end();
    }
    expect((await t.rows()).map((r) => r.name)).toEqual(['p1 edited', 'p2 edited', 'p4 edited']);
    expect(await parked('pb_gone')).toEqual([]);
  });
});

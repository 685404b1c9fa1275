import { exitCodeOf } from '../../../../src/cli/failures';
import { runBackfill } from '../../../../src/core/engine/backfill';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { forgetResolution } from '../../../../src/core/engine/runner';
import { getDefinition } from '../../../../src/core/store/definitions';
import { resolveConflict, ResolutionValueError } from '../../../../src/core/engine/resolve';
import { errorKindOf } from '../../../../src/core/errors/classify';
import { installCursorTrigger } from '../../../../src/core/source/postgres/PostgresSource';
import {
  defineOnHandMadeColumn,
  SITE,
  startHarness,
  timestampSource,
  type Harness,
} from '../../../support/engineHarness';
import { defineProjects } from '../../../support/projects';

/**
 * A Postgres value SharePoint will refuse (docs/design.md, I12): one its column's definition already tells the
 * engine it refuses (more characters than a single line of text holds) is parked before anything is sent, by the push
 * and by every other writer of items (the pull's write-back, backfill, resolve); one only SharePoint's answer tells
 * (a 400 for a field) is parked naming the Postgres column and the next step.
 */
describe('I12 push values SharePoint refuses (docs/design.md, I12)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });
  const parked = async (name: string) =>
    (
      await h.db.pool.query<{ last_error: string; attempts: number; source_identity: unknown }>(
        `SELECT f.last_error, f.attempts, f.source_identity FROM arcore.sync_failures f
           JOIN arcore.sync_definitions d ON d.id = f.definition_id
          WHERE d.name = $1 AND f.status = 'PARKED' AND f.direction = 'PUSH'`,
        [name],
      )
    ).rows;
  /** Item writes (creates and updates, batched or not) whose body carries `text`. */
  const writesCarrying = (text: string) =>
    h.emulator.control
      .requestLog()
      .filter(
        (e) => (e.method === 'POST' || e.method === 'PATCH') && /\/items(\/[^/]+)?(\/fields)?$/.test(e.path),
      )
      .filter((e) => JSON.stringify(e.body ?? null).includes(text));
  const long = 'x'.repeat(300);

  it('parks a new row whose text is longer than its single line of text holds, sending nothing for it', async () => {
    const name = 'rf_long_create';
    await defineProjects(h, name);
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, $1, 10), (2, 'two', 20)`, [
      long,
    ]);
    h.emulator.control.clearRequestLog();
    // The other row of the page still goes.
    expect(await push(name)).toMatchObject({ status: 'PARTIAL', created: 1, failed: 1 });
    expect((await h.items(name)).map((i) => i.fields.Title)).toEqual(['two']);
    expect(writesCarrying(long)).toEqual([]);
    const [failure] = await parked(name);
    expect(failure.source_identity).toEqual({ id: 1 });
    expect(failure.last_error).toMatch(/row \{"id":1\}/);
    expect(failure.last_error).toMatch(/SharePoint field Title/);
    expect(failure.last_error).toMatch(/Postgres column name/);
    expect(failure.last_error).toMatch(/at most 255 characters/);
    expect(failure.last_error).toMatch(/300/);
    expect(failure.last_error).toMatch(/Next step: shorten name of row \{"id":1\} in Postgres/);
    expect(failure.last_error).toMatch(/multi-line/);

    // Its retries spend no write either.
    expect(await push(name)).toMatchObject({ failed: 1, created: 0 });
    expect(writesCarrying(long)).toEqual([]);
    expect((await parked(name))[0].attempts).toBe(2);

    // Shortened, it goes, and its park is settled.
    await h.db.pool.query(`UPDATE ${name} SET name = 'one' WHERE id = 1`);
    expect(await push(name)).toMatchObject({ status: 'SUCCEEDED', created: 1, failed: 0 });
    expect((await h.items(name)).map((i) => i.fields.Title).sort()).toEqual(['one', 'two']);
    expect(await parked(name)).toEqual([]);
  });

  it('parks an update to a text longer than the column holds, leaving the item as it was', async () => {
    const name = 'rf_long_update';
    await defineProjects(h, name);
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10), (2, 'two', 20)`);
    expect(await push(name)).toMatchObject({ status: 'SUCCEEDED', created: 2 });
    await h.db.pool.query(`UPDATE ${name} SET name = $1, budget = 11 WHERE id = 1`, [long]);
    await h.db.pool.query(`UPDATE ${name} SET name = 'two v2' WHERE id = 2`);
    h.emulator.control.clearRequestLog();
    expect(await push(name)).toMatchObject({ status: 'PARTIAL', updated: 1, failed: 1 });
    expect(writesCarrying(long)).toEqual([]);
    const items = await h.items(name);
    expect(items.map((i) => [i.fields.Title, i.fields.Budget]).sort()).toEqual([
      ['one', 10],
      ['two v2', 20],
    ]);
    const [failure] = await parked(name);
    expect(failure.last_error).toMatch(/row \{"id":1\}.*SharePoint field Title.*Postgres column name/);
  });

  it("holds a text to its column's own maximum length", async () => {
    await defineOnHandMadeColumn(h, {
      table: 'rf_code',
      list: 'RfCode',
      column: 'code',
      sqlType: 'text',
      spColumn: { name: 'Code', text: { maxLength: 10 } },
    });
    await h.db.pool.query(
      `INSERT INTO rf_code (id, name, code) VALUES (1, 'a', 'abcdefghijk'), (2, 'b', 'abcdefghij')`,
    );
    expect(await push('rf_code')).toMatchObject({ status: 'PARTIAL', created: 1, failed: 1 });
    expect((await h.items('RfCode')).map((i) => i.fields.Code)).toEqual(['abcdefghij']);
    const [failure] = await parked('rf_code');
    expect(failure.last_error).toMatch(
      /SharePoint field Code \(single line of text\) holds at most 10 characters/,
    );
    expect(failure.last_error).toMatch(/Postgres column code has 11 characters/);
    expect(failure.last_error).toMatch(/raise the column's maximum length in SharePoint/);
  });

  it.each([
    [false, { status: 'PARTIAL', created: 1, failed: 1 }],
    [true, { status: 'SUCCEEDED', created: 2, failed: 0 }],
  ])(
    'a choice column with allowTextEntry %s: a value it does not offer is sent (no page says Graph refuses it), and a refusal names the Postgres column',
    async (allowTextEntry, summary) => {
      const table = `rf_mood_${allowTextEntry}`;
      await defineOnHandMadeColumn(h, {
        table,
        list: `RfMood${allowTextEntry}`,
        column: 'mood',
        sqlType: 'text',
        spColumn: {
          name: 'Mood',
          choice: { allowTextEntry, choices: ['sad', 'ok'], displayAs: 'dropDownMenu' },
        },
      });
      await h.db.pool.query(
        `INSERT INTO ${table} (id, name, mood) VALUES (1, 'a', 'furious'), (2, 'b', 'ok')`,
      );
      h.emulator.control.clearRequestLog();
      expect(await push(table)).toMatchObject(summary);
      // Left to SharePoint: the emulator, stricter than any page documents, refuses it when allowTextEntry is false.
      expect(writesCarrying('furious')).toHaveLength(1);
      const failures = await parked(table);
      if (allowTextEntry) {
        expect(failures).toEqual([]);
        return;
      }
      expect(failures.map((f) => f.last_error)).toEqual([
        expect.stringMatching(
          /^row \{"id":1\}: .*SharePoint field Mood maps Postgres column mood\. Next step: change mood of row \{"id":1\} in Postgres/,
        ),
      ]);
    },
  );

  it('parks a move whose new item would carry a text longer than the column holds, leaving the old item', async () => {
    const name = 'rf_move';
    await h.db.pool.query(`CREATE TABLE ${name} (
      id integer PRIMARY KEY, title text, status text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    await h.define({
      name,
      source: timestampSource(name),
      target: { site: SITE, routes: [{ when: "status == 'OPEN'", list: 'RfOpen' }, { list: 'RfClosed' }] },
      fields: [
        { source: 'title', target: 'Title' },
        { source: 'status', target: 'Status' },
      ],
      pull: { enabled: false },
    });
    await h.db.pool.query(`INSERT INTO ${name} (id, title, status) VALUES (1, 't', 'OPEN')`);
    expect(await push(name)).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    await h.db.pool.query(`UPDATE ${name} SET title = $1, status = 'CLOSED' WHERE id = 1`, [long]);
    h.emulator.control.clearRequestLog();
    expect(await push(name)).toMatchObject({ status: 'PARTIAL', failed: 1, moved: 0 });
    expect(writesCarrying(long)).toEqual([]);
    expect((await h.items('RfOpen')).map((i) => i.fields.Title)).toEqual(['t']);
    expect(await h.items('RfClosed')).toEqual([]);
    const [failure] = await parked(name);
    expect(failure.last_error).toMatch(/row \{"id":1\}.*SharePoint field Title.*Postgres column title/);
    // Shortened, the move goes.
    await h.db.pool.query(`UPDATE ${name} SET title = 'short' WHERE id = 1`);
    expect(await push(name)).toMatchObject({ status: 'SUCCEEDED', moved: 1, failed: 0 });
    expect((await h.items('RfClosed')).map((i) => i.fields.Title)).toEqual(['short']);
    expect(await h.items('RfOpen')).toEqual([]);
  });

  it('names the Postgres column and the next step when SharePoint refuses a field the engine could not foresee', async () => {
    // A number column with a maximum: the engine does not read it, SharePoint refuses the value (400).
    await defineOnHandMadeColumn(h, {
      table: 'rf_score',
      list: 'RfScore',
      column: 'score',
      sqlType: 'integer',
      spColumn: { name: 'Score', number: { maximum: 100 } },
    });
    await h.db.pool.query(`INSERT INTO rf_score (id, name, score) VALUES (1, 'a', 500), (2, 'b', 50)`);
    expect(await push('rf_score')).toMatchObject({ status: 'PARTIAL', created: 1, failed: 1 });
    const [failure] = await parked('rf_score');
    expect(failure.last_error).toMatch(/SharePoint rejected the write \(400/);
    expect(failure.last_error).toMatch(/Score/);
    expect(failure.last_error).toMatch(/Postgres column score/);
    expect(failure.last_error).toMatch(/row \{"id":1\}/);
    expect(failure.last_error).toMatch(/Next step: change score of row \{"id":1\} in Postgres/);
  });

  it("a pull's write-back and resolve send no text longer than the column holds: the row is parked for the push, resolve refuses, nothing half-written", async () => {
    const name = 'rf_outside';
    await defineProjects(h, name, { definition: { conflictPolicy: 'MANUAL' } });
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10), (2, 'two', 20)`);
    expect(await push(name)).toMatchObject({ status: 'SUCCEEDED', created: 2 });
    await runPull(h.ctx, name, { trigger: 'test' });
    const ids = Object.fromEntries((await h.items(name)).map((i) => [i.fields.Title as string, i.id]));
    // Row 1: its text made too long in Postgres, its budget edited in SharePoint (no conflict: the pull takes the
    // budget and owes SharePoint the text). Row 2: its text edited on both sides (MANUAL parks the conflict).
    await h.db.pool.query(`UPDATE ${name} SET name = $1 WHERE id IN (1, 2)`, [long]);
    for (const [id, fields] of [
      [ids.one, { Budget: 11 }],
      [ids.two, { Title: 'two sp' }],
    ] as const)
      expect(
        (await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${id}/fields`, fields)).status,
      ).toBe(200);
    h.emulator.control.clearRequestLog();
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({ conflicts: 1, failed: 1 });
    expect(writesCarrying(long)).toEqual([]);
    expect((await h.db.pool.query(`SELECT budget::int FROM ${name} WHERE id = 1`)).rows).toEqual([
      { budget: 11 },
    ]);
    const [failure] = await parked(name);
    expect(failure.source_identity).toEqual({ id: 1 });
    expect(failure.last_error).toMatch(
      /^row \{"id":1\}: not sent: SharePoint field Title \(single line of text\) holds at most 255 characters, and the value of Postgres column name has 300 characters\. Next step: shorten name of row \{"id":1\} in Postgres/,
    );

    // resolve --take postgres: refused before anything is written, in the same words (--values: resolve.test.ts).
    const { rows } = await h.db.pool.query<{ id: string }>(
      `SELECT c.id FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1 AND c.status = 'OPEN'`,
      [name],
    );
    const err = await resolveConflict(h.ctx, rows[0].id, { take: 'postgres' }, 'test').catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ResolutionValueError);
    expect((err as Error).message).toBe(
      `Conflict ${rows[0].id}: row {"id":2}: not sent: SharePoint field Title (single line of text) holds at most 255 ` +
        'characters, and the value of Postgres column name has 300 characters. Next step: shorten name of row ' +
        '{"id":2} in Postgres to at most 255 characters and resolve again, or resolve with --take sharepoint, or ' +
        'with --values giving Title at most 255 characters, or make Title a multi-line text column in SharePoint ' +
        '(Multiple lines of text; a single line holds at most 255); nothing was written and the conflict is still open',
    );
    expect(exitCodeOf(errorKindOf(err))).toBe(2);
    expect(writesCarrying(long)).toEqual([]);
    expect((await h.items(name)).find((i) => i.id === ids.two)?.fields.Title).toBe('two sp');
    expect((await h.db.pool.query(`SELECT name FROM ${name} WHERE id = 2`)).rows).toEqual([{ name: long }]);
  });

  it('backfill sends no text longer than the column holds, to an item or to one it re-creates: each row fails naming the field, column, limit and next step', async () => {
    const name = 'rf_backfill';
    await defineProjects(h, name, { definition: { pull: { enabled: false } } });
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'one', 10), (2, 'two', 20)`);
    expect(await push(name)).toMatchObject({ status: 'SUCCEEDED', created: 2 });
    // Row 1 keeps its item; row 2's item is deleted in SharePoint, so a full resync would create it again.
    const two = (await h.items(name)).find((i) => i.fields.Title === 'two')!;
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${two.id}`)).status).toBe(204);
    await h.db.pool.query(`UPDATE ${name} SET name = $1`, [long]);
    h.emulator.control.clearRequestLog();
    const summary = await runBackfill(h.ctx, name, {
      fields: ['name'],
      strategy: 'full_resync',
      trigger: 'test',
    });
    expect(summary).toMatchObject({ failed: 2, updated: 0, created: 0 });
    expect(writesCarrying(long)).toEqual([]);
    expect(summary.failures.map((f) => [f.key, f.error]).sort((a, b) => (a[1] < b[1] ? -1 : 1))).toEqual(
      [1, 2].map((id) => [
        { id },
        expect.stringMatching(
          new RegExp(
            `^row \\{"id":${id}\\}: not sent: SharePoint field Title \\(single line of text\\) holds at most 255 characters, and the value of Postgres column name has 300 characters\\. Next step: shorten name .*; then run the backfill again$`,
          ),
        ),
      ]),
    );
    expect((await h.items(name)).map((i) => i.fields.Title)).toEqual(['one']);
    // No create left in flight for the row whose item was not re-created.
    expect(
      (
        await h.db.pool.query(
          `SELECT count(*)::int AS n FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
            WHERE d.name = $1 AND l.state = 'PENDING_CREATE'`,
          [name],
        )
      ).rows,
    ).toEqual([{ n: 0 }]);
  });

  it("the push's conflict settle sends no text longer than the column holds: an item re-created after its delete, its column narrowed since the value synced, is parked", async () => {
    const name = 'rf_settle';
    await defineOnHandMadeColumn(h, {
      table: name,
      list: 'RfSettle',
      column: 'code',
      sqlType: 'text',
      spColumn: { name: 'Code', text: { maxLength: 20 } },
    });
    const code = 'abcdefghijklmnop';
    await h.db.pool.query(`INSERT INTO ${name} (id, name, code) VALUES (1, 'a', $1)`, [code]);
    expect(await push(name)).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    // A site admin narrows Code under the synced value (the next run reads the list's columns afresh, as it does once
    // its cached resolution ages out); the item is deleted in SharePoint while the row's title is edited.
    const narrowed = await h.asUser('PATCH', `/sites/${h.siteId}/lists/RfSettle/columns/Code`, {
      text: { maxLength: 10 },
    });
    expect(narrowed.status).toBe(200);
    forgetResolution(h.ctx, (await getDefinition(h.db.pool, name)).definition);
    const [item] = await h.items('RfSettle');
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/RfSettle/items/${item.id}`)).status).toBe(204);
    await h.db.pool.query(`UPDATE ${name} SET name = 'b' WHERE id = 1`);
    h.emulator.control.clearRequestLog();
    // The page's write (the title alone) meets the delete; SOURCE_WINS would re-create the item with every field.
    expect(await push(name)).toMatchObject({ status: 'PARTIAL', failed: 1, created: 0 });
    expect(writesCarrying(code)).toEqual([]);
    expect(await h.items('RfSettle')).toEqual([]);
    const [failure] = await parked(name);
    expect(failure.last_error).toMatch(
      /^row \{"id":1\}: not sent: SharePoint field Code \(single line of text\) holds at most 10 characters, and the value of Postgres column code has 16 characters\. Next step: shorten code of row \{"id":1\} in Postgres to at most 10 characters, or raise the column's maximum length/,
    );
  });
});

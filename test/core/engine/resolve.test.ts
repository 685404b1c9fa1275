import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { resolveConflict, ResolutionValueError } from '../../../src/core/engine/resolve';
import { runCli as runCliInProcess } from '../../../src/cli/index';
import type { SyncDefinitionInput } from '../../../src/core/definition/schema';
import type { RunSummary } from '../../../src/core/engine/types';
import { runCli } from '../../cli/cliHarness';
import { racingEdit } from '../../support/eventually';
import { startHarness, type Harness } from '../../support/engineHarness';
import { defineProjects, type ProjectsOptions } from '../../support/projects';

/**
 * Manual resolution (I7, I12): values are checked against both sides before anything is written; Postgres is
 * changed in a transaction that commits only once SharePoint took the write, so a refused value leaves both
 * sides as they were and the conflict open; SharePoint's reason is shown; a gone item is re-created.
 */
describe('I7 resolve: never half-applied', () => {
  let h: Harness;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  /**
   * A MANUAL definition `prefix`N (defineProjects's, with `options.definition` on top) of a table holding row
   * (1, `title`, 10).
   */
  async function manualTable(prefix: string, title: string, options: ProjectsOptions = {}) {
    n++;
    const name = `${prefix}${n}`;
    await defineProjects(h, name, {
      ...options,
      definition: { conflictPolicy: 'MANUAL', ...options.definition },
    });
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, $1, 10)`, [title]);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    return { name, push, pull };
  }

  /** Item `itemId` of list `list` edited in SharePoint by a user. */
  async function editInSharePoint(list: string, itemId: string, fields: Record<string, unknown>) {
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${list}/items/${itemId}/fields`, fields);
    expect(res.status).toBe(200);
  }

  /** The one open conflict of definition `name` (fails when there is none or more than one). */
  async function openConflict(name: string): Promise<string> {
    const { rows } = await h.db.pool.query<{ id: string }>(
      `SELECT c.id FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
        WHERE d.name = $1 AND c.status = 'OPEN'`,
      [name],
    );
    expect(rows).toHaveLength(1);
    return rows[0].id;
  }

  /** A push and a pull of `t` change nothing (I4). */
  async function expectQuiet(t: { push(): Promise<RunSummary>; pull(): Promise<RunSummary> }) {
    expect(
      [await t.push(), await t.pull()].map((s) => s.created + s.updated + s.deleted + s.conflicts),
    ).toEqual([0, 0]);
  }

  /** A MANUAL definition with one open conflict on Title ("pg" in Postgres, "sp" in SharePoint). */
  async function parked(overrides: Partial<SyncDefinitionInput> = {}) {
    const { name, push, pull } = await manualTable('rs', 'T0', { definition: overrides });
    await push();
    await pull();
    const itemId = (await h.items(name))[0].id;
    await h.db.pool.query(`UPDATE ${name} SET name = 'pg' WHERE id = 1`);
    await editInSharePoint(name, itemId, { Title: 'sp' });
    expect((await pull()).conflicts).toBe(1);
    const conflictId = await openConflict(name);
    const row = async () => (await h.db.pool.query(`SELECT name, budget FROM ${name} WHERE id = 1`)).rows[0];
    const items = () => h.items(name);
    const status = async () =>
      (await h.db.pool.query('SELECT status FROM arcore.sync_conflicts WHERE id = $1', [conflictId])).rows[0]
        .status;
    /** Nothing changed on either side and the conflict is still open. */
    const untouched = async () => {
      expect(await row()).toEqual({ name: 'pg', budget: '10.00' });
      expect((await items()).map((i) => i.fields.Title)).toEqual(['sp']);
      expect(await status()).toBe('OPEN');
    };
    return { name, push, pull, itemId, conflictId, row, items, status, untouched };
  }

  async function refusal(promise: Promise<unknown>): Promise<ResolutionValueError> {
    const err = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ResolutionValueError);
    return err as ResolutionValueError;
  }

  it('a value Postgres refuses (a NUL byte) names the field and changes neither side', async () => {
    const p = await parked();
    const err = await refusal(
      resolveConflict(h.ctx, p.conflictId, { values: { Title: 'a\u0000b' } }, 'test'),
    );
    expect(err.field).toBe('Title');
    expect(err.message).toMatch(/Postgres refuses the value of "Title"/);
    await p.untouched();
  });

  it('a value longer than the SharePoint column names the field, the length, the limit and the next step', async () => {
    const p = await parked();
    const err = await refusal(
      resolveConflict(h.ctx, p.conflictId, { values: { Title: 'x'.repeat(300) } }, 'test'),
    );
    expect(err.field).toBe('Title');
    expect(err.message).toContain(
      'not sent: SharePoint field Title (single line of text) holds at most 255 characters, and the value given for ' +
        'Title has 300 characters. Next step: give Title at most 255 characters in --values',
    );
    expect(err.message).toMatch(/; nothing was written and the conflict is still open$/);
    await p.untouched();
  });

  it('unknown fields and values of the wrong type are refused, naming them', async () => {
    const p = await parked();
    const unknown = await refusal(resolveConflict(h.ctx, p.conflictId, { values: { Nope: 1 } }, 'test'));
    expect(unknown.message).toMatch(/"Nope" is not a mapped target column/);
    const wrongType = await refusal(
      resolveConflict(h.ctx, p.conflictId, { values: { Budget: 'lots' } }, 'test'),
    );
    expect(wrongType.field).toBe('Budget');
    await p.untouched();
  });

  it("when SharePoint refuses the write, Graph's reason is shown and the Postgres change is rolled back", async () => {
    const p = await parked();
    h.emulator.control.injectFault({ method: 'PATCH', pathPattern: '/fields$', count: 1, status: 400 });
    const err = await refusal(resolveConflict(h.ctx, p.conflictId, { values: { Budget: 42 } }, 'test'));
    expect(err.message).toMatch(/SharePoint refused the values \(400 \w+\): Injected fault: 400/);
    // The Postgres side (Budget 42) was written first, then rolled back.
    await p.untouched();
    // The conflict can still be resolved afterwards.
    await resolveConflict(h.ctx, p.conflictId, { values: { Budget: 42 } }, 'test');
    expect(await p.row()).toEqual({ name: 'pg', budget: '42.00' });
    expect((await p.items())[0].fields).toMatchObject({ Title: 'pg', Budget: 42 });
    expect(await p.status()).toBe('RESOLVED');
  });

  it('take postgres on a conflict whose item is gone re-creates the item with its hidden key', async () => {
    const p = await parked();
    expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${p.name}/items/${p.itemId}`)).status).toBe(
      204,
    );
    const result = await resolveConflict(h.ctx, p.conflictId, { take: 'postgres' }, 'test');
    const items = await p.items();
    expect(items).toHaveLength(1);
    expect(result).toMatchObject({ effect: 'item-recreated', itemId: items[0].id });
    expect(items[0].fields).toMatchObject({ Title: 'pg', Budget: 10 });
    expect(items[0].fields.ArcoreKey).toEqual(expect.stringMatching(/^[0-9a-f]{64}$/));
    const { rows } = await h.db.pool.query(
      `SELECT l.sp_item_id FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
        WHERE d.name = $1`,
      [p.name],
    );
    expect(rows).toEqual([{ sp_item_id: items[0].id }]);
    expect(await p.status()).toBe('RESOLVED');
    // I4: nothing left to do; the old item's tombstone does not delete the row.
    await p.pull();
    const again = [await p.push(), await p.pull()];
    expect(again.map((s) => s.created + s.updated + s.deleted)).toEqual([0, 0]);
    expect(await p.row()).toEqual({ name: 'pg', budget: '10.00' });
  });

  /**
   * docs/design.md I8: an item deleted in SharePoint against a row edited in Postgres, held by MANUAL: `--take
   * sharepoint` lets the delete stand, the row getting deletes.pull as the pull would have applied it (PROPAGATE
   * deletes it, SOFT flags it, IGNORE keeps it and no push creates the item again). Review r9: it was refused,
   * naming only the ways that re-create the item.
   */
  it.each([['PROPAGATE' as const], ['SOFT' as const], ['IGNORE' as const]])(
    'I8 an item deleted against a row edit: take sharepoint lets the delete stand (deletes.pull %s)',
    async (pull) => {
      const t = await manualTable('rsi', 'one', {
        definition: { deletes: { pull, ...(pull === 'SOFT' ? { pullSoftColumn: 'gone' } : {}) } as never },
        alter: ['ADD COLUMN gone boolean NOT NULL DEFAULT false'],
      });
      const { name, push, pull: pull_ } = t;
      await push();
      await pull_();
      const [item] = await h.items(name);
      await h.db.pool.query(`UPDATE ${name} SET name = 'pg' WHERE id = 1`);
      expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${name}/items/${item.id}`)).status).toBe(
        204,
      );
      expect((await pull_()).conflicts).toBe(1);
      const conflictId = await openConflict(name);

      const result = await resolveConflict(h.ctx, conflictId, { take: 'sharepoint' }, 'test');
      expect(result).toMatchObject({
        conflictId,
        status: 'RESOLVED',
        effect: { PROPAGATE: 'row-deleted', SOFT: 'row-flagged', IGNORE: 'row-kept' }[pull],
        itemId: item.id,
      });
      const pgRows = async () =>
        (await h.db.pool.query(`SELECT name, gone FROM ${name} WHERE id = 1`)).rows as unknown[];
      expect(await pgRows()).toEqual(pull === 'PROPAGATE' ? [] : [{ name: 'pg', gone: pull === 'SOFT' }]);
      expect(
        (
          await h.db.pool.query('SELECT status, outcome FROM arcore.sync_conflicts WHERE id = $1', [
            conflictId,
          ])
        ).rows,
      ).toEqual([{ status: 'RESOLVED', outcome: 'TAKE_SHAREPOINT' }]);
      // Kept under IGNORE, the row's pair stays ITEM_DELETED: what holds it from being created again.
      const ledger = await h.db.pool.query(
        `SELECT l.state FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
          WHERE d.name = $1`,
        [name],
      );
      expect(ledger.rows).toEqual(pull === 'IGNORE' ? [{ state: 'ITEM_DELETED' }] : []);
      // I4: a push and a pull write nothing; the row kept is not pushed as a new item, even once edited again.
      await h.db.pool.query(`UPDATE ${name} SET budget = 11 WHERE id = 1`);
      await expectQuiet(t);
      expect(await h.items(name)).toEqual([]);
    },
  );

  /**
   * docs/design.md I8: a delete that meets an edit under MANUAL is held as an open conflict (Postgres side null);
   * resolve settles it whatever side it takes (a row gone is no reason to refuse).
   */
  async function heldDelete() {
    const t = await manualTable('rsd', 'one');
    const { name, push } = t;
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    await editInSharePoint(name, (await h.items(name))[0].id, { Budget: 15 });
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    expect(await push()).toMatchObject({ conflicts: 1 });
    const conflictId = await openConflict(name);
    const status = async () =>
      (await h.db.pool.query('SELECT status FROM arcore.sync_conflicts WHERE id = $1', [conflictId])).rows[0]
        .status as string;
    /** I4: a push and a pull after the resolution write nothing. */
    const quiet = () => expectQuiet(t);
    return { name, conflictId, status, quiet };
  }

  it('I8 a held delete: take postgres confirms it (the item goes, the conflict is resolved)', async () => {
    const c = await heldDelete();
    const result = await resolveConflict(h.ctx, c.conflictId, { take: 'postgres' }, 'test');
    expect(result).toMatchObject({ effect: 'item-deleted' });
    expect(result.summary).toMatch(/^the Postgres delete stands: item \d+ deleted in SharePoint/);
    expect(await c.status()).toBe('RESOLVED');
    expect(await h.items(c.name)).toEqual([]);
    await c.quiet();
    expect((await h.db.pool.query(`SELECT id FROM ${c.name}`)).rows).toEqual([]);
  });

  it('I8 a held delete: take sharepoint brings the row back with the item values', async () => {
    const c = await heldDelete();
    const result = await resolveConflict(h.ctx, c.conflictId, { take: 'sharepoint' }, 'test');
    expect(result).toMatchObject({ effect: 'row-restored' });
    expect(await c.status()).toBe('RESOLVED');
    const row = async () => (await h.db.pool.query(`SELECT name, budget FROM ${c.name} WHERE id = 1`)).rows;
    expect(await row()).toEqual([{ name: 'one', budget: '15.00' }]);
    await c.quiet();
    expect((await h.items(c.name)).map((i) => i.fields.Budget)).toEqual([15]);
  });

  it('I8 a row deleted while its conflict is open: --values brings it back, take postgres deletes', async () => {
    const back = await parked();
    await h.db.pool.query(`DELETE FROM ${back.name} WHERE id = 1`);
    await resolveConflict(h.ctx, back.conflictId, { values: { Budget: 20 } }, 'test');
    // The item's values, with the ones given: both sides hold them.
    expect(await back.row()).toEqual({ name: 'sp', budget: '20.00' });
    expect((await back.items())[0].fields).toMatchObject({ Title: 'sp', Budget: 20 });
    const gone = await parked();
    await h.db.pool.query(`DELETE FROM ${gone.name} WHERE id = 1`);
    await resolveConflict(h.ctx, gone.conflictId, { take: 'postgres' }, 'test');
    expect(await gone.items()).toEqual([]);
    expect(await gone.status()).toBe('RESOLVED');
  });

  /**
   * docs/design.md I8: under deletes.push SOFT a deleted row's item is flagged and its pair ORPHANED; the row back,
   * the push clears the flag. When SharePoint edited the item meanwhile, that revive meets a 412 and MANUAL holds
   * it: the resolution, whatever side it takes, clears the flag too (the pair it saves is SYNCED again).
   */
  async function revivedConflict() {
    const { name, push, pull } = await manualTable('rsv', 'one', {
      definition: { deletes: { push: 'SOFT', pushSoftColumn: 'ArcoreDeleted' } as never },
    });
    expect(await push()).toMatchObject({ status: 'SUCCEEDED', created: 1 });
    const itemId = (await h.items(name))[0].id;
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    await push();
    expect((await h.items(name))[0].fields.ArcoreDeleted).toBe(true);
    await editInSharePoint(name, itemId, { Title: 'sp' });
    await h.db.pool.query(`INSERT INTO ${name} (id, name, budget) VALUES (1, 'pg', 10)`);
    expect(await push()).toMatchObject({ conflicts: 1 });
    return { name, conflictId: await openConflict(name), push, pull };
  }

  it.each([['sharepoint' as const], ['postgres' as const]])(
    'I8 take %s on a revived SOFT-deleted pair: the row is back, so the item is no longer flagged deleted',
    async (take) => {
      const c = await revivedConflict();
      const result = await resolveConflict(h.ctx, c.conflictId, { take }, 'test');
      const [item] = await h.items(c.name);
      expect(result).toMatchObject({ effect: 'values-written', itemId: item.id });
      expect({ title: item.fields.Title, flagged: item.fields.ArcoreDeleted }).toEqual({
        title: take === 'sharepoint' ? 'sp' : 'pg',
        flagged: false,
      });
      // I4: the pair is in sync: a push and a pull write nothing.
      await expectQuiet(c);
    },
  );

  /**
   * Review r21: under FIELD detection the conflict is the field changed on both sides, yet `--take` took the chosen
   * side's whole row: the other side's edit of a field no one disputed was overwritten with no word. Each side's
   * edits to other fields are kept, as the definition's policies keep them; under ROW the chosen row is taken whole.
   */
  it.each([
    ['postgres' as const, 'FIELD' as const, { name: 'pg', budget: '30.00', done: true }],
    ['sharepoint' as const, 'FIELD' as const, { name: 'sp', budget: '30.00', done: true }],
    ['postgres' as const, 'ROW' as const, { name: 'pg', budget: '30.00', done: null }],
    ['sharepoint' as const, 'ROW' as const, { name: 'sp', budget: '10.00', done: true }],
  ])(
    'take %s under %s detection: the edits each side made to other fields',
    async (take, detection, after) => {
      const { name, push, pull } = await manualTable('rf', 'T0', {
        definition: { conflictDetection: detection },
      });
      await push();
      await pull();
      const itemId = (await h.items(name))[0].id;
      await h.db.pool.query(`UPDATE ${name} SET name = 'pg', budget = 30 WHERE id = 1`);
      await editInSharePoint(name, itemId, { Title: 'sp', Done: true });
      expect((await pull()).conflicts).toBe(1);
      await resolveConflict(h.ctx, await openConflict(name), { take }, 'test');
      expect((await h.db.pool.query(`SELECT name, budget, done FROM ${name} WHERE id = 1`)).rows[0]).toEqual(
        after,
      );
      const [item] = await h.items(name);
      expect(item.fields).toMatchObject({ Title: after.name, Budget: Number(after.budget) });
      expect(item.fields.Done ?? null).toBe(after.done);
      await expectQuiet({ push, pull });
    },
  );

  it('--values under FIELD detection: the given fields over the fields each side alone changed', async () => {
    const { name, push, pull } = await manualTable('rv', 'T0');
    await push();
    await pull();
    const itemId = (await h.items(name))[0].id;
    await h.db.pool.query(`UPDATE ${name} SET name = 'pg', budget = 30 WHERE id = 1`);
    await editInSharePoint(name, itemId, { Title: 'sp', Done: true });
    expect((await pull()).conflicts).toBe(1);
    await resolveConflict(h.ctx, await openConflict(name), { values: { Title: 'agreed' } }, 'test');
    expect((await h.db.pool.query(`SELECT name, budget, done FROM ${name} WHERE id = 1`)).rows[0]).toEqual({
      name: 'agreed',
      budget: '30.00',
      done: true,
    });
    expect((await h.items(name))[0].fields).toMatchObject({ Title: 'agreed', Budget: 30, Done: true });
    await expectQuiet({ push, pull });
  });

  /**
   * Review r21: resolve read the row, then the item, then wrote the chosen values by key: an application's edit of the
   * row committed in between (one the operator never saw) was overwritten. The row is locked and compared first;
   * changed, nothing is written, the conflict stays open and the operator is told to look again.
   */
  it('an edit of the row committed while resolve runs is not overwritten: nothing written, the conflict open', async () => {
    const p = await parked();
    const { error } = await racingEdit(
      h.db.pool,
      p.name,
      `UPDATE ${p.name} SET name = 'app' WHERE id = 1`,
      () => resolveConflict(h.ctx, p.conflictId, { take: 'sharepoint' }, 'test'),
    );
    const err = error as Error & { errorKind?: string };
    expect(err?.errorKind).toBe('busy');
    expect(err?.message).toMatch(/changed while it was being resolved; nothing was written/);
    expect(await p.row()).toEqual({ name: 'app', budget: '10.00' });
    expect((await p.items()).map((i) => i.fields.Title)).toEqual(['sp']);
    expect(await p.status()).toBe('OPEN');
  });

  /**
   * Review r9: the CLI said "the Postgres values are now on both sides" for every resolution, also when the row was
   * gone and the delete stood (under deletes.push IGNORE the item stays, with SharePoint's values). The line (and
   * `--json`: `effect`, `itemId`, `summary`) says what happened to each side.
   */
  it('the CLI says what a resolution did: a Postgres delete standing under deletes.push IGNORE keeps the item', async () => {
    const p = await parked({ deletes: { push: 'IGNORE' } as never });
    await h.db.pool.query(`DELETE FROM ${p.name} WHERE id = 1`);
    const dir = mkdtempSync(join(tmpdir(), 'arcore-resolve-'));
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, h.emulator.caCert);
    let out = '';
    let err = '';
    const code = await runCliInProcess(['resolve', p.conflictId, '--take', 'postgres', '--by', 'r9'], {
      io: { out: (s: string) => (out += `${s}\n`), err: (s: string) => (err += `${s}\n`) },
      env: {
        DATABASE_URL: h.db.url,
        GRAPH_BASE_URL: h.emulator.baseUrl,
        GRAPH_TOKEN: h.emulator.appToken,
        GRAPH_CA_CERT_FILE: caFile,
        GRAPH_RU_PER_MINUTE: '1000000',
      },
      cwd: dir,
      interactive: false,
      progressStream: process.stderr,
    });
    expect({ code, err }).toEqual({ code: 0, err: '' });
    // The row stays deleted, the item stays in SharePoint with its values (push IGNORE).
    expect((await h.db.pool.query(`SELECT 1 FROM ${p.name}`)).rows).toEqual([]);
    expect((await p.items()).map((i) => i.fields.Title)).toEqual(['sp']);
    expect(out).toBe(
      `conflict ${p.conflictId} RESOLVED: the Postgres delete stands: item ${p.itemId} kept in SharePoint with its ` +
        'values (deletes.push IGNORE)\n',
    );
  });

  it('the CLI exits 2 naming the field', async () => {
    const p = await parked();
    const dir = mkdtempSync(join(tmpdir(), 'arcore-resolve-'));
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, h.emulator.caCert);
    const result = await runCli(
      ['resolve', p.conflictId, '--values', JSON.stringify({ Title: 'x'.repeat(300) })],
      {
        DATABASE_URL: h.db.url,
        GRAPH_BASE_URL: h.emulator.baseUrl,
        GRAPH_TOKEN: h.emulator.appToken,
        GRAPH_CA_CERT_FILE: caFile,
      },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('the value given for Title has 300 characters');
    await p.untouched();
  }, 60000);
});

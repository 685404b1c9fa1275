import { describeFailure } from '../../../../src/cli/failures';
import { loadSettings } from '../../../../src/config/settings';
import { parseDefinition } from '../../../../src/core/definition/parse';
import type { SyncDefinitionInput } from '../../../../src/core/definition/schema';
import { createEngineContext } from '../../../../src/core/engine/context';
import { previewPull } from '../../../../src/core/engine/dryRun';
import { SourceTransactionOpenError } from '../../../../src/core/engine/pull/intents';
import { provisionList } from '../../../../src/core/engine/provision';
import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { relinkDefinition } from '../../../../src/core/engine/relink';
import { resolveConflict } from '../../../../src/core/engine/resolve';
import type { EngineContext } from '../../../../src/core/engine/types';
import { upsertDefinitions } from '../../../../src/core/store/definitions';
import { opsErrorStatus } from '../../../../src/functions/opsApi';
import { freshDatabase, type TestDatabase } from '../../../support/db';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * The page's source transaction checks deferrable constraints per statement (a refused value parks its item, I12),
 * so a deferred constraint trigger would fire at the INSERT, not at COMMIT. This file needs a source COMMIT that
 * fails: each page's transaction defers them again first (a wrapper over the real function), and the trigger below
 * fires at COMMIT as a deferred constraint of any database would.
 */
jest.mock('../../../../src/core/engine/pull/pageTx', () => {
  const actual = jest.requireActual('../../../../src/core/engine/pull/pageTx');
  return {
    ...actual,
    inPageTx: (
      scope: unknown,
      before: unknown,
      fn: (source: { query(sql: string): Promise<unknown> }, meta: unknown) => Promise<unknown>,
    ) =>
      actual.inPageTx(
        scope,
        before,
        async (source: { query(sql: string): Promise<unknown> }, meta: unknown) => {
          await source.query('SET CONSTRAINTS ALL DEFERRED');
          return fn(source, meta);
        },
      ),
  };
});

/**
 * I6 with the source table in another database than the metadata store (docs/design.md): a pull page commits its
 * rows first and its ledger entries second. Whatever fails between the two commits, the rerun leaves one row per
 * new item, paired once. The metadata's COMMIT (or the source's) is made to fail by a deferred constraint trigger
 * that raises while a flag says so.
 */
describe('pull inserts with the source in another database', () => {
  let h: Harness;
  let src: TestDatabase;
  /** Another source database on the same server (one transaction id space): a connection re-pointed there. */
  let src2: TestDatabase;
  const warnings: string[] = [];
  let ctx: EngineContext;
  let closeCtx: () => Promise<void>;

  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable' });
    src = await freshDatabase();
    src2 = await freshDatabase();
    const settings = loadSettings({
      DATABASE_URL: h.db.url,
      GRAPH_BASE_URL: h.emulator.baseUrl,
      GRAPH_TOKEN: h.emulator.appToken,
      GRAPH_RU_PER_MINUTE: '10000000',
      GRAPH_MAX_CONCURRENCY: '8',
    });
    ({ ctx, close: closeCtx } = await createEngineContext(settings, {
      caCert: h.emulator.caCert,
      // META: the metadata database under another connection name, so a pool apart from the metadata store's.
      env: {
        ARCORE_CONNECTION_SRC: src.url,
        ARCORE_CONNECTION_SRC2: src2.url,
        ARCORE_CONNECTION_META: h.db.url,
      },
      log: { info() {}, warn: (m) => warnings.push(m), error() {} },
    }));
    const flagged = `CREATE TABLE fault (fail boolean NOT NULL); INSERT INTO fault VALUES (false);
      CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (SELECT fail FROM fault) THEN RAISE EXCEPTION 'commit refused (test)'; END IF;
        RETURN NULL;
      END $$`;
    await h.db.pool.query(`${flagged};
      CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON arcore.sync_ledger DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION refuse_commit()`);
    await src.pool.query(flagged);
  });
  afterAll(async () => {
    await closeCtx();
    await src.drop();
    await src2.drop();
    await h.close();
  });

  const define = async (input: SyncDefinitionInput) => {
    const def = parseDefinition(input);
    await upsertDefinitions(h.db.pool, [def]);
    await provisionList(ctx, def.name);
  };
  const addItems = async (list: string, items: Record<string, unknown>[]) => {
    for (const fields of items)
      expect((await h.asUser('POST', `/sites/${h.siteId}/lists/${list}/items`, { fields })).status).toBe(201);
  };
  const failMeta = (fail: boolean) => h.db.pool.query('UPDATE fault SET fail = $1', [fail]);
  const failSource = (fail: boolean) => src.pool.query('UPDATE fault SET fail = $1', [fail]);
  const pull = (name: string) => runPull(ctx, name, { trigger: 'test' });
  const rows = async (sql: string) => (await src.pool.query(sql)).rows;
  /** Each item's ledger entries (item id → how many entries pair it), and the states. */
  const ledger = async (name: string) =>
    (
      await h.db.pool.query<{ item: string; n: number; states: string[] }>(
        `SELECT l.sp_item_id AS item, count(*)::int AS n, array_agg(l.state) AS states FROM arcore.sync_ledger l
          JOIN arcore.sync_definitions d ON d.id = l.definition_id WHERE d.name = $1 GROUP BY 1 ORDER BY 1`,
        [name],
      )
    ).rows;
  const leftOver = async (name: string) => {
    const { rows: r } = await h.db.pool.query<{ intents: number; parked: number }>(
      `SELECT (SELECT count(*)::int FROM arcore.pull_insert_intents i WHERE i.definition_id = d.id) AS intents,
              (SELECT count(*)::int FROM arcore.sync_failures f WHERE f.definition_id = d.id AND f.status = 'PARKED')
                AS parked
         FROM arcore.sync_definitions d WHERE d.name = $1`,
      [name],
    );
    return r[0];
  };
  const expectPairedOnce = async (name: string, list: string) => {
    const items = await h.items(list);
    expect(await ledger(name)).toEqual(
      items.map((i) => ({ item: i.id, n: 1, states: ['SYNCED'] })).sort((a, b) => (a.item < b.item ? -1 : 1)),
    );
    expect(await leftOver(name)).toEqual({ intents: 0, parked: 0 });
  };

  /** A table keyed by a serial id, its name synced to Title, and its definition on `connection`. */
  const serialDdl = (table: string) => `CREATE TABLE ${table} (id serial PRIMARY KEY, name text,
      updated_at timestamptz NOT NULL DEFAULT now())`;
  const serialInput = (
    table: string,
    connection = 'SRC',
    field: SyncDefinitionInput['fields'][number] = { source: 'name', target: 'Title' },
  ): SyncDefinitionInput => ({
    name: table,
    source: { table, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' }, connection },
    target: { site: SITE, list: table },
    fields: [field],
  });
  const serialTable = async (table: string) => {
    await src.pool.query(serialDdl(table));
    await define(serialInput(table));
  };

  const codesInput = (name: string): SyncDefinitionInput => ({
    name,
    source: {
      table: name,
      key: ['code'],
      cursor: { type: 'TIMESTAMP', column: 'updated_at' },
      connection: 'SRC',
    },
    target: { site: SITE, list: name },
    fields: [
      { source: 'name', target: 'Title' },
      { source: 'code', target: 'Code' },
    ],
  });
  const codesTable = (name: string) =>
    `CREATE TABLE ${name} (code text PRIMARY KEY, name text, updated_at timestamptz NOT NULL DEFAULT now())`;
  const definitionId = `(SELECT id FROM arcore.sync_definitions WHERE name = $1)`;
  /**
   * Runs `check` while the definition's intents name a source transaction still open, then gives them back their
   * own (committed) transaction id.
   */
  const whileOpen = async (name: string, check: () => Promise<void>) => {
    const { rows: recorded } = await h.db.pool.query<{ xid: string }>(
      `SELECT DISTINCT source_xid::text AS xid FROM arcore.pull_insert_intents WHERE definition_id = ${definitionId}`,
      [name],
    );
    expect(recorded).toHaveLength(1);
    const setXid = (xid: string) =>
      h.db.pool.query(
        `UPDATE arcore.pull_insert_intents SET source_xid = $2::bigint WHERE definition_id = ${definitionId}`,
        [name, xid],
      );
    const open = await src.pool.connect();
    try {
      await open.query('BEGIN');
      const { rows: xid } = await open.query<{ x: string }>('SELECT txid_current()::text AS x');
      await setXid(xid[0].x);
      await check();
    } finally {
      await open.query('ROLLBACK');
      open.release();
    }
    await setXid(recorded[0].xid);
  };

  it('a serial key: the metadata COMMIT fails after the source committed; the rerun inserts nothing again', async () => {
    await serialTable('tickets');
    await addItems('tickets', [{ Title: 'a' }, { Title: 'b' }, { Title: 'c' }]);
    // A dry run records no intent: its page's writes are rolled back.
    expect(await previewPull(ctx, 'tickets', { trigger: 'test' })).toMatchObject({ created: 3, failed: 0 });
    expect(await leftOver('tickets')).toEqual({ intents: 0, parked: 0 });
    await failMeta(true);
    const failed = await pull('tickets');
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toContain('commit refused (test)');
    expect(await rows('SELECT name FROM tickets ORDER BY name')).toHaveLength(3);
    expect(await leftOver('tickets')).toEqual({ intents: 3, parked: 0 });
    // Nor does it settle one: the real run does.
    await failMeta(false);
    await previewPull(ctx, 'tickets', { trigger: 'test' });
    expect(await leftOver('tickets')).toEqual({ intents: 3, parked: 0 });
    expect(await rows('SELECT name FROM tickets ORDER BY name')).toHaveLength(3);

    const rerun = await pull('tickets');
    expect(rerun).toMatchObject({ status: 'SUCCEEDED', created: 3, failed: 0 });
    expect(await rows('SELECT name FROM tickets ORDER BY name')).toEqual([
      { name: 'a' },
      { name: 'b' },
      { name: 'c' },
    ]);
    await expectPairedOnce('tickets', 'tickets');
    // The pairs are settled: the next pull finds nothing new.
    expect(await pull('tickets')).toMatchObject({ created: 0, updated: 0, failed: 0 });
  });

  it('a supplied key: the rerun pairs the items with their rows instead of parking them on a unique violation', async () => {
    await src.pool.query(`CREATE TABLE codes (code text PRIMARY KEY, name text,
      updated_at timestamptz NOT NULL DEFAULT now())`);
    await define({
      name: 'codes',
      source: {
        table: 'codes',
        key: ['code'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        connection: 'SRC',
      },
      target: { site: SITE, list: 'codes' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code' },
      ],
    });
    await addItems('codes', [
      { Title: 'first', Code: 'A' },
      { Title: 'second', Code: 'B' },
    ]);
    await failMeta(true);
    expect((await pull('codes')).status).toBe('FAILED');
    await failMeta(false);
    expect(await pull('codes')).toMatchObject({ status: 'SUCCEEDED', created: 2, failed: 0 });
    expect(await rows('SELECT code, name FROM codes ORDER BY code')).toEqual([
      { code: 'A', name: 'first' },
      { code: 'B', name: 'second' },
    ]);
    await expectPairedOnce('codes', 'codes');
  });

  it('a push before the rerun pairs the rows a stopped pull inserted instead of creating their items again', async () => {
    await serialTable('orders');
    await addItems('orders', [{ Title: 'x' }, { Title: 'y' }]);
    await failMeta(true);
    expect((await pull('orders')).status).toBe('FAILED');
    await failMeta(false);
    const pushed = await runPush(ctx, 'orders', { trigger: 'test' });
    expect(pushed).toMatchObject({ status: 'SUCCEEDED', created: 0, failed: 0 });
    expect((await h.items('orders')).map((i) => i.fields.Title).sort()).toEqual(['x', 'y']);
    await expectPairedOnce('orders', 'orders');
    expect(await pull('orders')).toMatchObject({ status: 'SUCCEEDED', created: 0, failed: 0 });
    expect(await rows('SELECT name FROM orders ORDER BY name')).toEqual([{ name: 'x' }, { name: 'y' }]);
    await expectPairedOnce('orders', 'orders');
  });

  it('an item inserted on its own (a row of defaults only) is paired by the rerun too', async () => {
    await src.pool.query(serialDdl('stubs'));
    await define(serialInput('stubs', 'SRC', { source: 'name', target: 'Title', direction: 'PUSH_ONLY' }));
    await addItems('stubs', [{ Title: 'p' }, { Title: 'q' }]);
    await failMeta(true);
    expect((await pull('stubs')).status).toBe('FAILED');
    expect(await leftOver('stubs')).toEqual({ intents: 2, parked: 0 });
    await failMeta(false);
    expect(await pull('stubs')).toMatchObject({ status: 'SUCCEEDED', created: 2, failed: 0 });
    expect(await rows('SELECT id FROM stubs')).toHaveLength(2);
    await expectPairedOnce('stubs', 'stubs');
  });

  it('a row deleted in Postgres after the stopped pull committed it is not inserted again', async () => {
    await serialTable('tasks');
    await addItems('tasks', [{ Title: 'keep' }, { Title: 'drop' }, { Title: 'gone' }]);
    await failMeta(true);
    expect((await pull('tasks')).status).toBe('FAILED');
    await failMeta(false);
    await src.pool.query("DELETE FROM tasks WHERE name IN ('drop', 'gone')");
    // Recorded before migration 022 (no source database): its status is trusted as it was.
    await h.db.pool.query(
      `UPDATE arcore.pull_insert_intents SET source_system_id = NULL, source_database_oid = NULL,
         source_database_name = NULL WHERE entry->'syncedValues'->>'Title' = 'gone'`,
    );
    // Its source transaction committed: the item is paired with its row (gone since), not read again as new.
    expect(await pull('tasks')).toMatchObject({ status: 'SUCCEEDED', created: 3, failed: 0 });
    expect(await rows('SELECT name FROM tasks')).toEqual([{ name: 'keep' }]);
    expect(await leftOver('tasks')).toEqual({ intents: 0, parked: 0 });
    expect(await pull('tasks')).toMatchObject({ created: 0, failed: 0 });
    expect(await rows('SELECT name FROM tasks')).toEqual([{ name: 'keep' }]);
  });

  it('a source transaction the server no longer knows: one row with the key tells it committed', async () => {
    await serialTable('legacy');
    await addItems('legacy', [{ Title: 'm' }, { Title: 'n' }]);
    await failMeta(true);
    expect((await pull('legacy')).status).toBe('FAILED');
    await failMeta(false);
    // An id ahead of the server's counter is one txid_status refuses, as after a restore of an older backup.
    await h.db.pool.query('UPDATE arcore.pull_insert_intents SET source_xid = 900000000000');
    expect(await pull('legacy')).toMatchObject({ status: 'SUCCEEDED', created: 2, failed: 0 });
    expect(await rows('SELECT name FROM legacy ORDER BY name')).toEqual([{ name: 'm' }, { name: 'n' }]);
    await expectPairedOnce('legacy', 'legacy');
  });

  it('restored from an older backup: a row of its own that took the serial id again is not paired with the item', async () => {
    await serialTable('restored');
    await addItems('restored', [{ Title: 'first' }]);
    await failMeta(true);
    expect((await pull('restored')).status).toBe('FAILED');
    await failMeta(false);
    // The source restored from a backup older than the stopped page: its row is gone, its sequence hands out 1
    // again (an app's row takes it), and the id the intent names is ahead of the server (txid_status refuses it).
    await src.pool.query('DELETE FROM restored; ALTER SEQUENCE restored_id_seq RESTART WITH 1');
    await src.pool.query("INSERT INTO restored (name) VALUES ('app row')");
    await h.db.pool.query('UPDATE arcore.pull_insert_intents SET source_xid = 900000000000');
    expect(await pull('restored')).toMatchObject({ status: 'SUCCEEDED', failed: 0 });
    expect(await runPush(ctx, 'restored', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      failed: 0,
    });
    // The item was not taken for the app's row: each has its own row and its own item.
    expect((await rows('SELECT name FROM restored ORDER BY name')).map((r) => r.name)).toEqual([
      'app row',
      'first',
    ]);
    expect((await h.items('restored')).map((i) => i.fields.Title).sort()).toEqual(['app row', 'first']);
    await expectPairedOnce('restored', 'restored');
  });

  it('another timeline since (a lossy failover, a restore to a point in time): the rows decide, not txid_status', async () => {
    await serialTable('promoted');
    await addItems('promoted', [{ Title: 'first' }]);
    await failMeta(true);
    expect((await pull('promoted')).status).toBe('FAILED');
    await failMeta(false);
    // The promoted server lost the page's row and handed its serial id to an app's row; the id the intent names,
    // a committed transaction on this server's counter, says nothing about the row. Its timeline tells.
    await src.pool.query('DELETE FROM promoted; ALTER SEQUENCE promoted_id_seq RESTART WITH 1');
    await src.pool.query("INSERT INTO promoted (name) VALUES ('app row')");
    const { rows: recorded } = await h.db.pool.query<{ timeline: string }>(
      'UPDATE arcore.pull_insert_intents SET source_timeline = source_timeline + 1 RETURNING source_timeline::text AS timeline',
    );
    expect(recorded).toHaveLength(1);
    warnings.length = 0;
    expect(await pull('promoted')).toMatchObject({ status: 'SUCCEEDED', failed: 0 });
    expect(await runPush(ctx, 'promoted', { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      failed: 0,
    });
    expect((await rows('SELECT name FROM promoted ORDER BY name')).map((r) => r.name)).toEqual([
      'app row',
      'first',
    ]);
    expect((await h.items('promoted')).map((i) => i.fields.Title).sort()).toEqual(['app row', 'first']);
    await expectPairedOnce('promoted', 'promoted');
    expect(warnings.join('\n')).toContain(`timeline ${recorded[0].timeline}`);
  });

  it('the source COMMIT fails after the intents were recorded: the rerun inserts each item once', async () => {
    await serialTable('notes');
    await src.pool
      .query(`CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON notes DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION refuse_commit()`);
    await addItems('notes', [{ Title: 'one' }, { Title: 'two' }]);
    await failSource(true);
    const failed = await pull('notes');
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toContain('commit refused (test)');
    expect(await rows('SELECT * FROM notes')).toEqual([]);
    expect(await leftOver('notes')).toEqual({ intents: 2, parked: 0 });

    await failSource(false);
    // Had that transaction still been open (its client gone, the server not yet aware), its rows might commit yet:
    // the run stops, every intent kept, until it ends.
    const open = await src.pool.connect();
    try {
      await open.query('BEGIN');
      const { rows: xid } = await open.query<{ x: string }>('SELECT txid_current()::text AS x');
      await h.db.pool.query('UPDATE arcore.pull_insert_intents SET source_xid = $1::bigint', [xid[0].x]);
      const stopped = await pull('notes');
      expect(stopped.status).toBe('FAILED');
      expect(stopped.error).toContain(
        `the source transaction (xid ${xid[0].x}) of a pull that stopped is still open`,
      );
      expect(await leftOver('notes')).toEqual({ intents: 2, parked: 0 });
      await open.query('ROLLBACK');
    } finally {
      open.release();
    }
    expect(await pull('notes')).toMatchObject({ status: 'SUCCEEDED', created: 2, failed: 0 });
    expect(await rows('SELECT name FROM notes ORDER BY name')).toEqual([{ name: 'one' }, { name: 'two' }]);
    await expectPairedOnce('notes', 'notes');
  });
  it('a new item taking the key of a pair its page removed (its item deleted) is paired by the rerun, not duplicated', async () => {
    await src.pool.query(`CREATE TABLE reused (code text PRIMARY KEY, name text,
      updated_at timestamptz NOT NULL DEFAULT now()); INSERT INTO reused (code, name) VALUES ('A', 'old a')`);
    await define({
      name: 'reused',
      source: {
        table: 'reused',
        key: ['code'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        connection: 'SRC',
      },
      target: { site: SITE, list: 'reused' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'code', target: 'Code' },
      ],
      deletes: { push: 'PROPAGATE', pull: 'PROPAGATE' },
    });
    expect(await runPush(ctx, 'reused', { trigger: 'test' })).toMatchObject({ created: 1 });
    await pull('reused');
    const [old] = await h.items('reused');
    const base = `/sites/${h.siteId}/lists/reused/items`;
    // One page: the item of key A deleted (its row deleted), a new item taking key A (inserted).
    expect((await h.asUser('DELETE', `${base}/${old.id}`)).status).toBe(204);
    await addItems('reused', [{ Title: 'new a', Code: 'A' }]);
    await failMeta(true);
    expect((await pull('reused')).status).toBe('FAILED');
    await failMeta(false);
    expect(await rows('SELECT code, name FROM reused')).toEqual([{ code: 'A', name: 'new a' }]);

    expect(await pull('reused')).toMatchObject({ status: 'SUCCEEDED', failed: 0 });
    expect(await rows('SELECT code, name FROM reused')).toEqual([{ code: 'A', name: 'new a' }]);
    await expectPairedOnce('reused', 'reused');
    expect(await runPush(ctx, 'reused', { trigger: 'test' })).toMatchObject({ created: 0, failed: 0 });
    expect((await h.items('reused')).map((i) => i.fields.Title)).toEqual(['new a']);
  });

  describe('the definition re-pointed at another source database while intents are left', () => {
    const repoint = async (input: SyncDefinitionInput) => {
      await upsertDefinitions(h.db.pool, [
        parseDefinition({ ...input, source: { ...input.source, connection: 'SRC2' } }),
      ]);
    };
    /** The values each intent recorded of the row its page inserted (each column's JSON as the page read it). */
    const insertedValues = async (name: string) =>
      (
        await h.db.pool.query<{ v: Record<string, string> }>(
          `SELECT inserted_values AS v FROM arcore.pull_insert_intents WHERE definition_id = ${definitionId}`,
          [name],
        )
      ).rows.map((r) => Object.fromEntries(Object.entries(r.v).map(([k, json]) => [k, JSON.parse(json)])));

    it('a serial key: the new database gave the same id to a row of its own; the item is not paired with it', async () => {
      await src.pool.query(serialDdl('hijack'));
      await src2.pool.query(serialDdl('hijack'));
      const input = serialInput('hijack');
      await define(input);
      await addItems('hijack', [{ Title: 'first' }]);
      await failMeta(true);
      expect((await pull('hijack')).status).toBe('FAILED');
      await failMeta(false);
      expect(await rows('SELECT id, name FROM hijack')).toEqual([{ id: 1, name: 'first' }]);
      expect(await leftOver('hijack')).toEqual({ intents: 1, parked: 0 });
      // The new database (a copy made before the stopped pull) got a row of its own: its sequence hands out 1 again.
      await src2.pool.query("INSERT INTO hijack (name) VALUES ('app row')");
      await repoint(input);
      warnings.length = 0;
      expect(await pull('hijack')).toMatchObject({ status: 'SUCCEEDED', created: 1, failed: 0 });
      expect(warnings.join('\n')).toContain(
        '0 paired with the one row holding their key, 1 read again as new',
      );
      expect(await runPush(ctx, 'hijack', { trigger: 'test' })).toMatchObject({ created: 1, failed: 0 });
      expect((await src2.pool.query('SELECT name FROM hijack ORDER BY name')).rows).toEqual([
        { name: 'app row' },
        { name: 'first' },
      ]);
      expect((await h.items('hijack')).map((i) => i.fields.Title).sort()).toEqual(['app row', 'first']);
      await expectPairedOnce('hijack', 'hijack');
    });

    it('relink settles by the rows as a run does: the key held in the new database by a row with other values is not paired', async () => {
      await src.pool.query(codesTable('renamed'));
      await src2.pool.query(
        `${codesTable('renamed')}; INSERT INTO renamed (code, name) VALUES ('A', 'app row')`,
      );
      await define(codesInput('renamed'));
      await addItems('renamed', [{ Title: 'first', Code: 'A' }]);
      await failMeta(true);
      expect((await pull('renamed')).status).toBe('FAILED');
      await failMeta(false);
      expect(await leftOver('renamed')).toEqual({ intents: 1, parked: 0 });
      await repoint(codesInput('renamed'));
      const { rows: bound } = await h.db.pool.query<{ list_id: string }>(
        'SELECT list_id FROM arcore.sync_definitions WHERE name = $1',
        ['renamed'],
      );
      expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${bound[0].list_id}`)).status).toBe(204);
      await provisionList(ctx, 'renamed');
      warnings.length = 0;
      expect(await relinkDefinition(ctx, 'renamed')).toMatchObject({ settledInserts: 0 });
      expect(warnings.join('\n')).toContain(
        '0 paired with the one row holding their key, 1 read again as new',
      );
      expect(await leftOver('renamed')).toEqual({ intents: 0, parked: 0 });
      expect(await ledger('renamed')).toEqual([]);
    });

    it('committed on the old database: the items are inserted in the new one, not paired with rows it never had', async () => {
      await src.pool.query(codesTable('moved'));
      await src2.pool.query(codesTable('moved'));
      await define(codesInput('moved'));
      await addItems('moved', [
        { Title: 'first', Code: 'A' },
        { Title: 'second', Code: 'B' },
      ]);
      await failMeta(true);
      expect((await pull('moved')).status).toBe('FAILED');
      await failMeta(false);
      expect(await rows('SELECT code FROM moved ORDER BY code')).toEqual([{ code: 'A' }, { code: 'B' }]);
      expect(await leftOver('moved')).toEqual({ intents: 2, parked: 0 });

      // Same server: txid_status would answer "committed", true of the transaction but not of this database.
      await repoint(codesInput('moved'));
      warnings.length = 0;
      expect(await pull('moved')).toMatchObject({ status: 'SUCCEEDED', created: 2, failed: 0 });
      expect((await src2.pool.query('SELECT code, name FROM moved ORDER BY code')).rows).toEqual([
        { code: 'A', name: 'first' },
        { code: 'B', name: 'second' },
      ]);
      await expectPairedOnce('moved', 'moved');
      expect(warnings.join('\n')).toMatch(
        /moved: 2 new item\(s\) of a pull that stopped were recorded on database "t_\w+" \(oid \d+\) on server \d+, timeline \d+, not on the source of connection "SRC2" now .*: 0 paired with the one row holding their key, 2 read again as new/,
      );
    });

    it('rolled back on the old database, the rows there in the new one: paired by the rows, not inserted again', async () => {
      await src.pool.query(`${codesTable('swapped')};
        CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON swapped DEFERRABLE INITIALLY DEFERRED
          FOR EACH ROW EXECUTE FUNCTION refuse_commit()`);
      await define(codesInput('swapped'));
      await addItems('swapped', [
        { Title: 'first', Code: 'A' },
        { Title: 'second', Code: 'B' },
      ]);
      await failSource(true);
      expect((await pull('swapped')).status).toBe('FAILED');
      await failSource(false);
      expect(await rows('SELECT code FROM swapped')).toEqual([]);
      expect(await leftOver('swapped')).toEqual({ intents: 2, parked: 0 });

      // The server the rows committed on (a copy that kept them) is the source now; the old id reads "aborted".
      // The intents recorded only what each item supplied, not the cursor column, which the copy (like any trigger
      // or later edit) set otherwise: those rows are still the page's own.
      const recorded = await insertedValues('swapped');
      expect(recorded.map((r) => Object.keys(r).sort())).toEqual([
        ['code', 'name'],
        ['code', 'name'],
      ]);
      await src2.pool.query(codesTable('swapped'));
      await src2.pool.query(
        "INSERT INTO swapped (code, name, updated_at) SELECT code, name, now() - interval '1 hour' " +
          'FROM jsonb_to_recordset($1::jsonb) AS x(code text, name text)',
        [JSON.stringify(recorded)],
      );
      await repoint(codesInput('swapped'));
      warnings.length = 0;
      expect(await pull('swapped')).toMatchObject({ status: 'SUCCEEDED', created: 2, failed: 0 });
      expect((await src2.pool.query('SELECT code, name FROM swapped ORDER BY code')).rows).toEqual([
        { code: 'A', name: 'first' },
        { code: 'B', name: 'second' },
      ]);
      await expectPairedOnce('swapped', 'swapped');
      expect(warnings.join('\n')).toContain(
        '2 paired with the one row holding their key, 0 read again as new',
      );
    });
  });

  it('re-pointed at the metadata database itself (connection "default"): the intents are still settled, nothing inserted twice', async () => {
    const input = serialInput('aliased', 'META');
    await h.db.pool.query(serialDdl('aliased'));
    await define(input);
    await addItems('aliased', [{ Title: 'x' }, { Title: 'y' }]);
    await failMeta(true);
    expect((await pull('aliased')).status).toBe('FAILED');
    await failMeta(false);
    expect(await leftOver('aliased')).toEqual({ intents: 2, parked: 0 });

    // The same database, now shared with the metadata store: pages record no intent, but those left are settled.
    await upsertDefinitions(h.db.pool, [
      parseDefinition({ ...input, source: { ...input.source, connection: 'default' } }),
    ]);
    expect(await pull('aliased')).toMatchObject({ status: 'SUCCEEDED', created: 2, failed: 0 });
    expect((await h.db.pool.query('SELECT name FROM aliased ORDER BY name')).rows).toEqual([
      { name: 'x' },
      { name: 'y' },
    ]);
    await expectPairedOnce('aliased', 'aliased');
  });

  describe('relink and resolve settle the intents first', () => {
    it('relink: the rows a stopped pull committed get their items again in the new list; an open source transaction stops it', async () => {
      await src.pool.query(codesTable('relisted'));
      await define(codesInput('relisted'));
      await addItems('relisted', [
        { Title: 'first', Code: 'A' },
        { Title: 'second', Code: 'B' },
      ]);
      await failMeta(true);
      expect((await pull('relisted')).status).toBe('FAILED');
      await failMeta(false);
      expect(await leftOver('relisted')).toEqual({ intents: 2, parked: 0 });
      const { rows: bound } = await h.db.pool.query<{ list_id: string }>(
        'SELECT list_id FROM arcore.sync_definitions WHERE name = $1',
        ['relisted'],
      );
      // The list is deleted and created again, empty: every run refuses until relink.
      expect((await h.asUser('DELETE', `/sites/${h.siteId}/lists/${bound[0].list_id}`)).status).toBe(204);
      await provisionList(ctx, 'relisted');

      await whileOpen('relisted', async () => {
        await expect(relinkDefinition(ctx, 'relisted')).rejects.toThrow(SourceTransactionOpenError);
        expect(await leftOver('relisted')).toEqual({ intents: 2, parked: 0 });
        const { rows: still } = await h.db.pool.query<{ list_id: string }>(
          'SELECT list_id FROM arcore.sync_definitions WHERE name = $1',
          ['relisted'],
        );
        expect(still).toEqual(bound);
      });

      expect(await relinkDefinition(ctx, 'relisted')).toMatchObject({
        settledInserts: 2,
        adopted: 0,
        toRecreate: 2,
      });
      expect(await leftOver('relisted')).toEqual({ intents: 0, parked: 0 });
      expect(await runPush(ctx, 'relisted', { trigger: 'test' })).toMatchObject({
        status: 'SUCCEEDED',
        created: 2,
        failed: 0,
      });
      expect((await h.items('relisted')).map((i) => i.fields.Title).sort()).toEqual(['first', 'second']);
      await expectPairedOnce('relisted', 'relisted');
      expect(await rows('SELECT code, name FROM relisted ORDER BY code')).toEqual([
        { code: 'A', name: 'first' },
        { code: 'B', name: 'second' },
      ]);
    });

    it('resolve: pairs the new items of a stopped pull before it writes; an open source transaction stops it, the conflict left open', async () => {
      await src.pool.query(`${codesTable('disputed')}; INSERT INTO disputed (code, name) VALUES ('A', 'T0')`);
      await define({ ...codesInput('disputed'), conflictPolicy: 'MANUAL' });
      expect(await runPush(ctx, 'disputed', { trigger: 'test' })).toMatchObject({ created: 1 });
      await pull('disputed');
      const [item] = await h.items('disputed');
      await src.pool.query("UPDATE disputed SET name = 'pg' WHERE code = 'A'");
      const base = `/sites/${h.siteId}/lists/disputed/items/${item.id}/fields`;
      expect((await h.asUser('PATCH', base, { Title: 'sp' })).status).toBe(200);
      expect(await pull('disputed')).toMatchObject({ conflicts: 1 });
      const { rows: open } = await h.db.pool.query<{ id: string }>(
        `SELECT id FROM arcore.sync_conflicts WHERE definition_id = ${definitionId} AND status = 'OPEN'`,
        ['disputed'],
      );
      expect(open).toHaveLength(1);
      const conflictStatus = async () =>
        (await h.db.pool.query('SELECT status FROM arcore.sync_conflicts WHERE id = $1', [open[0].id]))
          .rows[0].status as string;

      await addItems('disputed', [{ Title: 'new', Code: 'B' }]);
      await failMeta(true);
      expect((await pull('disputed')).status).toBe('FAILED');
      await failMeta(false);
      expect(await leftOver('disputed')).toEqual({ intents: 1, parked: 0 });

      await whileOpen('disputed', async () => {
        await expect(resolveConflict(ctx, open[0].id, { take: 'postgres' }, 'test')).rejects.toThrow(
          SourceTransactionOpenError,
        );
        expect(await conflictStatus()).toBe('OPEN');
        expect(await leftOver('disputed')).toEqual({ intents: 1, parked: 0 });
      });

      expect(await resolveConflict(ctx, open[0].id, { take: 'postgres' }, 'test')).toEqual({
        conflictId: open[0].id,
        status: 'RESOLVED',
        effect: 'values-written',
        itemId: '1',
        summary: 'the Postgres values are now on both sides',
      });
      await expectPairedOnce('disputed', 'disputed');
      expect(await rows('SELECT code, name FROM disputed ORDER BY code')).toEqual([
        { code: 'A', name: 'pg' },
        { code: 'B', name: 'new' },
      ]);
      expect((await h.items('disputed')).map((i) => i.fields.Title).sort()).toEqual(['new', 'pg']);
    });
  });

  it('re-pointed at the metadata database ("default") with intents recorded before migration 022: the rows decide', async () => {
    const input = serialInput('unplaced');
    await serialTable('unplaced');
    await addItems('unplaced', [{ Title: 'x' }, { Title: 'y' }]);
    await failMeta(true);
    expect((await pull('unplaced')).status).toBe('FAILED');
    await failMeta(false);
    expect(await leftOver('unplaced')).toEqual({ intents: 2, parked: 0 });
    // As a pull of a version before migration 022 left them.
    await h.db.pool.query(
      `UPDATE arcore.pull_insert_intents SET source_system_id = NULL, source_database_oid = NULL,
         source_database_name = NULL, inserted_values = NULL WHERE definition_id = ${definitionId}`,
      ['unplaced'],
    );
    // The table moved to the metadata database without the stopped pull's rows: their transaction id, asked there,
    // would read "committed" (one id space per server) though the rows are not in this database.
    await h.db.pool.query(serialDdl('unplaced'));
    await upsertDefinitions(h.db.pool, [
      parseDefinition({ ...input, source: { ...input.source, connection: 'default' } }),
    ]);
    expect(await pull('unplaced')).toMatchObject({ status: 'SUCCEEDED', created: 2, failed: 0 });
    expect((await h.db.pool.query('SELECT name FROM unplaced ORDER BY name')).rows).toEqual([
      { name: 'x' },
      { name: 'y' },
    ]);
    await expectPairedOnce('unplaced', 'unplaced');
    expect(await runPush(ctx, 'unplaced', { trigger: 'test' })).toMatchObject({ deleted: 0, failed: 0 });
    expect((await h.items('unplaced')).map((i) => i.fields.Title).sort()).toEqual(['x', 'y']);
  });

  it('relink with no intents left, in a process without the source connection setting', async () => {
    await src.pool.query(codesTable('nosetting'));
    await define(codesInput('nosetting'));
    const settings = loadSettings({
      DATABASE_URL: h.db.url,
      GRAPH_BASE_URL: h.emulator.baseUrl,
      GRAPH_TOKEN: h.emulator.appToken,
      GRAPH_RU_PER_MINUTE: '10000000',
    });
    const other = await createEngineContext(settings, { caCert: h.emulator.caCert, env: {} });
    try {
      expect(await leftOver('nosetting')).toEqual({ intents: 0, parked: 0 });
      await expect(relinkDefinition(other.ctx, 'nosetting')).resolves.toMatchObject({ settledInserts: 0 });
    } finally {
      await other.close();
    }
  });
  /**
   * docs/design.md I7 (every conflict recorded with its resolution) and I12: the one-item path records a conflict in
   * the metadata database and writes the winner into the source; when Postgres refuses it, the item's savepoint
   * undoes both, so no conflict stays on record as settled for a write that never happened.
   */
  it('I7 a conflict whose winner Postgres refuses is not recorded; once accepted it is recorded once', async () => {
    await src.pool.query(`CREATE TABLE refused (id integer PRIMARY KEY, name text,
      budget numeric(12,2) CONSTRAINT refused_budget CHECK (budget >= 0),
      updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO refused (id, name, budget) VALUES (1, 'one', 10)`);
    await define({
      name: 'refused',
      source: {
        table: 'refused',
        key: ['id'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        connection: 'SRC',
      },
      target: { site: SITE, list: 'refused' },
      fields: [
        { source: 'name', target: 'Title' },
        { source: 'budget', target: 'Budget' },
      ],
      conflictPolicy: 'DESTINATION_WINS',
    });
    await runPush(ctx, 'refused', { trigger: 'test' });
    await pull('refused');
    const [item] = await h.items('refused');

    // Budget edited on both sides; SharePoint wins, and Postgres refuses its value.
    await src.pool.query('UPDATE refused SET budget = 20, updated_at = now()');
    const fields = `/sites/${h.siteId}/lists/refused/items/${item.id}/fields`;
    expect((await h.asUser('PATCH', fields, { Budget: -5 })).status).toBe(200);
    expect(await pull('refused')).toMatchObject({ failed: 1, conflicts: 0 });
    expect(await pull('refused')).toMatchObject({ failed: 1, conflicts: 0 });
    const conflicts = async () =>
      (
        await h.db.pool.query(
          `SELECT c.status, c.outcome FROM arcore.sync_conflicts c
            JOIN arcore.sync_definitions d ON d.id = c.definition_id WHERE d.name = 'refused' ORDER BY c.id`,
        )
      ).rows;
    expect({
      budget: (await rows('SELECT budget FROM refused'))[0].budget,
      conflicts: await conflicts(),
    }).toEqual({
      budget: '20.00',
      conflicts: [],
    });

    // Accepted once the constraint is relaxed: the retry applies it and records the conflict once.
    await src.pool.query('ALTER TABLE refused DROP CONSTRAINT refused_budget');
    await h.db.pool.query(
      `UPDATE arcore.sync_failures SET next_attempt_at = now()
        WHERE definition_id = (SELECT id FROM arcore.sync_definitions WHERE name = 'refused')`,
    );
    expect(await pull('refused')).toMatchObject({ failed: 0, conflicts: 1 });
    expect({
      budget: (await rows('SELECT budget FROM refused'))[0].budget,
      conflicts: await conflicts(),
    }).toEqual({
      budget: '-5.00',
      conflicts: [{ status: 'RESOLVED', outcome: 'TAKE_SHAREPOINT' }],
    });
    expect(await leftOver('refused')).toEqual({ intents: 0, parked: 0 });
  });
});

describe('a source transaction still open', () => {
  const open = new SourceTransactionOpenError('projects', '1234', 2);

  it('is a "busy" failure: exit 3 and 409, with a next step that fits a run, relink and resolve', () => {
    const failure = describeFailure(open);
    expect(failure).toMatchObject({ exitCode: 3, kind: 'busy' });
    expect(failure.hint).toMatch(/pg_terminate_backend/);
    expect(failure.hint).not.toMatch(/unexpected/);
    expect(open.message).not.toMatch(/this run/);
    expect(opsErrorStatus(open)).toEqual({
      status: 409,
      body: { error: open.message, kind: 'busy', hint: failure.hint },
    });
  });
});

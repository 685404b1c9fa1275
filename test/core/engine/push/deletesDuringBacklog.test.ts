/**
 * I8, I16 (docs/design.md): a TIMESTAMP push whose pages outlast one run (a first load, a catch-up, worked through
 * by time-sliced runs) gives deletes a share of each run's time before its pages. Deletes of rows already synced
 * used to wait until the whole backlog was read, and for ever when writes came faster than the budget allowed.
 */
import { runPush } from '../../../../src/core/engine/push';
import type { RunSummary } from '../../../../src/core/engine/types';
import { definitionStatus } from '../../../../src/core/ops/status';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { runCli } from '../../../../src/cli/index';
import { parseDefinition } from '../../../../src/core/definition/parse';
import { installCursorFor } from '../../../../src/core/ops';
import { killWhen, lockReleased, spawnEngineChild } from '../../../support/engineChild';
import { defineRoutedTitles, ledgerPair, whereRouted } from '../../../support/routed';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { ledgerCount, pushedTwoProjects, tombstoneCount } from '../../../support/projects';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

/**
 * Table `name` with rows 1 and 2 synced, delete capture installed (without it: the sweep), and a backlog of rows
 * 10–49 not pushed yet.
 */
async function syncedWithBacklog(name: string, capture = true): Promise<void> {
  // No overlap window: each continuation goes on after the page the run before committed.
  await pushedTwoProjects(h, name, { tombstones: capture, source: { pageSize: 5, overlapSeconds: 0 } });
  await h.db.pool.query(
    `INSERT INTO ${name} (id, name) SELECT g, 'row ' || g FROM generate_series(10, 49) g`,
  );
}

/** A push whose time budget is spent at once: the share for deletes, then one page (as a continuation's). */
const slicedPush = (name: string) => runPush(h.ctx, name, { trigger: 'test', maxSeconds: 0.001 });

/** Time-sliced pushes until one completes (the backlog read): their summaries. */
async function pushUntilComplete(name: string): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  for (let i = 0; i < 40 && !runs.at(-1)?.complete; i++) runs.push(await slicedPush(name));
  return runs;
}

const details = async (runId: string | null) =>
  (await h.db.pool.query('SELECT details FROM arcore.sync_runs WHERE id = $1', [runId])).rows[0]
    .details as Record<string, unknown>;

/** `arcore-sync status NAME` as the CLI prints it. */
async function statusText(name: string): Promise<string> {
  let out = '';
  const code = await runCli(['status', name], {
    io: { out: (t) => (out += `${t}\n`), err: (t) => (out += `${t}\n`) },
    env: { DATABASE_URL: h.db.url },
    cwd: tmpdir(),
    interactive: false,
    progressStream: new PassThrough(),
  });
  expect(code).toBe(0);
  return out;
}

const tombstones = (name: string) => tombstoneCount(h, name);
const ledgerSize = (name: string) => ledgerCount(h, name);

/** Each row of the table has exactly one item, whose Title is the row's name, and no other item is left. */
async function expectOneItemPerRow(name: string): Promise<void> {
  const { rows } = await h.db.pool.query<{ name: string }>(`SELECT name FROM ${name} ORDER BY name`);
  const titles = (await h.items(name)).map((i) => String(i.fields.Title)).sort();
  expect({ titles, ledger: await ledgerSize(name) }).toEqual({
    titles: rows.map((r) => r.name).sort(),
    ledger: rows.length,
  });
}

describe('I8/I16 (docs/design.md) deletes while a backlog is pushed in time-sliced runs', () => {
  it.each([
    ['tombstones', 'bl_del', true],
    ['the sweep', 'bl_sweep', false],
  ])(
    'found by %s: the first run applies deletes of synced rows; later runs finish the backlog with no duplicate or lost row',
    async (_, name, capture) => {
      await syncedWithBacklog(name, capture);
      await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);

      const first = await slicedPush(name);
      expect({
        complete: first.complete,
        deleted: first.deleted,
        one: (await h.items(name)).some((i) => i.fields.Title === 'one'),
        tombstones: capture ? await tombstones(name) : 0,
        applied: (await details(first.runId)).deletesApplied,
      }).toEqual({ complete: false, deleted: 1, one: false, tombstones: 0, applied: 1 });
      // The first run read a page or two of the backlog at most: the delete did not wait for the rest.
      expect(first.created).toBeLessThan(40);

      const rest = await pushUntilComplete(name);
      expect(rest.at(-1)?.complete).toBe(true);
      expect(rest.reduce((n, r) => n + r.created, first.created)).toBe(40);
      await expectOneItemPerRow(name);
    },
  );

  it('a key deleted and inserted again in the unread backlog keeps its row and its item', async () => {
    const name = 'bl_reins';
    await syncedWithBacklog(name);
    const itemOf = async (title: string) => (await h.items(name)).find((i) => i.fields.Title === title);
    const one = await itemOf('one');
    // Row 1 deleted and inserted again: its new version lies at the end of the backlog. Row 2 deleted for good.
    await h.db.pool.query(`DELETE FROM ${name} WHERE id IN (1, 2)`);
    await h.db.pool.query(`INSERT INTO ${name} (id, name) VALUES (1, 'one again')`);

    const first = await slicedPush(name);
    expect({
      deleted: first.deleted,
      one: (await h.items(name)).find((i) => i.id === one?.id)?.fields.Title,
      two: await itemOf('two'),
      tombstones: await tombstones(name),
    }).toEqual({ deleted: 1, one: 'one', two: undefined, tombstones: 0 });

    // Row 2 comes back after its item was deleted: it gets a new one when the backlog reaches it.
    await h.db.pool.query(`INSERT INTO ${name} (id, name) VALUES (2, 'two again')`);
    const rest = await pushUntilComplete(name);
    expect(rest.at(-1)?.complete).toBe(true);
    expect(rest.reduce((n, r) => n + r.deleted, 0)).toBe(0);
    await expectOneItemPerRow(name);
    // Row 1's item is the one it had, updated by the backlog.
    expect((await itemOf('one again'))?.id).toBe(one?.id);
  });

  it('routed: a deleted row loses the item its pair has; one inserted again under another route keeps its item, moved by the backlog', async () => {
    const name = 'bl_routed';
    const [open, closed] = ['BlOpen', 'BlClosed'];
    await defineRoutedTitles(h, name, open, closed, {
      source: {
        table: name,
        key: ['id'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        overlapSeconds: 0,
        pageSize: 5,
      },
    });
    const { rows } = await h.db.pool.query('SELECT document FROM arcore.sync_definitions WHERE name = $1', [
      name,
    ]);
    await installCursorFor(parseDefinition(rows[0].document), h.db.pool);
    await h.db.pool.query(
      `INSERT INTO ${name} (id, title, status) VALUES (1, 'a', 'OPEN'), (2, 'b', 'OPEN')`,
    );
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 2, complete: true });
    const [one, two] = [(await ledgerPair(h, name, 1)).hash, (await ledgerPair(h, name, 2)).hash];
    await h.db.pool.query(
      `INSERT INTO ${name} (id, title, status) SELECT g, 'row ' || g, 'OPEN' FROM generate_series(10, 49) g`,
    );
    // Row 2 routed to the other list (its move lies in the backlog), then deleted; row 1 deleted and inserted again
    // under the other route.
    await h.db.pool.query(`UPDATE ${name} SET status = 'CLOSED' WHERE id = 2`);
    await h.db.pool.query(`DELETE FROM ${name} WHERE id IN (1, 2)`);
    await h.db.pool.query(`INSERT INTO ${name} (id, title, status) VALUES (1, 'a2', 'CLOSED')`);

    const first = await slicedPush(name);
    expect({
      deleted: first.deleted,
      one: await whereRouted(h, open, closed, one),
      two: await whereRouted(h, open, closed, two),
    }).toEqual({ deleted: 1, one: [{ list: 'Open', title: 'a' }], two: [] });

    expect((await pushUntilComplete(name)).at(-1)?.complete).toBe(true);
    expect({
      one: await whereRouted(h, open, closed, one),
      two: await whereRouted(h, open, closed, two),
      open: (await h.items(open)).length,
      closed: (await h.items(closed)).length,
      ledger: await ledgerSize(name),
    }).toEqual({ one: [{ list: 'Closed', title: 'a2' }], two: [], open: 40, closed: 1, ledger: 41 });
  });

  it('deletes beyond the share wait for the next run, and status says so', async () => {
    const name = 'bl_many';
    await pushedTwoProjects(h, name, { tombstones: true, source: { pageSize: 5, overlapSeconds: 0 } });
    // More synced rows than one chunk of tombstones (DELETE_CHUNK_ROWS, 1000), then all of them deleted.
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name) SELECT g, 'old ' || g FROM generate_series(100, 1099) g`,
    );
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 1000, complete: true });
    await h.db.pool.query(`DELETE FROM ${name} WHERE id >= 100 OR id = 1`);
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name) SELECT g, 'row ' || g FROM generate_series(10, 49) g`,
    );

    const first = await slicedPush(name);
    const status = (await definitionStatus(h.db.pool, name))[0];
    expect({
      complete: first.complete,
      deleted: first.deleted,
      waiting: (await details(first.runId)).deletesWaiting,
      status: status.deletesWaiting,
      line: (await statusText(name)).includes('deletes not yet checked: 1 row(s) deleted in Postgres'),
    }).toEqual({ complete: false, deleted: 1000, waiting: 1, status: 1, line: true });

    const second = await slicedPush(name);
    expect({
      deleted: second.deleted,
      status: (await definitionStatus(h.db.pool, name))[0].deletesWaiting,
      tombstones: await tombstones(name),
    }).toEqual({ deleted: 1, status: 0, tombstones: 0 });
    expect((await pushUntilComplete(name)).at(-1)?.complete).toBe(true);
    await expectOneItemPerRow(name);
  });

  it('a table reloaded with the same rows shows no deletes waiting after a time-sliced push (review r13)', async () => {
    const name = 'bl_reload';
    await pushedTwoProjects(h, name, { tombstones: true, source: { pageSize: 50, overlapSeconds: 0 } });
    // More rows than one chunk of tombstones (DELETE_CHUNK_ROWS, 1000), all synced.
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name) SELECT g, 'row ' || g FROM generate_series(10, 1109) g`,
    );
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 1100, complete: true });
    // The nightly reload: every row deleted and inserted again, unchanged; one key deleted twice, then for good.
    await h.db.pool.query(`CREATE TEMP TABLE bl_reload_copy AS SELECT id, name, budget FROM ${name}`);
    await h.db.pool.query(`DELETE FROM ${name}`);
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name, budget) SELECT id, name, budget FROM bl_reload_copy`,
    );
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1109`);

    const sliced = await slicedPush(name);
    const [status] = await definitionStatus(h.db.pool, name);
    expect({
      slicedDeleted: sliced.deleted,
      waiting: (await details(sliced.runId)).deletesWaiting,
      status: status.deletesWaiting,
      tombstones: await tombstones(name),
    }).toEqual({ slicedDeleted: 0, waiting: 1, status: 1, tombstones: 1103 - 1000 });
    const next = await runPush(h.ctx, name, { trigger: 'test' });
    expect({ deleted: next.deleted, items: (await h.items(name)).length }).toEqual({
      deleted: 1,
      items: 1101,
    });
    expect((await definitionStatus(h.db.pool, name))[0].deletesWaiting).toBe(0);
  });

  it('a TRUNCATE read before the pages: the comparison after them applies the deletes, and none are left waiting', async () => {
    const name = 'bl_truncate';
    await pushedTwoProjects(h, name, { tombstones: true, source: { pageSize: 50, overlapSeconds: 0 } });
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name) SELECT g, 'row ' || g FROM generate_series(10, 1109) g`,
    );
    expect(await runPush(h.ctx, name, { trigger: 'test' })).toMatchObject({ created: 1100, complete: true });
    // A TRUNCATE (a keyless tombstone, owing a full comparison), the rows loaded again, then 1,100 deleted: more
    // tombstones than the step before the pages reads.
    await h.db.pool.query(`CREATE TEMP TABLE bl_truncate_copy AS SELECT id, name, budget FROM ${name}`);
    await h.db.pool.query(`TRUNCATE ${name}`);
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name, budget) SELECT id, name, budget FROM bl_truncate_copy`,
    );
    await h.db.pool.query(`DELETE FROM ${name} WHERE id >= 10`);

    const sliced = await slicedPush(name);
    expect({
      deleted: sliced.deleted,
      waiting: (await details(sliced.runId)).deletesWaiting,
      status: (await definitionStatus(h.db.pool, name))[0].deletesWaiting,
      items: (await h.items(name)).length,
    }).toEqual({ deleted: 1100, waiting: undefined, status: 0, items: 2 });
  });

  it('a run killed between the SharePoint delete and its ledger commit: the rerun finishes both (I6)', async () => {
    const name = 'bl_kill';
    await syncedWithBacklog(name);
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    const one = (await h.items(name)).find((i) => i.fields.Title === 'one');
    // The ledger row of row 1 held by another session: the delete's ledger commit waits for it.
    const holder = await h.db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(
        `SELECT 1 FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
          WHERE d.name = $1 AND l.sp_item_id = $2 FOR UPDATE OF l`,
        [name, one?.id],
      );
      const child = spawnEngineChild(h, ['push', name]);
      const killed = await killWhen(
        child,
        async () => !(await h.items(name)).some((i) => i.id === one?.id),
        'the item deleted in SharePoint',
      );
      expect(killed).toBe(true);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    await lockReleased(h, name);
    // Killed before the commit: the pair and the tombstone are still there (the tombstone goes only after it).
    expect({ ledger: await ledgerSize(name), tombstones: await tombstones(name) }).toEqual({
      ledger: 2,
      tombstones: 1,
    });

    const runs = await pushUntilComplete(name);
    expect({
      complete: runs.at(-1)?.complete,
      deleted: runs[0].deleted,
      tombstones: await tombstones(name),
    }).toEqual({ complete: true, deleted: 1, tombstones: 0 });
    await expectOneItemPerRow(name);
  });
});

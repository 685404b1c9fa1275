/**
 * The pull reads delta page N+1 while page N is applied to Postgres (issue #23, item 1). These tests hold the
 * pipelined pull to the one-page-at-a-time loop (same rows, ledger and delta link) and to I5c/I6: a failed read
 * ahead, or a SIGKILL with a page read but not applied, never commits a cursor beyond what was applied.
 */
import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { killWhen, lockReleased, spawnEngineChild } from '../../support/engineChild';
import {
  createProjectsTable,
  projectsDefinition,
  startHarness,
  type Harness,
} from '../../support/engineHarness';

/** The emulator's delta page size: every test feed spans several pages. */
const PAGE = 200;

/** Position fields of an emulator delta token (the issue time aside): equal positions read the same changes. */
function tokenPosition(link: string | null): { k: string; s: number; a: number } | null {
  if (!link) return null;
  const token = new URL(link).searchParams.get('token');
  if (!token) throw new Error(`no token in ${link}`);
  const { k, s, a } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
    k: string;
    s: number;
    a: number;
  };
  return { k, s, a };
}

describe('pull pipeline (issue #23.1): page N+1 read while page N is applied', () => {
  let h: Harness;
  beforeAll(async () => {
    // Every item of a page is shown again on the next one (at its state when that page is read).
    h = await startHarness({ deltaOrder: 'stable', deltaRepeats: 1, batchAmbiguous503Rate: 0 });
  });
  afterAll(async () => h.close());

  /** A table `name` with `rows` rows, its definition and list `List_<name>`, pushed. */
  async function synced(name: string, rows: number, pull = true): Promise<string> {
    const list = `List_${name}`;
    await createProjectsTable(h.db, name);
    await h.db.pool.query(`CREATE SEQUENCE ${name}_id START 10000`);
    await h.db.pool.query(`ALTER TABLE ${name} ALTER COLUMN id SET DEFAULT nextval('${name}_id')`);
    await h.define(
      projectsDefinition(
        { name, source: { table: name, key: ['id'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } } },
        list,
      ),
    );
    await h.db.pool.query(
      `INSERT INTO ${name} (id, name, budget) SELECT g, 'p' || g, g FROM generate_series(1, $1) g`,
      [rows],
    );
    expect((await runPush(h.ctx, name, { trigger: 'test' })).created).toBe(rows);
    if (pull) expect((await runPull(h.ctx, name, { trigger: 'test' })).failed).toBe(0);
    return list;
  }

  /** Items of `list` in id order. */
  async function itemsOf(list: string) {
    return (await h.items(list)).sort((a, b) => Number(a.id) - Number(b.id));
  }

  /** SharePoint edits as a user, 20 to a `$batch`. */
  async function spBatch(
    list: string,
    ops: { method: 'PATCH' | 'DELETE' | 'POST'; itemId?: string; body?: unknown }[],
  ): Promise<void> {
    const base = `/sites/${h.siteId}/lists/${list}/items`;
    for (let i = 0; i < ops.length; i += 20) {
      const answer = await h.asUser('POST', '/$batch', {
        requests: ops.slice(i, i + 20).map((op, n) => ({
          id: String(n + 1),
          method: op.method,
          url: op.method === 'POST' ? base : `${base}/${op.itemId}${op.method === 'PATCH' ? '/fields' : ''}`,
          ...(op.body === undefined
            ? {}
            : { headers: { 'Content-Type': 'application/json' }, body: op.body }),
        })),
      });
      expect(answer.status).toBe(200);
      const statuses = (answer.body as { responses: { status: number }[] }).responses.map((r) => r.status);
      expect(statuses.every((s) => s < 300)).toBe(true);
    }
  }

  const count = async (sql: string, params: unknown[] = []) =>
    Number((await h.db.pool.query<{ n: string }>(sql, params)).rows[0].n);

  /**
   * A SharePoint user appends `!` to the Title of every item of `list` (and sets `fields`); returns a count of
   * the rows of table `name` that have the edit, for following the pull.
   */
  async function editEveryTitle(name: string, list: string, fields: Record<string, unknown> = {}) {
    await spBatch(
      list,
      (await itemsOf(list)).map((item) => ({
        method: 'PATCH' as const,
        itemId: item.id,
        body: { Title: `${item.fields.Title}!`, ...fields },
      })),
    );
    return () => count(`SELECT count(*) AS n FROM ${name} WHERE name LIKE '%!'`);
  }

  /** Delta reads in the emulator's request log. */
  const deltaReads = () =>
    h.emulator.control.requestLog().filter((r) => r.method === 'GET' && r.path.endsWith('/items/delta'))
      .length;

  async function targetCursor(name: string) {
    const { rows } = await h.db.pool.query<{ value: string | null; progress: string | null }>(
      `SELECT c.value, c.progress FROM arcore.sync_cursors c JOIN arcore.sync_definitions d ON d.id = c.definition_id
       WHERE d.name = $1 AND c.scope = 'TARGET'`,
      [name],
    );
    return rows[0] ?? null;
  }

  async function runDetails(runId: string | null): Promise<Record<string, unknown>> {
    const { rows } = await h.db.pool.query<{ details: Record<string, unknown> }>(
      'SELECT details FROM arcore.sync_runs WHERE id = $1',
      [runId],
    );
    return rows[0].details;
  }

  /** What a pull leaves behind, in a form two lists with the same history compare equal in. */
  async function outcome(name: string, list: string) {
    const rows = await h.db.pool.query(
      `SELECT name, budget::text, due::text, done, tags FROM ${name} ORDER BY name, budget`,
    );
    const ledger = await h.db.pool.query<{
      identity: unknown;
      item: string;
      etag: string;
      synced: unknown;
      provenance: string;
      state: string;
    }>(
      `SELECT l.source_identity AS identity, l.sp_item_id AS item, l.sp_etag AS etag, l.synced_values AS synced,
              l.provenance, l.state
       FROM arcore.sync_ledger l JOIN arcore.sync_definitions d ON d.id = l.definition_id
       WHERE d.name = $1 ORDER BY (l.source_identity->>'id')::int`,
      [name],
    );
    const eTags = new Map((await h.items(list)).map((i) => [i.id, i.eTag]));
    const cursor = await targetCursor(name);
    return {
      rows: rows.rows,
      // Item ids depend on the order of the push's concurrent batches: pairs are compared by row.
      ledger: ledger.rows.map(({ identity, synced, provenance, state }) => ({
        identity,
        synced,
        provenance,
        state,
      })),
      // The ledger holds each item's current eTag: the next push writes with If-Match and does not 412.
      staleETags: ledger.rows.filter((r) => eTags.get(r.item) !== r.etag).length,
      deltaLink: tokenPosition(cursor?.value ?? null),
      progress: cursor?.progress ?? null,
    };
  }

  it('a pipelined pull leaves the same rows, ledger and delta link as the one-page-at-a-time loop', async () => {
    const edit = async (name: string, list: string) => {
      // Item ids follow the push's batches; rows are named p<id>: edit in row order so both feeds are alike.
      const row = (item: { fields: Record<string, unknown> }) => Number(String(item.fields.Title).slice(1));
      const items = (await itemsOf(list)).sort((x, y) => row(x) - row(y));
      const ops: Parameters<typeof spBatch>[1] = [];
      // Conflicts in the feed's first page: Postgres and SharePoint both edit rows 2 and 4; the definition's
      // SOURCE_WINS writes Postgres's value back to those items after page 1 commits.
      await h.db.pool.query(`UPDATE ${name} SET name = name || ' pg' WHERE id IN (2, 4)`);
      for (const item of items) {
        const n = row(item);
        if (n % 2 === 0) ops.push({ method: 'PATCH', itemId: item.id, body: { Title: `p${n} sp` } });
        else if (n % 25 === 1) ops.push({ method: 'DELETE', itemId: item.id });
      }
      for (let n = 0; n < 5; n++)
        ops.push({ method: 'POST', body: { fields: { Title: `new ${n}`, Budget: n } } });
      await spBatch(list, ops);
    };
    const one = await synced('pp_one', 410);
    const piped = await synced('pp_piped', 410);
    await edit('pp_one', one);
    await edit('pp_piped', piped);

    const a = await runPull(h.ctx, 'pp_one', { trigger: 'test', pipeline: false });
    const b = await runPull(h.ctx, 'pp_piped', { trigger: 'test' });
    for (const s of [a, b])
      expect(s).toMatchObject({ status: 'SUCCEEDED', failed: 0, conflicts: 2, created: 5 });
    const pick = (s: typeof a) => [s.created, s.updated, s.deleted, s.conflicts, s.failed];
    expect(pick(b)).toEqual(pick(a));
    const details = await runDetails(b.runId);
    expect(Number(details.pages)).toBeGreaterThan(1);
    // Page 2 had been read before page 1 wrote rows 2 and 4 back: it was read again after the write.
    expect(Number(details.pagesReadAgain)).toBeGreaterThanOrEqual(1);

    const [before, after] = [await outcome('pp_one', one), await outcome('pp_piped', piped)];
    expect(after).toEqual(before);
    expect(after.staleETags).toBe(0);
    expect(after.deltaLink).not.toBeNull();
    expect(after.progress).toBeNull();
    expect((await h.db.pool.query('SELECT name FROM pp_piped WHERE id IN (2, 4) ORDER BY id')).rows).toEqual([
      { name: 'p2 pg' },
      { name: 'p4 pg' },
    ]);
    // Quiescent (I4): nothing left to write on either side.
    for (const name of ['pp_one', 'pp_piped']) {
      const push = await runPush(h.ctx, name, { trigger: 'test' });
      expect(push.created + push.updated + push.deleted).toBe(0);
      const pull = await runPull(h.ctx, name, { trigger: 'test' });
      expect(pull.created + pull.updated + pull.deleted + pull.conflicts).toBe(0);
    }
  }, 120_000);

  it('I5c: a failed read of page N+1 after page N is applied leaves the cursor at page N+1; the rerun loses nothing', async () => {
    const list = await synced('pp_fail', 410, false);
    const edited = await editEveryTitle('pp_fail', list);
    // The first delta read passes; the second (page 2, read ahead while page 1 is applied) is refused.
    h.emulator.control.injectFault({ method: 'GET', pathPattern: 'items/delta$', count: 1, latencyMs: 1 });
    h.emulator.control.injectFault({ method: 'GET', pathPattern: 'items/delta$', count: 1, status: 400 });
    const failed = await runPull(h.ctx, 'pp_fail', { trigger: 'test' });
    h.emulator.control.clearFaults();
    expect(failed.status).toBe('FAILED');
    expect(await edited()).toBe(PAGE);
    const cursor = await targetCursor('pp_fail');
    expect(cursor?.value).toBeNull();
    // The committed link is the address of page 2 (items after the 200th of the enumeration), nothing beyond.
    const progress = JSON.parse(cursor?.progress ?? 'null') as { link: string };
    expect(tokenPosition(progress.link)).toMatchObject({
      k: 'e',
      a: Number((await itemsOf(list))[PAGE - 1].id),
    });

    const rerun = await runPull(h.ctx, 'pp_fail', { trigger: 'test' });
    expect(rerun).toMatchObject({ status: 'SUCCEEDED', failed: 0, deleted: 0, created: 0 });
    expect(await edited()).toBe(410);
    expect(await count('SELECT count(*) AS n FROM pp_fail')).toBe(410);
    const quiet = await runPush(h.ctx, 'pp_fail', { trigger: 'test' });
    expect(quiet.created + quiet.updated + quiet.deleted).toBe(0);
  }, 120_000);

  it('I16: a pull out of time stops after a committed page without reading one ahead; the next run continues', async () => {
    const list = await synced('pp_budget', 250);
    const edited = await editEveryTitle('pp_budget', list);
    h.emulator.control.clearRequestLog();
    const first = await runPull(h.ctx, 'pp_budget', { trigger: 'test', maxSeconds: 0.001 });
    expect(first).toMatchObject({ status: 'SUCCEEDED', complete: false, failed: 0 });
    expect(await edited()).toBe(PAGE);
    // No read of a page the run had no time to apply (I10: no resource unit spent for nothing).
    expect(deltaReads()).toBe(1);
    const rest = await runPull(h.ctx, 'pp_budget', { trigger: 'test' });
    expect(rest).toMatchObject({ status: 'SUCCEEDED', complete: true, failed: 0, created: 0, deleted: 0 });
    expect(await edited()).toBe(250);
  }, 60_000);

  it('I6: a pull SIGKILLed with a page read ahead but not applied loses and duplicates nothing', async () => {
    const list = await synced('pp_kill', 450);
    const edited = await editEveryTitle('pp_kill', list, { Budget: 7 });
    h.emulator.control.clearRequestLog();
    h.emulator.control.setLatency(40);
    // Killed once a page is applied and the next one has been read but not yet applied.
    const atKill = { reads: 0, applied: 0 };
    const killed = await killWhen(
      spawnEngineChild(h, ['pull', 'pp_kill'], { maxConcurrency: null }),
      async () => {
        const reads = deltaReads();
        const applied = Math.ceil((await edited()) / PAGE);
        if (!(applied > 0 && applied < 3 && reads > applied)) return false;
        Object.assign(atKill, { reads, applied });
        return true;
      },
      'a page applied and the next one read ahead',
    ).finally(() => h.emulator.control.setLatency(0));
    expect(killed).toBe(true);
    expect(atKill.reads).toBeGreaterThan(atKill.applied);
    expect(await edited()).toBeLessThan(450);

    await lockReleased(h, 'pp_kill');
    const rerun = await runPull(h.ctx, 'pp_kill', { trigger: 'test' });
    expect(rerun).toMatchObject({ status: 'SUCCEEDED', failed: 0, created: 0, deleted: 0 });
    expect(await edited()).toBe(450);
    expect(await count('SELECT count(*) AS n FROM pp_kill WHERE budget = 7')).toBe(450);
    expect(await count('SELECT count(*) AS n FROM pp_kill')).toBe(450);
    const quiet = await runPush(h.ctx, 'pp_kill', { trigger: 'test' });
    expect(quiet.created + quiet.updated + quiet.deleted).toBe(0);
  }, 120_000);
});

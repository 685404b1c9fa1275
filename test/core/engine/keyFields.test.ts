import { runPull } from '../../../src/core/engine/pull';
import { runPush } from '../../../src/core/engine/push';
import { installCursorTrigger } from '../../../src/core/source/postgres/PostgresSource';
import { SITE, startHarness, type Harness } from '../../support/engineHarness';

/**
 * I13: a mapped field that belongs to the key is push-only whatever its declared direction. A SharePoint edit of
 * it is recorded as a conflict (SharePoint's value shown, Postgres's kept) and SharePoint gets Postgres's value
 * back; it is never applied to Postgres nor ignored silently.
 */
describe('I13 key fields are not editable from SharePoint', () => {
  let h: Harness;
  let n = 0;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  async function coded() {
    n++;
    const name = `kf${n}`;
    await h.db.pool.query(
      `CREATE TABLE ${name} (code text PRIMARY KEY, name text, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await installCursorTrigger(h.db.pool, 'public', name, 'updated_at');
    await h.define({
      name,
      source: { table: name, key: ['code'], cursor: { type: 'TIMESTAMP', column: 'updated_at' } },
      target: { site: SITE, list: name },
      fields: [
        { source: 'code', target: 'Code' },
        { source: 'name', target: 'Title' },
      ],
    });
    await h.db.pool.query(`INSERT INTO ${name} (code, name) VALUES ('A1', 'one')`);
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    await push();
    await pull();
    const itemId = (await h.items(name))[0].id;
    const item = async () => (await h.items(name)).find((i) => i.id === itemId)!.fields;
    const rows = async () =>
      (await h.db.pool.query(`SELECT code, name FROM ${name} ORDER BY code`)).rows as {
        code: string;
        name: string;
      }[];
    const spEdit = async (fields: Record<string, unknown>) => {
      const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${itemId}/fields`, fields);
      expect(res.status).toBe(200);
    };
    const conflicts = async () =>
      (
        await h.db.pool.query(
          `SELECT c.fields, c.outcome, c.status, c.reason, c.sharepoint_values, c.postgres_values
             FROM arcore.sync_conflicts c JOIN arcore.sync_definitions d ON d.id = c.definition_id
            WHERE d.name = $1 ORDER BY c.id`,
          [name],
        )
      ).rows;
    return { name, push, pull, item, rows, spEdit, conflicts };
  }

  it('a run warns that the key field is treated as PUSH_ONLY, naming it', async () => {
    const k = await coded();
    const { runId } = await k.push();
    const { rows } = await h.db.pool.query('SELECT details FROM arcore.sync_runs WHERE id = $1', [runId]);
    expect(rows[0].details.warnings).toEqual([
      expect.stringMatching(
        /fields\[0\]: "Code" maps key column "code" and is treated as PUSH_ONLY \(declared BIDIRECTIONAL\)/,
      ),
    ]);
  });

  it('provision describes the key field column; it stays writable, as push must write it on create', async () => {
    const k = await coded();
    const res = await h.asUser('GET', `/sites/${h.siteId}/lists/${k.name}/columns`);
    const columns = (res.body as { value: { name: string; description?: string; readOnly?: boolean }[] })
      .value;
    const code = columns.find((c) => c.name === 'Code');
    expect(code).toMatchObject({ readOnly: false });
    expect(code?.description).toMatch(
      /Key field, synced from Postgres: an edit here is recorded as a conflict/,
    );
  });

  it('an edit of the key field in SharePoint is a conflict Postgres wins; SharePoint gets its value back', async () => {
    const k = await coded();
    await k.spEdit({ Code: 'B2' });
    const summary = await k.pull();
    expect(summary).toMatchObject({ conflicts: 1, failed: 0 });
    expect(await k.rows()).toEqual([{ code: 'A1', name: 'one' }]);
    const [c] = await k.conflicts();
    expect(c).toMatchObject({ fields: ['Code'], outcome: 'TAKE_POSTGRES', status: 'RESOLVED' });
    expect(c.sharepoint_values.Code).toBe('B2');
    expect(c.postgres_values.Code).toBe('A1');
    expect(c.reason).toContain('Code (SharePoint "B2", Postgres "A1") edited in SharePoint');
    await k.push();
    expect(await k.item()).toMatchObject({ Code: 'A1', Title: 'one' });
    const again = [await k.push(), await k.pull()];
    expect(again.map((s) => s.created + s.updated + s.deleted + s.conflicts)).toEqual([0, 0]);
  });

  it('other fields edited with it are applied; only the key field is restored', async () => {
    const k = await coded();
    await k.spEdit({ Code: 'B2', Title: 'renamed' });
    expect((await k.pull()).conflicts).toBe(1);
    await k.push();
    expect(await k.rows()).toEqual([{ code: 'A1', name: 'renamed' }]);
    expect(await k.item()).toMatchObject({ Code: 'A1', Title: 'renamed' });
  });

  it('when the pull cannot write the value back, the next push restores it', async () => {
    const k = await coded();
    await k.spEdit({ Code: 'B2' });
    h.emulator.control.injectFault({ method: 'PATCH', pathPattern: '/fields$', count: 1, status: 400 });
    // One outcome per item: the write-back that did not apply makes it a failure, parked for the next pull.
    expect(await k.pull()).toMatchObject({ status: 'PARTIAL', conflicts: 0, failed: 1, parkedFailures: 1 });
    expect(await k.item()).toMatchObject({ Code: 'B2' });
    expect((await k.push()).updated).toBe(1);
    expect(await k.item()).toMatchObject({ Code: 'A1' });
    expect(await k.rows()).toEqual([{ code: 'A1', name: 'one' }]);
  });

  it('a new SharePoint item still brings its key: the row is inserted with it', async () => {
    const k = await coded();
    const res = await h.asUser('POST', `/sites/${h.siteId}/lists/${k.name}/items`, {
      fields: { Code: 'C3', Title: 'three' },
    });
    expect(res.status).toBe(201);
    expect((await k.pull()).created).toBe(1);
    expect(await k.rows()).toEqual([
      { code: 'A1', name: 'one' },
      { code: 'C3', name: 'three' },
    ]);
  });
});

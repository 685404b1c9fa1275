import { runPull } from '../../../../src/core/engine/pull';
import { runPush } from '../../../../src/core/engine/push';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * A pull's write-back to SharePoint is sent after its page commits, and that commit moves the feed past the item
 * and used to resolve its parked failure: a run stopping before SharePoint answered (here a 401 on the $batch:
 * credentials revoked mid-run; equally a crash, a lost lock or the time budget) left nothing to send it again
 * (found by review). The page now keeps the item parked until the write-back is confirmed (docs/design.md, the
 * pull's page; I5c, I6). For a key field edited in SharePoint, Postgres's row does not change, so no push re-reads
 * it once it is older than the overlap window (0 here, to stand for a row older than the default 300 s).
 */
describe("I5c/I6 (docs/design.md, the pull page): a pull's write-back is sent even when the run stops after its page committed", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ deltaOrder: 'stable', batchAmbiguous503Rate: 0 });
  });
  afterAll(async () => h.close());

  const setUp = async (name: string): Promise<string> => {
    await h.db.pool.query(`CREATE TABLE ${name} (code text PRIMARY KEY, name text,
        updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${name} (code, name, updated_at) VALUES ('A1', 'one', now() - interval '1 hour');
      INSERT INTO ${name} (code, name) VALUES ('Z9', 'last')`);
    await h.define({
      name,
      source: {
        table: name,
        key: ['code'],
        cursor: { type: 'TIMESTAMP', column: 'updated_at' },
        overlapSeconds: 0,
      },
      target: { site: SITE, list: name },
      fields: [
        { source: 'code', target: 'Code' },
        { source: 'name', target: 'Title' },
      ],
    });
    await runPush(h.ctx, name, { trigger: 'test' });
    await runPull(h.ctx, name, { trigger: 'test' });
    const item = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
    const res = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Code: 'B2',
    });
    expect(res.status).toBe(200);
    return item.id;
  };

  /** The definition's failure records, parked or not. */
  const failures = async (name: string): Promise<{ status: string }[]> =>
    (
      await h.db.pool.query(
        `SELECT f.status FROM arcore.sync_failures f
           JOIN arcore.sync_definitions d ON d.id = f.definition_id WHERE d.name = $1 ORDER BY f.id`,
        [name],
      )
    ).rows;

  it('a key field edited in SharePoint is restored to the Postgres value after a write-back lost to a 401', async () => {
    const name = 'wbl';
    const itemId = await setUp(name);
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    // First write-back refused: parked for the next pull (as keyFields.test.ts shows).
    h.emulator.control.injectFault({ method: 'PATCH', pathPattern: '/fields$', count: 1, status: 400 });
    expect(await pull()).toMatchObject({ failed: 1, parkedFailures: 1 });
    // The retry's write-back meets a 401 on the whole $batch: the run fails after the page committed.
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '\\$batch', count: 1, status: 401 });
    expect((await pull()).status).toBe('FAILED');
    h.emulator.control.clearFaults();
    expect(await failures(name)).toEqual([{ status: 'PARKED' }]);

    // Credentials fixed: the next scheduled pull sends it.
    expect(await pull()).toMatchObject({ status: 'SUCCEEDED', parkedFailures: 0 });
    const fields = (await h.items(name)).find((i) => i.id === itemId)!.fields;
    expect({ code: fields.Code, failures: await failures(name) }).toEqual({
      code: 'A1',
      failures: [{ status: 'RESOLVED' }],
    });
  });

  it('the first write-back of an item, lost to a 401, is sent by the next pull and leaves no failure on record', async () => {
    const name = 'wbl_first';
    const itemId = await setUp(name);
    const pull = () => runPull(h.ctx, name, { trigger: 'test' });
    h.emulator.control.injectFault({ method: 'POST', pathPattern: '\\$batch', count: 1, status: 401 });
    expect((await pull()).status).toBe('FAILED');
    h.emulator.control.clearFaults();
    expect(await failures(name)).toEqual([{ status: 'PARKED' }]);

    expect(await pull()).toMatchObject({ status: 'SUCCEEDED', parkedFailures: 0 });
    const fields = (await h.items(name)).find((i) => i.id === itemId)!.fields;
    expect({ code: fields.Code, failures: await failures(name) }).toEqual({ code: 'A1', failures: [] });
  });

  it('a write-back confirmed at once leaves no failure on record', async () => {
    const name = 'wbl_ok';
    const itemId = await setUp(name);
    expect(await runPull(h.ctx, name, { trigger: 'test' })).toMatchObject({
      status: 'SUCCEEDED',
      parkedFailures: 0,
    });
    const fields = (await h.items(name)).find((i) => i.id === itemId)!.fields;
    expect({ code: fields.Code, failures: await failures(name) }).toEqual({ code: 'A1', failures: [] });
  });
});

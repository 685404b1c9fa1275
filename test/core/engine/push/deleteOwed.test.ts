import { runPush } from '../../../../src/core/engine/push';
import { tombstoneTableName } from '../../../../src/core/source/postgres/tombstones';
import { startHarness, type Harness } from '../../../support/engineHarness';
import { pushedTwoProjects } from '../../../support/projects';

/**
 * Review: a push delete found by its tombstone that SharePoint refuses for good (403: the app may not delete the
 * item) is parked, and its tombstone kept. The retry queue backs off (store/failures.ts: "so a permanently bad row
 * does not cost every run"), but the kept tombstone is re-applied by consumeTombstones on every push, ignoring the
 * back-off, and in the same run as the retry of the parked row (push.ts), so one gone row is processed twice.
 */
describe('I8/I10 a delete SharePoint refuses for good (docs/design.md, I8)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  it('is not sent again on every push, and is counted once per run', async () => {
    const name = 'rv_del403';
    await pushedTwoProjects(h, name, { tombstones: true });
    const push = () => runPush(h.ctx, name, { trigger: 'test' });

    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);
    h.emulator.control.injectFault({ method: 'DELETE', count: 1000, status: 403 });
    const runs = [];
    const deletesPerRun: number[] = [];
    for (let i = 0; i < 7; i++) {
      h.emulator.control.clearRequestLog();
      runs.push(await push());
      deletesPerRun.push(h.emulator.control.requestLog().filter((r) => r.method === 'DELETE').length);
    }
    const attempts = (
      await h.db.pool.query(
        `SELECT attempts, next_attempt_at > now() AS backing_off FROM arcore.sync_failures`,
      )
    ).rows;
    expect({
      // one gone row whose delete fails: at most one failure per run
      maxFailed: Math.max(...runs.map((r) => r.failed)),
      // once the retry backs off (attempts > 3), the last runs send no DELETE for it
      lastRunsDeletes: deletesPerRun[5] + deletesPerRun[6],
    }).toEqual({ maxFailed: 1, lastRunsDeletes: 0 });
    // The delete stays owed: parked, backing off.
    expect(attempts).toEqual([expect.objectContaining({ backing_off: true })]);
  });
  it('a refused delete that met a 412 first is not kept as a tombstone, and is sent once per run', async () => {
    const name = 'rv_del412';
    await pushedTwoProjects(h, name, { tombstones: true });
    const push = () => runPush(h.ctx, name, { trigger: 'test' });
    // A SharePoint touch that changes no mapped value moves the item's eTag (no conflict).
    const item = (await h.items(name)).find((i) => i.fields.Title === 'one')!;
    const touch = await h.asUser('PATCH', `/sites/${h.siteId}/lists/${name}/items/${item.id}/fields`, {
      Title: 'one',
    });
    expect(touch.status).toBe(200);
    await h.db.pool.query(`DELETE FROM ${name} WHERE id = 1`);

    // Run 1: stale If-Match -> 412; the delete with the eTag just read is refused (403).
    h.emulator.control.injectFault({ method: 'DELETE', count: 1, status: 412 });
    h.emulator.control.injectFault({ method: 'DELETE', count: 1, status: 403 });
    const first = await push();
    h.emulator.control.clearFaults();
    const tomb = async () =>
      Number((await h.db.pool.query(`SELECT count(*) AS n FROM "${tombstoneTableName(name)}"`)).rows[0].n);
    const parks = async () =>
      Number(
        (
          await h.db.pool
            .query(`SELECT count(*) AS n FROM arcore.sync_failures f JOIN arcore.sync_definitions d ON d.id = f.definition_id
            WHERE f.status = 'PARKED' AND d.name = '${name}'`)
        ).rows[0].n,
      );
    const ledgerETag = (
      await h.db.pool.query(`SELECT sp_etag FROM arcore.sync_ledger WHERE sp_item_id = $1`, [item.id])
    ).rows[0]?.sp_etag;
    const itemETag = (await h.items(name)).find((i) => i.id === item.id)!.eTag;
    const afterFirst = { failed: first.failed, parks: await parks(), tombstones: await tomb() };

    // Run 2 as SharePoint answers it: each resend with the ledger's (stale) eTag meets 412, the fresh one 403.
    h.emulator.control.clearRequestLog();
    for (let i = 0; i < 4; i++)
      h.emulator.control.injectFault({ method: 'DELETE', count: 1, status: i % 2 === 0 ? 412 : 403 });
    const second = await push();
    h.emulator.control.clearFaults();
    const deletes2 = h.emulator.control.requestLog().filter((r) => r.method === 'DELETE').length;

    expect({
      afterFirst,
      secondFailed: second.failed,
      deletes2,
      staleLedgerETag: ledgerETag !== itemETag,
    }).toEqual({
      // docs/design.md I8: parked, its tombstone is not kept (only a MANUAL conflict keeps one)
      afterFirst: { failed: 1, parks: 1, tombstones: 0 },
      // one owed delete: one failure and one If-Match round (412 + resend) per run at most
      secondFailed: 1,
      deletes2: 2,
      staleLedgerETag: true,
    });
  });
});

import { decideTruncate, lsnNames, openTruncates } from '../../../../src/core/capture/lsn';
import { probeIdle } from '../../../../src/core/engine/idle';
import { runPush } from '../../../../src/core/engine/push';
import { getDefinition } from '../../../../src/core/store/definitions';
import { readInstallationId } from '../../../../src/core/store/installation';
import { closeCapturing, lsnDefinition, restartedBecause } from '../../../support/capture';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * docs/design.md I17: what the replication slot cannot show of the table (capture/lsn/storage.ts). With
 * publish_via_partition_root, a TRUNCATE of one partition is not published, and ATTACH, DETACH and DROP of a
 * partition write no row changes; a table taken out of the publication and put back loses the changes made
 * meanwhile without a trace. Each left SharePoint apart from the table for good, the runs saying SUCCEEDED (found by
 * review). The push now compares the table's capture shape with the one recorded when capture started, and reads
 * the table again in full when it changed; a partition change is decided as a TRUNCATE under deletes.truncate.
 * A publication narrowed by a DBA (ALTER PUBLICATION … SET (publish = 'insert'), or a row filter on the table) made
 * pgoutput skip updates, deletes and rows outside the filter, again without a trace, also when set back before the
 * next run (found by review): the shape now holds the publication's and membership row's versions (their xmin), and
 * capture starting again puts the publication back to publishing every change.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  // The cluster is shared with the suite's other files, whose WAL keeps the slot "behind" by more than the default
  // bound at any moment: these probes are about the shape, not the lag (test/core/engine/idle.test.ts covers it).
  h.ctx.idleSlotLagBytes = 1024 ** 3;
});
afterAll(() => closeCapturing(h));

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });
const titles = async (list: string) => (await h.items(list)).map((i) => String(i.fields.Title)).sort();
async function partitioned(name: string, truncate: 'PARK' | 'PROPAGATE' | 'IGNORE'): Promise<void> {
  await h.db.pool.query(`CREATE TABLE ${name} (id integer, region text, name text,
    PRIMARY KEY (id, region)) PARTITION BY LIST (region)`);
  await h.db.pool.query(`CREATE TABLE ${name}_eu PARTITION OF ${name} FOR VALUES IN ('eu')`);
  await h.db.pool.query(`CREATE TABLE ${name}_us PARTITION OF ${name} FOR VALUES IN ('us')`);
  await h.db.pool.query(`INSERT INTO ${name} VALUES (1, 'eu', 'e1'), (2, 'eu', 'e2'), (3, 'us', 'u3')`);
  await h.define({
    name,
    source: { table: name, key: ['id', 'region'], cursor: { type: 'LSN' } },
    target: { site: SITE, list: name },
    fields: [{ source: 'name', target: 'Title' }],
    deletes: { truncate },
  } as never);
  expect(await push(name)).toMatchObject({ status: 'SUCCEEDED', created: 3 });
  // Idle, as a scheduled probe sees it: nothing to do until the partitions change.
  expect((await probeIdle(h.ctx, name))?.busy).toEqual([]);
}

it('a TRUNCATE of one partition under PROPAGATE deletes its rows’ items', async () => {
  await partitioned('shp_trunc', 'PROPAGATE');
  await h.db.pool.query('TRUNCATE shp_trunc_eu');
  expect((await probeIdle(h.ctx, 'shp_trunc'))?.busy).toEqual(['capture shape changed']);
  const run = await push('shp_trunc');
  expect(run).toMatchObject({ status: 'SUCCEEDED', deleted: 2 });
  expect(await restartedBecause(h, run)).toMatch(/partitions changed/);
  expect(await titles('shp_trunc')).toEqual(['u3']);
  expect(await push('shp_trunc')).toMatchObject({ deleted: 0, created: 0, updated: 0 });
  expect((await probeIdle(h.ctx, 'shp_trunc'))?.busy).toEqual([]);
});

it('a TRUNCATE of one partition under PARK is held for truncate-decide, then applied as decided', async () => {
  await partitioned('shp_park', 'PARK');
  await h.db.pool.query('TRUNCATE shp_park_eu');
  expect(await push('shp_park')).toMatchObject({ status: 'SUCCEEDED', deleted: 0 });
  const stored = await getDefinition(h.db.pool, 'shp_park');
  expect(await openTruncates(h.db.pool, stored.id)).toMatchObject([{ decision: null }]);
  expect(await titles('shp_park')).toEqual(['e1', 'e2', 'u3']);
  // Pushes meanwhile hold it, once.
  expect(await push('shp_park')).toMatchObject({ status: 'SUCCEEDED', deleted: 0 });
  expect(await openTruncates(h.db.pool, stored.id)).toHaveLength(1);
  await decideTruncate(h.db.pool, stored.id, 'shp_park', 'PROPAGATE', 'test');
  expect(await push('shp_park')).toMatchObject({ status: 'SUCCEEDED', deleted: 2 });
  expect(await titles('shp_park')).toEqual(['u3']);
  expect(await openTruncates(h.db.pool, stored.id)).toEqual([]);
});

it('a partition detached under IGNORE keeps its rows’ items; a partition attached is pushed', async () => {
  await partitioned('shp_move', 'IGNORE');
  await h.db.pool.query('ALTER TABLE shp_move DETACH PARTITION shp_move_eu');
  await push('shp_move');
  expect(await titles('shp_move')).toEqual(['e1', 'e2', 'u3']);
  await h.db.pool.query(
    `CREATE TABLE shp_move_asia (id integer, region text, name text, PRIMARY KEY (id, region))`,
  );
  await h.db.pool.query(`INSERT INTO shp_move_asia VALUES (7, 'asia', 'a7')`);
  await h.db.pool.query(`ALTER TABLE shp_move ATTACH PARTITION shp_move_asia FOR VALUES IN ('asia')`);
  expect(await push('shp_move')).toMatchObject({ status: 'SUCCEEDED', created: 1 });
  expect(await titles('shp_move')).toEqual(['a7', 'e1', 'e2', 'u3']);
});

it('a table taken out of the publication and put back is read again: the changes made meanwhile reach SharePoint', async () => {
  await h.db.pool.query(`CREATE TABLE shp_pub (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
  await h.db.pool.query(`INSERT INTO shp_pub VALUES (1, 'a', 1), (2, 'b', 2)`);
  await h.define(lsnDefinition('shp_pub'));
  await push('shp_pub');
  const stored = await getDefinition(h.db.pool, 'shp_pub');
  const { publication } = lsnNames(await readInstallationId(h.db.pool), stored.id, 'shp_pub');
  await h.db.pool.query(`ALTER PUBLICATION "${publication}" DROP TABLE shp_pub`);
  await h.db.pool.query(`UPDATE shp_pub SET name = 'a2' WHERE id = 1`);
  await h.db.pool.query(`DELETE FROM shp_pub WHERE id = 2`);
  await h.db.pool.query(`ALTER PUBLICATION "${publication}" ADD TABLE shp_pub`);
  const run = await push('shp_pub');
  expect(run).toMatchObject({ status: 'SUCCEEDED', updated: 1, deleted: 1 });
  expect(await restartedBecause(h, run)).toMatch(/publication changed/);
  expect(await titles('shp_pub')).toEqual(['a2']);
  // A plain table rewritten in place (VACUUM FULL gives it a new file) is no change of shape.
  await h.db.pool.query('VACUUM FULL shp_pub');
  expect((await probeIdle(h.ctx, 'shp_pub'))?.busy).toEqual([]);
  expect(await push('shp_pub')).toMatchObject({ status: 'SUCCEEDED', updated: 0, created: 0, deleted: 0 });
});

/** The table `name` (rows 1 'a' and 2 'b') captured and pushed; its publication's name. */
async function publishedTable(name: string): Promise<string> {
  await h.db.pool.query(`CREATE TABLE ${name} (id integer PRIMARY KEY, name text, budget numeric(12,2))`);
  await h.db.pool.query(`INSERT INTO ${name} VALUES (1, 'a', 1), (2, 'b', 2)`);
  await h.define(lsnDefinition(name));
  expect(await push(name)).toMatchObject({ status: 'SUCCEEDED', created: 2 });
  const stored = await getDefinition(h.db.pool, name);
  return lsnNames(await readInstallationId(h.db.pool), stored.id, name).publication;
}

it('updates and deletes made while the publication published inserts only reach SharePoint, also once it is set back', async () => {
  const narrowed = await publishedTable('shp_narrow');
  await h.db.pool.query(`ALTER PUBLICATION "${narrowed}" SET (publish = 'insert')`);
  await h.db.pool.query(`UPDATE shp_narrow SET name = 'a2' WHERE id = 1`);
  await h.db.pool.query(`DELETE FROM shp_narrow WHERE id = 2`);
  await h.db.pool.query(`INSERT INTO shp_narrow VALUES (3, 'c', 3)`);
  expect((await probeIdle(h.ctx, 'shp_narrow'))?.busy).toContain('capture shape changed');
  const run = await push('shp_narrow');
  expect(run).toMatchObject({ status: 'SUCCEEDED', created: 1, updated: 1, deleted: 1 });
  expect(await restartedBecause(h, run)).toMatch(/publication changed/);
  expect(await titles('shp_narrow')).toEqual(['a2', 'c']);
  // Put back to publishing every change: an update now reaches the slot.
  await h.db.pool.query(`UPDATE shp_narrow SET name = 'c2' WHERE id = 3`);
  expect(await push('shp_narrow')).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
  expect(await titles('shp_narrow')).toEqual(['a2', 'c2']);

  // Narrowed and set back between two runs: the changes made meanwhile are not in the slot either.
  const blip = await publishedTable('shp_blip');
  await h.db.pool.query(`ALTER PUBLICATION "${blip}" SET (publish = 'insert')`);
  await h.db.pool.query(`UPDATE shp_blip SET name = 'a2' WHERE id = 1`);
  await h.db.pool.query(`DELETE FROM shp_blip WHERE id = 2`);
  await h.db.pool.query(`ALTER PUBLICATION "${blip}" SET (publish = 'insert, update, delete, truncate')`);
  expect(await push('shp_blip')).toMatchObject({ status: 'SUCCEEDED', updated: 1, deleted: 1 });
  expect(await titles('shp_blip')).toEqual(['a2']);
});

it('rows outside a row filter set on the publication reach SharePoint: the filter is taken off', async () => {
  const publication = await publishedTable('shp_filter');
  await h.db.pool.query(`ALTER PUBLICATION "${publication}" SET TABLE shp_filter WHERE (id < 100)`);
  await h.db.pool.query(`INSERT INTO shp_filter VALUES (200, 'far', 1)`);
  expect(await push('shp_filter')).toMatchObject({ status: 'SUCCEEDED', created: 1 });
  await h.db.pool.query(`INSERT INTO shp_filter VALUES (300, 'farther', 1)`);
  expect(await push('shp_filter')).toMatchObject({ status: 'SUCCEEDED', created: 1 });
  expect(await titles('shp_filter')).toEqual(['a', 'b', 'far', 'farther']);
});

it('a shape recorded before the publication’s versions were part of it is recorded again, not read as a change', async () => {
  await publishedTable('shp_older');
  const stored = await getDefinition(h.db.pool, 'shp_older');
  await h.db.pool.query(
    `UPDATE arcore.sync_cursors SET capture_shape = split_part(capture_shape, '@', 1)
      WHERE definition_id = $1 AND cursor_type = 'LSN'`,
    [stored.id],
  );
  await h.db.pool.query(`UPDATE shp_older SET name = 'a2' WHERE id = 1`);
  const run = await push('shp_older');
  expect(run).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
  expect(await restartedBecause(h, run)).toBeNull();
  expect((await probeIdle(h.ctx, 'shp_older'))?.busy).toEqual([]);
});

import { runPush } from '../../../../src/core/engine/push';
import { lsnNames } from '../../../../src/core/capture/lsn';
import { getDefinition } from '../../../../src/core/store/definitions';
import { readInstallationId } from '../../../../src/core/store/installation';
import { closeCapturing, restartedBecause } from '../../../support/capture';
import { SITE, startHarness, type Harness } from '../../../support/engineHarness';

/**
 * docs/design.md I17: "The table's replica identity must contain the key (checked before publishing)". It is checked only when
 * capture starts. A table keyed for sync by a unique column other than its primary key is published with
 * REPLICA IDENTITY FULL, as the refusal tells the user to do; a DBA later sets it back to DEFAULT (FULL logs
 * whole old rows). From then on an UPDATE of the sync key carries no old key in WAL (the primary key did not
 * change), so the push creates an item for the new key and never deletes the old key's item.
 * The same from the start on a partitioned table: assertReplicaIdentity reads the root's identity only, and
 * ALTER TABLE … REPLICA IDENTITY FULL on a partitioned table (what the refusal tells the user to run) does not reach
 * its partitions, whose changes are decoded with their own identity (DEFAULT: the primary key only).
 * Now the identity (every partition's) is checked on every push, and an UPDATE decoded under an identity without
 * the key is compared with the ledger (its old key may have changed).
 * On PostgreSQL 18 a published table whose replica identity holds a generated column refuses every UPDATE and DELETE
 * unless the publication publishes generated columns: a table with one, made REPLICA IDENTITY FULL as the refusal
 * says, stopped taking the application's own updates once the push published it (found by review). The publication
 * now publishes stored generated columns (which also lets one be the sync key).
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => closeCapturing(h));

const push = (name: string) => runPush(h.ctx, name, { trigger: 'test' });

it('a key update after the replica identity lost the key does not leave the old key’s item behind', async () => {
  await h.db.pool.query(`CREATE TABLE coded (id serial PRIMARY KEY, code text NOT NULL UNIQUE, name text)`);
  await h.db.pool.query('ALTER TABLE coded REPLICA IDENTITY FULL');
  await h.db.pool.query(`INSERT INTO coded (code, name) VALUES ('A', 'alpha'), ('B', 'beta')`);
  await h.define({
    name: 'coded',
    source: { table: 'coded', key: ['code'], cursor: { type: 'LSN' } },
    target: { site: SITE, list: 'coded' },
    fields: [{ source: 'name', target: 'Title' }],
  });
  expect(await push('coded')).toMatchObject({ status: 'SUCCEEDED', created: 2 });

  await h.db.pool.query('ALTER TABLE coded REPLICA IDENTITY DEFAULT');
  await h.db.pool.query(`UPDATE coded SET code = 'A2' WHERE code = 'A'`);
  // Refused before the slot moves, naming the fix; the change stays in the slot.
  const refused = await push('coded');
  expect(refused.status).toBe('FAILED');
  expect(refused.error).toContain('ALTER TABLE "public"."coded" REPLICA IDENTITY FULL;');
  expect(refused.error).toContain('reset-cursor coded --scope source');
  // Restored: the update decoded under DEFAULT (no old key) is compared with the ledger, so the old item goes.
  await h.db.pool.query('ALTER TABLE coded REPLICA IDENTITY FULL');
  expect(await push('coded')).toMatchObject({ status: 'SUCCEEDED', created: 1, deleted: 1 });
  expect((await h.items('coded')).map((i) => String(i.fields.Title)).sort()).toEqual(['alpha', 'beta']);
});

it('a partitioned table made REPLICA IDENTITY FULL as the refusal says: a key update leaves no old item behind', async () => {
  // A unique key of a partitioned table holds its partition key; the sync key is not the primary key.
  await h.db.pool.query(`CREATE TABLE parted (id integer, region text, code text NOT NULL, name text,
    PRIMARY KEY (id, region), UNIQUE (code, region)) PARTITION BY LIST (region)`);
  await h.db.pool.query(`CREATE TABLE parted_eu PARTITION OF parted FOR VALUES IN ('eu')`);
  await h.db.pool.query(`INSERT INTO parted VALUES (1, 'eu', 'A', 'alpha'), (2, 'eu', 'B', 'beta')`);
  await h.define({
    name: 'parted',
    source: { table: 'parted', key: ['code', 'region'], cursor: { type: 'LSN' } },
    target: { site: SITE, list: 'parted' },
    fields: [{ source: 'name', target: 'Title' }],
  });
  const refused = await push('parted');
  expect(refused.error).toContain('ALTER TABLE "public"."parted" REPLICA IDENTITY FULL;');
  expect(refused.error).toContain('ALTER TABLE "public"."parted_eu" REPLICA IDENTITY FULL;');
  // The user runs it on the partitioned table only: it does not reach the partition, and the push says so.
  await h.db.pool.query('ALTER TABLE parted REPLICA IDENTITY FULL');
  const again = await push('parted');
  expect(again.error).toContain('public.parted_eu does not contain the key');
  expect(again.error).not.toContain('ALTER TABLE "public"."parted" REPLICA');
  await h.db.pool.query('ALTER TABLE parted_eu REPLICA IDENTITY FULL');
  expect(await push('parted')).toMatchObject({ status: 'SUCCEEDED', created: 2 });

  await h.db.pool.query(`UPDATE parted SET code = 'A2' WHERE code = 'A'`);
  expect(await push('parted')).toMatchObject({ status: 'SUCCEEDED', created: 1, deleted: 1 });
  expect((await h.items('parted')).map((i) => String(i.fields.Title)).sort()).toEqual(['alpha', 'beta']);
});

it('a REPLICA IDENTITY FULL table with a generated column, published, still takes the application’s updates and deletes', async () => {
  await h.db.pool.query(`CREATE TABLE generated_code (id integer PRIMARY KEY,
    code text GENERATED ALWAYS AS ('C' || id) STORED UNIQUE, name text)`);
  await h.db.pool.query(`INSERT INTO generated_code (id, name) VALUES (1, 'a'), (2, 'b')`);
  await h.define({
    name: 'generated_code',
    source: { table: 'generated_code', key: ['code'], cursor: { type: 'LSN' } },
    target: { site: SITE, list: 'generated_code' },
    fields: [{ source: 'name', target: 'Title' }],
  });
  expect((await push('generated_code')).error).toContain('REPLICA IDENTITY FULL;');
  await h.db.pool.query('ALTER TABLE generated_code REPLICA IDENTITY FULL');
  expect(await push('generated_code')).toMatchObject({ status: 'SUCCEEDED', created: 2 });
  // The application goes on editing its table; the generated key reaches the slot.
  await h.db.pool.query(`UPDATE generated_code SET name = 'a2' WHERE id = 1`);
  await h.db.pool.query(`DELETE FROM generated_code WHERE id = 2`);
  await h.db.pool.query(`INSERT INTO generated_code (id, name) VALUES (3, 'c')`);
  expect(await push('generated_code')).toMatchObject({
    status: 'SUCCEEDED',
    created: 1,
    updated: 1,
    deleted: 1,
  });
  expect((await h.items('generated_code')).map((i) => String(i.fields.Title)).sort()).toEqual(['a2', 'c']);
});

it('a publication made before it published generated columns is set to, once, on the first push after the upgrade', async () => {
  await h.db.pool.query(`CREATE TABLE upgraded (id integer PRIMARY KEY, name text)`);
  await h.db.pool.query('ALTER TABLE upgraded REPLICA IDENTITY FULL');
  await h.db.pool.query(`INSERT INTO upgraded VALUES (1, 'a')`);
  await h.define({
    name: 'upgraded',
    source: { table: 'upgraded', key: ['id'], cursor: { type: 'LSN' } },
    target: { site: SITE, list: 'upgraded' },
    fields: [{ source: 'name', target: 'Title' }],
  });
  expect(await push('upgraded')).toMatchObject({ status: 'SUCCEEDED', created: 1 });
  // As an older version left it: the publication without generated columns, the shape in its older form.
  const stored = await getDefinition(h.db.pool, 'upgraded');
  const { publication } = lsnNames(await readInstallationId(h.db.pool), stored.id, 'upgraded');
  await h.db.pool.query(`ALTER PUBLICATION "${publication}" SET (publish_generated_columns = none)`);
  await h.db.pool.query(
    `UPDATE arcore.sync_cursors SET capture_shape = split_part(capture_shape, '@', 1)
      WHERE definition_id = $1 AND cursor_type = 'LSN'`,
    [stored.id],
  );
  await h.db.pool.query(`UPDATE upgraded SET name = 'a2' WHERE id = 1`);
  const run = await push('upgraded');
  expect(run).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
  expect(await restartedBecause(h, run)).toBeNull();
  // A generated column added later no longer stops the application's updates.
  await h.db.pool.query(`ALTER TABLE upgraded ADD COLUMN code text GENERATED ALWAYS AS ('C' || id) STORED`);
  await h.db.pool.query(`UPDATE upgraded SET name = 'a3' WHERE id = 1`);
  expect(await push('upgraded')).toMatchObject({ status: 'SUCCEEDED', updated: 1 });
});

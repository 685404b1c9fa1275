import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';
import { createPool } from '../../../src/core/db/pool';
import { parseDefinitionsFile } from '../../../src/core/definition/parse';
import type { SyncDefinition } from '../../../src/core/definition/schema';
import { validateAgainstDatabase } from '../../../src/core/definition/validateLive';
import { lsnReadinessProblems } from '../../../src/core/definition/validateLsn';
import { readReplicaIdentity } from '../../../src/core/source/postgres/replicaIdentity';
import { readReplicationAccess } from '../../../src/core/source/postgres/replicationAccess';
import { freshDatabase, type TestDatabase } from '../../support/db';
import { exampleFile } from './schema.test';

/** An LSN definition of `table` keyed by `key`. */
function lsnDefinition(table: string, key: string[] = ['id']): SyncDefinition {
  const copy = structuredClone(exampleFile) as { definitions: Record<string, unknown>[] };
  copy.definitions[0].source = { table, key, cursor: { type: 'LSN' } };
  copy.definitions[0].fields = [{ source: 'name', target: 'Title' }];
  return parseDefinitionsFile(copy).definitions[0];
}

const suffix = randomBytes(4).toString('hex');
/** Cluster-wide: unique per run, dropped in afterAll. */
const plainRole = `arcore_norepl_${suffix}`;
const password = randomBytes(12).toString('hex');

let db: TestDatabase;
let plain: Pool;

beforeAll(async () => {
  db = await freshDatabase();
  await db.pool.query(`
    CREATE TABLE with_pk (id int PRIMARY KEY, name text);
    CREATE TABLE no_identity (id int PRIMARY KEY, name text);
    ALTER TABLE no_identity REPLICA IDENTITY NOTHING;
    CREATE TABLE by_code (id serial, code text NOT NULL, region text NOT NULL, name text);
    CREATE UNIQUE INDEX by_code_region ON by_code (region, code);
    CREATE TABLE bare (code text, name text);
    CREATE TABLE full_identity (code text, name text);
    ALTER TABLE full_identity REPLICA IDENTITY FULL;
    CREATE TABLE pk_on_id (id int PRIMARY KEY, region text NOT NULL, name text);
    CREATE VIEW with_pk_view AS SELECT * FROM with_pk;
    CREATE TABLE parted (id int PRIMARY KEY, name text) PARTITION BY RANGE (id);
    CREATE TABLE parted_a PARTITION OF parted FOR VALUES FROM (0) TO (100);
    CREATE TABLE parted_b PARTITION OF parted FOR VALUES FROM (100) TO (200);
    CREATE TABLE parted_c PARTITION OF parted FOR VALUES FROM (200) TO (300) PARTITION BY RANGE (id);
    CREATE TABLE parted_c1 PARTITION OF parted_c FOR VALUES FROM (200) TO (300);
    CREATE TABLE parted_code (code text NOT NULL, name text) PARTITION BY LIST (code);
    CREATE TABLE parted_code_x PARTITION OF parted_code FOR VALUES IN ('x');
    ALTER TABLE parted_code REPLICA IDENTITY FULL;
    CREATE ROLE ${plainRole} LOGIN PASSWORD '${password}';
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${plainRole};
  `);
  const url = new URL(db.url);
  url.username = plainRole;
  url.password = password;
  plain = createPool({ connectionString: url.toString(), auth: 'password', max: 2 });
});

afterAll(async () => {
  await plain.end();
  await db.drop();
  const admin = createPool({ connectionString: process.env.ARCORE_TEST_ADMIN_URL ?? '', auth: 'password' });
  try {
    await admin.query(`DROP ROLE IF EXISTS ${plainRole}`);
  } finally {
    await admin.end();
  }
});

const messages = (r: { errors: { path: string; message: string }[] }) =>
  r.errors.map((e) => `${e.path}: ${e.message}`);

describe('validate: an LSN definition needs a replica identity holding its key', () => {
  it('accepts a table whose primary key is the key (REPLICA IDENTITY DEFAULT), as a superuser on wal_level=logical', async () => {
    const report = await validateAgainstDatabase(lsnDefinition('with_pk'), db.pool);
    expect(report.errors).toEqual([]);
  });

  it('refuses REPLICA IDENTITY NOTHING and prints the ALTER TABLE that restores the primary key as identity', async () => {
    const report = await validateAgainstDatabase(lsnDefinition('no_identity'), db.pool);
    expect(messages(report)).toEqual([
      'source.key: the replica identity of "public"."no_identity" is NOTHING (no column): it does not contain key ' +
        '[id], so a captured delete or key change cannot name its row. Run: ALTER TABLE "public"."no_identity" ' +
        'REPLICA IDENTITY DEFAULT; (until then, UPDATE and DELETE on the table fail once it is published)',
    ]);
  });

  it('names the unique index to use when the key is not the primary key, and the fix then passes', async () => {
    const def = lsnDefinition('by_code', ['region', 'code']);
    const report = await validateAgainstDatabase(def, db.pool);
    const fix = 'ALTER TABLE "public"."by_code" REPLICA IDENTITY USING INDEX "by_code_region";';
    expect(messages(report)).toEqual([
      `source.key: the replica identity of "public"."by_code" is DEFAULT without a primary key (no column): it ` +
        `does not contain key [region, code], so a captured delete or key change cannot name its row. Run: ${fix} ` +
        '(until then, UPDATE and DELETE on the table fail once it is published)',
    ]);
    await db.pool.query(fix);
    expect((await validateAgainstDatabase(def, db.pool)).errors).toEqual([]);
  });

  it('asks for FULL when no unique index holds the key, and accepts FULL', async () => {
    const bare = await validateAgainstDatabase(lsnDefinition('bare', ['code']), db.pool);
    expect(messages(bare).join('\n')).toContain('Run: ALTER TABLE "public"."bare" REPLICA IDENTITY FULL;');
    // The key check (I13) still asks for a unique index; the identity check is satisfied by FULL.
    const full = await validateAgainstDatabase(lsnDefinition('full_identity', ['code']), db.pool);
    expect(messages(full).filter((m) => m.includes('replica identity'))).toEqual([]);
  });

  it('refuses a primary key that holds only part of a composite key (deletes would lose the rest)', async () => {
    const report = await validateAgainstDatabase(lsnDefinition('pk_on_id', ['region', 'id']), db.pool);
    expect(messages(report).join('\n')).toContain(
      'is DEFAULT (primary key "pk_on_id_pkey": id): it does not contain key [region, id]',
    );
    expect(messages(report).join('\n')).toContain('REPLICA IDENTITY FULL;');
  });

  it('checks every partition of a partitioned table, names those lacking and the ALTER TABLE each needs', async () => {
    const def = lsnDefinition('parted');
    expect((await validateAgainstDatabase(def, db.pool)).errors).toEqual([]);
    // The root's identity does not reach its partitions: each has its own (relreplident).
    await db.pool.query(
      'ALTER TABLE parted_b REPLICA IDENTITY NOTHING; ALTER TABLE parted_c1 REPLICA IDENTITY NOTHING',
    );
    expect(messages(await validateAgainstDatabase(def, db.pool))).toEqual([
      'source.key: partitions of "public"."parted" have a replica identity that does not contain key [id], so a ' +
        'captured delete or key change in them cannot name its row (each partition has its own; ALTER TABLE … ' +
        'REPLICA IDENTITY on "public"."parted" does not reach them): "public"."parted_b" is NOTHING (no column), ' +
        '"public"."parted_c1" is NOTHING (no column). Run: ALTER TABLE "public"."parted_b" REPLICA IDENTITY DEFAULT; ' +
        'ALTER TABLE "public"."parted_c1" REPLICA IDENTITY DEFAULT; (until then, UPDATE and DELETE on them fail once ' +
        'the table is published)',
    ]);
    await db.pool.query(
      'ALTER TABLE parted_b REPLICA IDENTITY DEFAULT; ALTER TABLE parted_c1 REPLICA IDENTITY DEFAULT',
    );
    expect((await validateAgainstDatabase(def, db.pool)).errors).toEqual([]);
  });

  it('names the partitions of a root set to FULL, which still have none of their own', async () => {
    const report = await validateAgainstDatabase(lsnDefinition('parted_code', ['code']), db.pool);
    expect(messages(report).filter((m) => m.includes('replica identity'))).toEqual([
      expect.stringContaining(
        '"public"."parted_code_x" is DEFAULT without a primary key (no column). Run: ALTER TABLE ' +
          '"public"."parted_code_x" REPLICA IDENTITY FULL;',
      ) as string,
    ]);
  });

  it('refuses LSN on a view', async () => {
    const report = await validateAgainstDatabase(lsnDefinition('with_pk_view'), db.pool);
    expect(messages(report).join('\n')).toMatch(
      /^source\.cursor\.type: "public\.with_pk_view" is not a table: source\.cursor\.type "LSN" captures changes of tables only/m,
    );
  });
});

describe('validate: the role and server an LSN definition needs', () => {
  it('names the ALTER ROLE, GRANT and ALTER TABLE a role without REPLICATION, CREATE or ownership needs', async () => {
    const report = await validateAgainstDatabase(lsnDefinition('with_pk'), plain);
    const database = new URL(db.url).pathname.slice(1);
    expect(messages(report)).toEqual([
      `source.connection: role "${plainRole}" lacks the REPLICATION attribute, which creating and reading a ` +
        `replication slot needs. Run as a superuser (on Azure, the server's Microsoft Entra administrator): ` +
        `ALTER ROLE "${plainRole}" WITH REPLICATION; (scripts/create-postgres-role.sh does it)`,
      `source.connection: role "${plainRole}" may not create the definition's publication in database ` +
        `"${database}". Run: GRANT CREATE ON DATABASE "${database}" TO "${plainRole}";`,
      `source.connection: role "${plainRole}" does not own "public"."with_pk" (its owner is "postgres"), and only a ` +
        `table's owner may add it to a publication. Run as "postgres": ALTER TABLE "public"."with_pk" OWNER TO ` +
        `"${plainRole}"; (on Azure: POSTGRES_CDC_TABLES=public.with_pk scripts/create-postgres-role.sh)`,
    ]);
  });

  it('counts a publication the role already owns as ready, and names the owner of one it does not', async () => {
    const publication = `arcore_validate_${suffix}`;
    await db.pool.query(`CREATE PUBLICATION ${publication} FOR TABLE with_pk`);
    try {
      const def = lsnDefinition('with_pk');
      expect((await validateAgainstDatabase(def, db.pool, [], publication)).errors).toEqual([]);
      const report = await validateAgainstDatabase(def, plain, [], publication);
      expect(messages(report)).toContain(
        `source.connection: publication "${publication}" belongs to "postgres", so role "${plainRole}" cannot ` +
          `change or drop it. Run as its owner: ALTER PUBLICATION "${publication}" OWNER TO "${plainRole}";`,
      );
      expect(messages(report).some((m) => m.includes('does not own'))).toBe(false);
    } finally {
      await db.pool.query(`DROP PUBLICATION ${publication}`);
    }
  });

  it('says how to set wal_level to logical, on Azure too, when the server runs another level', async () => {
    const def = lsnDefinition('with_pk');
    const identity = await readReplicaIdentity(db.pool, 'public', 'with_pk');
    const access = await readReplicationAccess(db.pool, 'public', 'with_pk', '');
    expect(access?.walLevel).toBe('logical');
    // The shared test server runs logical decoding; the message for another level is checked on its figures.
    const problems = lsnReadinessProblems(def, identity!, { ...access!, walLevel: 'replica' }, undefined);
    expect(problems).toEqual([
      {
        path: 'source.cursor.type',
        message: expect.stringContaining(
          'wal_level is "replica" on the source server; change data capture needs "logical". self-managed: ' +
            'ALTER SYSTEM SET wal_level = logical; then restart Postgres. Azure Database for PostgreSQL flexible ' +
            'server: az postgres flexible-server parameter set --resource-group <group> --server-name <server> ' +
            '--name wal_level --value logical, then az postgres flexible-server restart',
        ) as string,
      },
    ]);
  });
});

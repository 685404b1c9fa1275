import type { Pool } from 'pg';
import {
  describeReplicaIdentity,
  identityColumns,
  readPartitionIdentities,
  readReplicaIdentity,
  replicaIdentityFix,
  type PartitionIdentity,
  type ReplicaIdentityInfo,
} from '../source/postgres/replicaIdentity';
import { readReplicationAccess, type ReplicationAccess } from '../source/postgres/replicationAccess';
import type { SyncDefinition } from './schema';

/** One problem found, at a definition path. */
export interface LsnProblem {
  path: string;
  message: string;
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** How to turn on logical decoding, self-managed and on Azure (where the setting is a server parameter). */
export const WAL_LEVEL_FIX =
  'self-managed: ALTER SYSTEM SET wal_level = logical; then restart Postgres. Azure Database for PostgreSQL ' +
  'flexible server: az postgres flexible-server parameter set --resource-group <group> --server-name <server> ' +
  '--name wal_level --value logical, then az postgres flexible-server restart --resource-group <group> --name ' +
  '<server> (the template in infra/ sets it, and scripts/create-postgres-role.sh restarts the server when needed)';

/**
 * What an LSN definition needs from its table and server before its first run, each problem with the statement
 * that fixes it: a replica identity holding the key (a captured delete names its row by it), on the table and on
 * each of its partitions (`partitions`, as the push checks them: assertReplicaIdentity), wal_level logical, a role
 * with REPLICATION (slots) that may create and own the definition's publication. Pure: the live half is
 * checkLsnReadiness.
 */
export function lsnReadinessProblems(
  def: SyncDefinition,
  identity: ReplicaIdentityInfo,
  access: ReplicationAccess,
  publication: string | undefined,
  partitions: PartitionIdentity[] = [],
): LsnProblem[] {
  const problems: LsnProblem[] = [];
  const { schema, table, key } = def.source;
  const qualified = `${quote(schema)}.${quote(table)}`;
  const role = quote(access.role);
  const fix = replicaIdentityFix(identity, schema, table, key);
  if (fix) {
    const none = identityColumns(identity).length === 0;
    problems.push({
      path: 'source.key',
      message:
        `the replica identity of ${qualified} is ${describeReplicaIdentity(identity)}: it does not contain key ` +
        `[${key.join(', ')}], so a captured delete or key change cannot name its row. Run: ${fix}` +
        (none ? ' (until then, UPDATE and DELETE on the table fail once it is published)' : ''),
    });
  }
  const lacking = partitions
    .map((p) => ({ ...p, fix: replicaIdentityFix(p.identity, p.schema, p.table, key) }))
    .filter((p): p is PartitionIdentity & { fix: string } => p.fix !== null);
  if (lacking.length > 0) {
    const none = lacking.some((p) => identityColumns(p.identity).length === 0);
    problems.push({
      path: 'source.key',
      message:
        `partitions of ${qualified} have a replica identity that does not contain key [${key.join(', ')}], so a ` +
        'captured delete or key change in them cannot name its row (each partition has its own; ALTER TABLE … ' +
        `REPLICA IDENTITY on ${qualified} does not reach them): ` +
        lacking
          .map((p) => `${quote(p.schema)}.${quote(p.table)} is ${describeReplicaIdentity(p.identity)}`)
          .join(', ') +
        `. Run: ${lacking.map((p) => p.fix).join(' ')}` +
        (none ? ' (until then, UPDATE and DELETE on them fail once the table is published)' : ''),
    });
  }
  if (access.walLevel !== 'logical') {
    problems.push({
      path: 'source.cursor.type',
      message: `wal_level is "${access.walLevel}" on the source server; change data capture needs "logical". ${WAL_LEVEL_FIX}`,
    });
  }
  if (!access.canReplicate) {
    problems.push({
      path: 'source.connection',
      message:
        `role ${role} lacks the REPLICATION attribute, which creating and reading a replication slot needs. Run as a ` +
        `superuser (on Azure, the server's Microsoft Entra administrator): ALTER ROLE ${role} WITH REPLICATION; ` +
        '(scripts/create-postgres-role.sh does it)',
    });
  }
  if (access.publication) {
    if (!access.publication.owned) {
      problems.push({
        path: 'source.connection',
        message:
          `publication ${quote(publication ?? '')} belongs to ${quote(access.publication.owner)}, so role ${role} ` +
          `cannot change or drop it. Run as its owner: ALTER PUBLICATION ${quote(publication ?? '')} OWNER TO ${role};`,
      });
    }
    return problems;
  }
  if (!access.canCreatePublication) {
    problems.push({
      path: 'source.connection',
      message:
        `role ${role} may not create the definition's publication in database ${quote(access.database)}. Run: ` +
        `GRANT CREATE ON DATABASE ${quote(access.database)} TO ${role};`,
    });
  }
  if (!access.ownsTable) {
    problems.push({
      path: 'source.connection',
      message:
        `role ${role} does not own ${qualified} (its owner is ${quote(access.tableOwner)}), and only a table's owner ` +
        `may add it to a publication. Run as ${quote(access.tableOwner)}: ALTER TABLE ${qualified} OWNER TO ${role}; ` +
        `(on Azure: POSTGRES_CDC_TABLES=${schema}.${table} scripts/create-postgres-role.sh)`,
    });
  }
  return problems;
}

/**
 * The live check of an LSN definition's table (which must exist and be a table). `publication`: the
 * definition's publication name when it is known (a saved definition), so that one created earlier counts.
 */
export async function checkLsnReadiness(
  def: SyncDefinition,
  pool: Pool,
  publication?: string,
): Promise<LsnProblem[]> {
  const { schema, table } = def.source;
  const [identity, access, partitions] = await Promise.all([
    readReplicaIdentity(pool, schema, table),
    readReplicationAccess(pool, schema, table, publication ?? ''),
    readPartitionIdentities(pool, schema, table),
  ]);
  if (!identity || !access) return [];
  return lsnReadinessProblems(def, identity, access, publication, partitions);
}

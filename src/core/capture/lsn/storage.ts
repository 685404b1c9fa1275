/**
 * What the slot cannot show of an LSN definition's table, read from the catalog:
 *
 * - its storage: the file of the table, or of each leaf partition of a partitioned one (`pg_relation_filenode`).
 *   TRUNCATE gives a relation a new file (so do VACUUM FULL, CLUSTER and rewriting ALTERs); ATTACH and DETACH
 *   change the set of leaves. The comparison that ends a load checks it did not change under it (truncates.ts).
 * - its capture shape: the publication's membership row for the table (`pg_publication_rel`, whose oid is new each
 *   time the table is added again), and for a partitioned table its leaves' storage. A table taken out of the
 *   publication and put back lost every change made meanwhile (pgoutput decodes with the catalog of the time and
 *   skips them without a trace); with `publish_via_partition_root`, a TRUNCATE of one partition is not published at
 *   all, and ATTACH, DETACH and DROP of a partition write no row changes. A shape that differs from the one recorded
 *   when capture started makes the push read the table again in full (push.ts).
 */
import type { Pool } from 'pg';
import { quoteIdent } from '../../source/postgres/PostgresSource';

/** SQL of a partitioned table's leaves with their files, `<oid>:<file>,…` in oid order (null for any other table). */
function leavesSql(qualified: string): string {
  return `(SELECT string_agg(t.relid::oid::text || ':' || pg_relation_filenode(t.relid)::text, ',' ORDER BY t.relid::oid)
     FROM pg_partition_tree(to_regclass(${qualified})) t
    WHERE t.isleaf AND (SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(${qualified})) = 'p')`;
}

/** SQL of the table's storage: its file, or its leaves' (leavesSql); '' when the table is gone. */
export function storageSql(qualified: string): string {
  return `coalesce((SELECT pg_relation_filenode(c.oid)::text FROM pg_class c
                     WHERE c.oid = to_regclass(${qualified}) AND c.relkind <> 'p'), ${leavesSql(qualified)}, '')`;
}

/**
 * SQL of the capture shape: `pub:<oid of the membership row>@<xmin of the publication's row>.<xmin of the membership
 * row>` (or `pub:-`), then for a partitioned table `;parts:<leaves>` (leavesSql). A table that is not partitioned
 * keeps its file out of it: its TRUNCATE is in the slot, and VACUUM FULL would otherwise read as a change. The xmins
 * change with every ALTER PUBLICATION of the publication's settings (`publish`, `publish_via_partition_root`) and of
 * the table's row filter or column list, also one undone before the next run: pgoutput skipped the changes it
 * excluded meanwhile without a trace (a rename or owner change reads as a change too, and costs a re-read).
 */
export function shapeSql(publication: string, qualified: string): string {
  return `('pub:' || coalesce((SELECT pr.oid::text || '@' || pb.xmin::text || '.' || pr.xmin::text
                  FROM pg_publication_rel pr JOIN pg_publication pb ON pb.oid = pr.prpubid
                 WHERE pb.pubname = ${publication} AND pr.prrelid = to_regclass(${qualified})), '-')
    || coalesce(';parts:' || ${leavesSql(qualified)}, ''))`;
}

/**
 * A shape recorded before the publication's settings were part of it (`pub:<oid>`, without `@`) that names the
 * membership row and partitions there are now: recorded again in the current form rather than taken for a change.
 */
export function olderShapeForm(recorded: string, now: string): boolean {
  const [pub, ...parts] = recorded.split(';');
  const [nowPub, ...nowParts] = now.split(';');
  return (
    pub !== 'pub:-' &&
    !pub.includes('@') &&
    nowPub.split('@')[0] === pub &&
    parts.join(';') === nowParts.join(';')
  );
}

export function qualifiedName(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

export async function readStorage(pool: Pool, schema: string, table: string): Promise<string> {
  const { rows } = await pool.query<{ s: string }>(`SELECT ${storageSql('$1')} AS s`, [
    qualifiedName(schema, table),
  ]);
  return rows[0].s;
}

export async function readShape(
  pool: Pool,
  publication: string,
  schema: string,
  table: string,
): Promise<string> {
  const { rows } = await pool.query<{ s: string }>(`SELECT ${shapeSql('$1', '$2')} AS s`, [
    publication,
    qualifiedName(schema, table),
  ]);
  return rows[0].s;
}

/** What changed between two shapes, for messages. */
export function shapeChange(recorded: string, now: string): 'publication' | 'partitions' {
  const pub = (s: string) => s.split(';')[0];
  return pub(recorded) !== pub(now) ? 'publication' : 'partitions';
}

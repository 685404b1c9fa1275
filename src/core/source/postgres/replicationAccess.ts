import type { Pool } from 'pg';

/** What the connected role may do for change data capture on one table, and how the server is set up. */
export interface ReplicationAccess {
  /** `SHOW wal_level`: logical decoding needs `logical`. */
  walLevel: string;
  /** The role the connection logs in as. */
  role: string;
  database: string;
  /** REPLICATION attribute (or superuser): needed to create, read and drop replication slots. */
  canReplicate: boolean;
  /** CREATE on the database: needed to create a publication. */
  canCreatePublication: boolean;
  tableOwner: string;
  /** The role has the table owner's privileges: needed to add the table to a publication. */
  ownsTable: boolean;
  /** The definition's publication, when it exists. */
  publication: {
    owner: string;
    /** The role has the publication owner's privileges: needed to alter or drop it. */
    owned: boolean;
    includesTable: boolean;
  } | null;
}

const ACCESS_SQL = `
SELECT current_setting('wal_level') AS wal_level, current_user::text AS role, current_database()::text AS database,
       (r.rolreplication OR r.rolsuper) AS can_replicate,
       has_database_privilege(current_database(), 'CREATE') AS can_create_publication,
       pg_get_userbyid(c.relowner)::text AS table_owner, pg_has_role(c.relowner, 'USAGE') AS owns_table,
       pg_get_userbyid(p.pubowner)::text AS publication_owner,
       CASE WHEN p.oid IS NOT NULL THEN pg_has_role(p.pubowner, 'USAGE') END AS publication_owned,
       CASE WHEN p.oid IS NOT NULL THEN p.puballtables OR EXISTS (
         SELECT 1 FROM pg_publication_rel pr WHERE pr.prpubid = p.oid AND pr.prrelid = c.oid) END AS includes_table
  FROM pg_roles r
  CROSS JOIN pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_publication p ON p.pubname = $3
 WHERE r.rolname = current_user AND n.nspname = $1 AND c.relname = $2`;

/** The role's replication rights on `schema.table` and its publication; null when the table does not exist. */
export async function readReplicationAccess(
  pool: Pool,
  schema: string,
  table: string,
  publication: string,
): Promise<ReplicationAccess | null> {
  const { rows } = await pool.query<{
    wal_level: string;
    role: string;
    database: string;
    can_replicate: boolean;
    can_create_publication: boolean;
    table_owner: string;
    owns_table: boolean;
    publication_owner: string | null;
    publication_owned: boolean | null;
    includes_table: boolean | null;
  }>(ACCESS_SQL, [schema, table, publication]);
  if (rows.length === 0) return null;
  const row = rows[0];
  return {
    walLevel: row.wal_level,
    role: row.role,
    database: row.database,
    canReplicate: row.can_replicate,
    canCreatePublication: row.can_create_publication,
    tableOwner: row.table_owner,
    ownsTable: row.owns_table,
    publication:
      row.publication_owner === null
        ? null
        : {
            owner: row.publication_owner,
            owned: row.publication_owned === true,
            includesTable: row.includes_table === true,
          },
  };
}

import type { Pool } from 'pg';
import type { ErrorKind } from '../../errors/kind';
import { quoteIdent } from '../../source/postgres/PostgresSource';
import type { LsnNames } from './names';

/**
 * The definition's replication slot and publication on the source server, read through the SQL interface:
 * a run peeks at the slot's changes (which moves nothing) and advances the slot only once the changes are
 * committed to SharePoint and the ledger (docs/design.md, "Change data capture").
 */

/** One row of pg_logical_slot_peek_binary_changes. */
export interface SlotChange {
  lsn: string;
  data: Buffer;
}

/**
 * Why the slot cannot be read from where it stands: the definition falls back to a full re-read. `moved ahead`:
 * its confirmed position is past the one the push last recorded (dropped and created again under the same name,
 * or advanced, outside the push), so the changes in between are not in it.
 */
export type SlotLossReason =
  | 'missing'
  | 'invalidated'
  | 'publication missing'
  | 'other database'
  | 'moved ahead'
  | 'publication changed'
  | 'partitions changed';

export class SlotLostError extends Error {
  constructor(
    readonly slot: string,
    readonly reason: SlotLossReason,
    cause: unknown,
  ) {
    super(`replication slot "${slot}" ${reason}: ${(cause as Error).message}`, { cause });
    this.name = 'SlotLostError';
  }
}

export class CapturePrivilegeError extends Error {
  readonly errorKind: ErrorKind = 'permission';

  constructor(
    readonly definition: string,
    what: string,
    grant: string,
    cause: unknown,
  ) {
    super(
      `Definition "${definition}": cannot ${what} for change data capture (${(cause as Error).message}). ` +
        `Grant it: ${grant}`,
      { cause },
    );
    this.name = 'CapturePrivilegeError';
  }
}

export class ReplicaIdentityError extends Error {
  readonly errorKind: ErrorKind = 'invalid_definition';

  constructor(
    readonly definition: string,
    message: string,
  ) {
    super(`Definition "${definition}": ${message}`);
    this.name = 'ReplicaIdentityError';
  }
}

function pgCode(err: unknown): string | undefined {
  return (err as { code?: string }).code;
}

async function currentRole(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ role: string }>('SELECT current_user AS role');
  return quoteIdent(rows[0].role);
}

/**
 * A delete reaches capture with the replica identity's columns only, and a table with none cannot even be
 * deleted from once it is published: refuse before publishing a table whose identity does not carry the key.
 * A partitioned table's changes are decoded with each partition's own identity (ALTER TABLE … REPLICA IDENTITY on
 * the partitioned table does not reach its partitions), so every partition is checked and named. Checked on
 * every push, not only when capture starts (`capturing`): a DBA may set the identity back to DEFAULT later.
 */
export async function assertReplicaIdentity(
  pool: Pool,
  definition: string,
  schema: string,
  table: string,
  key: string[],
  capturing = false,
): Promise<void> {
  const { rows } = await pool.query<{
    nsp: string;
    rel: string;
    kind: string;
    ident: string;
    columns: string[] | null;
  }>(
    `WITH root AS (SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = $1 AND c.relname = $2),
          rels AS (SELECT r.oid, 0 AS level FROM root r
                   UNION ALL
                   SELECT t.relid, 1 FROM root r, pg_partition_tree(r.oid) t
                    WHERE r.relkind = 'p' AND t.isleaf AND t.relid <> r.oid)
     SELECT n.nspname::text AS nsp, c.relname::text AS rel, c.relkind::text AS kind, c.relreplident::text AS ident,
            (SELECT array_agg(a.attname::text)
               FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
              WHERE i.indrelid = c.oid
                AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))
            ) AS columns
       FROM rels JOIN pg_class c ON c.oid = rels.oid JOIN pg_namespace n ON n.oid = c.relnamespace
      ORDER BY rels.level, nsp, rel`,
    [schema, table],
  );
  const row = rows[0];
  if (!row) return; // the run's catalog read reports a missing table
  // A view (or anything else without a heap) cannot be published: say so, as validate does, before its identity.
  if (row.kind !== 'r' && row.kind !== 'p')
    throw new ReplicaIdentityError(
      definition,
      `"${schema}.${table}" is not a table: source.cursor.type "LSN" captures changes of tables only. Use ` +
        'source.cursor.type "TIMESTAMP" with a cursor column for a view, or point the definition at the table',
    );
  const carries = (r: (typeof rows)[number]) =>
    r.ident === 'f' || (r.ident !== 'n' && key.every((k) => (r.columns ?? []).includes(k)));
  const lacking = row.kind === 'p' ? rows.slice(1).filter((r) => !carries(r)) : carries(row) ? [] : [row];
  if (row.kind === 'p' && !carries(row)) lacking.unshift(row);
  if (lacking.length === 0) return;
  const statements = lacking
    .map((r) => `ALTER TABLE ${quoteIdent(r.nsp)}.${quoteIdent(r.rel)} REPLICA IDENTITY FULL;`)
    .join(' ');
  const what = lacking.map((r) => `${r.nsp}.${r.rel}`).join(', ');
  throw new ReplicaIdentityError(
    definition,
    `the replica identity of ${what} does not contain the key (${key.join(', ')}), so deletes and key ` +
      `changes cannot be captured. Run: ${statements} (or REPLICA IDENTITY USING INDEX on a unique index of the ` +
      'key columns; a partitioned table needs it on every partition)' +
      (capturing
        ? `. Changes made meanwhile are in the slot without their old key: then re-read the table once: ` +
          `arcore-sync reset-cursor ${definition} --scope source`
        : ''),
  );
}

/**
 * What the push's publication publishes: every row change and TRUNCATE, partitions as their root, and (PostgreSQL
 * 18+, `gencols`) stored generated columns. Without the last, Postgres 18 refuses every UPDATE and DELETE of a table
 * whose replica identity holds a generated column ("Replica identity must not contain unpublished generated
 * columns"): REPLICA IDENTITY FULL, which assertReplicaIdentity tells users to set, holds all of them, so publishing
 * such a table would stop the application's own writes.
 */
const publishAll = (gencols: boolean) =>
  `publish = 'insert, update, delete, truncate', publish_via_partition_root = true` +
  (gencols ? ', publish_generated_columns = stored' : '');

/**
 * Creates the publication of the table when missing (partitions publish as their root), and puts back what a DBA
 * narrowed (`narrowed`: it hid row changes, or the table was not in it): ALTER PUBLICATION … SET (publish = 'insert') makes pgoutput skip every update and delete, and a row
 * filter (… SET TABLE t WHERE …) every change of a row outside it, without a trace in the slot. The push sees such
 * an alteration as a changed capture shape (storage.ts) and starts capture again here, with a full re-read.
 */
export async function ensurePublication(
  pool: Pool,
  definition: string,
  names: LsnNames,
  schema: string,
  table: string,
): Promise<{ narrowed: boolean }> {
  const qualified = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  // to_jsonb: prqual and prattrs (row filter, column list) exist from PostgreSQL 15 on, pubgencols from 18 on.
  const { rows } = await pool.query<{
    gencols: boolean;
    found: boolean;
    has_table: boolean;
    narrowed_table: boolean;
    narrowed: boolean;
    gencols_only: boolean;
  }>(
    `SELECT current_setting('server_version_num')::int >= 180000 AS gencols, p.oid IS NOT NULL AS found,
            EXISTS (SELECT 1 FROM pg_publication_tables t
                     WHERE t.pubname = p.pubname AND t.schemaname = $2 AND t.tablename = $3) AS has_table,
            EXISTS (SELECT 1 FROM pg_publication_rel pr
                     WHERE pr.prpubid = p.oid AND pr.prrelid = to_regclass($4)
                       AND (to_jsonb(pr) ->> 'prqual' IS NOT NULL OR to_jsonb(pr) ->> 'prattrs' IS NOT NULL))
              AS narrowed_table,
            NOT (p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate AND p.pubviaroot)
              OR coalesce(to_jsonb(p) ->> 'pubgencols', 's') <> 's' AS narrowed,
            (p.pubinsert AND p.pubupdate AND p.pubdelete AND p.pubtruncate AND p.pubviaroot) AS gencols_only
       FROM (SELECT 1) AS one LEFT JOIN pg_publication p ON p.pubname = $1`,
    [names.publication, schema, table, qualified],
  );
  const state = rows[0];
  const publication = quoteIdent(names.publication);
  try {
    if (!state.found)
      await pool.query(
        `CREATE PUBLICATION ${publication} FOR TABLE ${qualified} WITH (${publishAll(state.gencols)})`,
      );
    else {
      // SET TABLE without a WHERE or a column list: the table whole, and nothing else.
      if (!state.has_table || state.narrowed_table)
        await pool.query(`ALTER PUBLICATION ${publication} SET TABLE ${qualified}`);
      if (state.narrowed)
        await pool.query(`ALTER PUBLICATION ${publication} SET (${publishAll(state.gencols)})`);
    }
    // Generated columns alone hide no row change (rows are read again by key): not a narrowing that lost any.
    return {
      narrowed:
        state.found && (!state.has_table || state.narrowed_table || (state.narrowed && !state.gencols_only)),
    };
  } catch (err) {
    if (pgCode(err) !== '42501') throw err;
    const role = await currentRole(pool);
    throw new CapturePrivilegeError(
      definition,
      `publish ${schema}.${table}`,
      `GRANT CREATE ON DATABASE ${quoteIdent(await currentDatabase(pool))} TO ${role}; and make ${role} the ` +
        `owner of ${qualified} (ALTER TABLE ${qualified} OWNER TO ${role};)`,
      err,
    );
  }
}

async function currentDatabase(pool: Pool): Promise<string> {
  const { rows } = await pool.query<{ db: string }>('SELECT current_database() AS db');
  return rows[0].db;
}

/** The server has no free replication slot (max_replication_slots): the definition cannot start capture. */
export class SlotsExhaustedError extends Error {
  readonly errorKind: ErrorKind = 'invalid_input';

  constructor(
    readonly definition: string,
    message: string,
    cause: unknown,
  ) {
    super(`Definition "${definition}": ${message}`, { cause });
    this.name = 'SlotsExhaustedError';
  }
}

/**
 * Postgres says only "all replication slots are in use": the error names the setting, its value, the slots that take
 * them (inactive ones first: nobody reads them, and each keeps WAL) and the two ways on.
 */
async function slotsExhausted(pool: Pool, definition: string, slot: string, cause: unknown): Promise<Error> {
  const { rows } = await pool.query<{ max: string; slots: string | null }>(
    `SELECT current_setting('max_replication_slots') AS max,
            (SELECT string_agg(slot_name || CASE WHEN active THEN ' (active)' ELSE ' (inactive)' END, ', '
                                ORDER BY active, slot_name)
               FROM pg_replication_slots) AS slots`,
  );
  const { max, slots } = rows[0];
  return new SlotsExhaustedError(
    definition,
    `cannot create replication slot "${slot}" for change data capture: all ${max} replication slots of the ` +
      `server (max_replication_slots) are in use${slots ? `: ${slots}` : ''}. Raise max_replication_slots on the ` +
      'server (a restart is needed; Azure Database for PostgreSQL flexible server: az postgres flexible-server ' +
      'parameter set --name max_replication_slots --value <n>), or drop a slot no consumer needs any more ' +
      "(SELECT pg_drop_replication_slot('<name>'); an arcore_ slot belongs to a definition of an ArcoreSyncBridge " +
      'installation: arcore-sync remove that definition instead), then run the push again',
    cause,
  );
}

/** Creates the slot; returns the LSN from which it has every change. */
export async function createSlot(pool: Pool, definition: string, slot: string): Promise<string> {
  try {
    const { rows } = await pool.query<{ lsn: string }>(
      `SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`,
      [slot],
    );
    return rows[0].lsn;
  } catch (err) {
    if (pgCode(err) === '53400') throw await slotsExhausted(pool, definition, slot, err);
    if (pgCode(err) !== '42501') throw err;
    const role = await currentRole(pool);
    throw new CapturePrivilegeError(
      definition,
      `create replication slot "${slot}"`,
      `ALTER ROLE ${role} REPLICATION;`,
      err,
    );
  }
}

/** Drops the slot when it exists; true when one was dropped. */
export async function dropSlot(pool: Pool, slot: string): Promise<boolean> {
  const { rows } = await pool.query(
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return rows.length > 0;
}

export async function dropPublication(pool: Pool, publication: string): Promise<void> {
  await pool.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(publication)}`);
}

/** Why a slot error means the slot cannot be read from where it stands; null for other errors. */
export function lossReason(err: unknown): SlotLossReason | null {
  const message = (err as Error).message ?? '';
  const code = pgCode(err);
  if (code === '42704' && /publication/.test(message)) return 'publication missing';
  if (code === '42704') return 'missing';
  if (/invalidated|can no longer (get|access)|has been invalidated/.test(message)) return 'invalidated';
  if (/was not created in this database/.test(message)) return 'other database';
  return null;
}

/** Moves the slot's confirmed position to `lsn` (a commit's end): the server may free the WAL before it. */
export async function advanceSlot(pool: Pool, slot: string, lsn: string): Promise<void> {
  try {
    await pool.query('SELECT pg_replication_slot_advance($1, $2::pg_lsn)', [slot, lsn]);
  } catch (err) {
    const reason = lossReason(err);
    if (reason) throw new SlotLostError(slot, reason, err);
    throw err;
  }
}

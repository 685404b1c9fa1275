import type { ErrorKind } from '../errors/kind';
import type { Pool, PoolClient } from 'pg';
import { parseDefinition } from '../definition/parse';
import type { SyncDefinition } from '../definition/schema';
import { SYSTEM_FIELD_NAMES } from '../definition/validateLive';
import { targetListLabel } from '../routing/lists';

export interface StoredDefinition {
  id: string;
  definition: SyncDefinition;
  updatedAt: Date;
  /** The list the ledger was built on, bound by the first run (I15); null until then. */
  listId: string | null;
  /**
   * Pull insert intents are left (engine/pull/intents.ts), read with the definition: a run whose source shares the
   * metadata database (whose pages record none) settles those left from before its connection was re-pointed.
   */
  pullIntentsLeft: boolean;
  /** `target.siteTimeZone` changed: the next run forgets the synced values of the date-only fields (040). */
  realignDateOnly: boolean;
  /** How each key column was rendered into the ledger's identity hashes (046, engine/keyKinds.ts); null until bound. */
  keyKinds: RecordedKeyKinds | null;
  /** The types of the columns whose values flow to SharePoint (046, engine/columnTypes.ts); null until recorded. */
  columnTypes: RecordedColumnTypes | null;
  /** The fingerprint of the columns it reads, as the idle probe compares it (048, source/postgres/shape.ts). */
  columnShape: string | null;
}

/** Per key column: the identity rendering it had (engine/keyKinds.ts) and its Postgres type, for messages. */
export type RecordedKeyKinds = Record<string, { rendering: string; type: string }>;

/**
 * Per column: its Postgres type as a cast target, an enum's labels, and its number in the relation (attnum: a column
 * dropped and added again gets a new one; absent in records made before it was kept).
 */
export type RecordedColumnTypes = Record<string, { type: string; labels?: string[]; attnum?: number }>;

export class UnknownDefinitionError extends Error {
  readonly errorKind: ErrorKind = 'not_found';

  constructor(readonly definitionName: string) {
    super(`No sync definition named "${definitionName}" (run "arcore-sync status" to list them)`);
    this.name = 'UnknownDefinitionError';
  }
}

/** A run resolved its list to one that another definition already syncs (I15: one list, one definition). */
export class ListAlreadySyncedError extends Error {
  readonly errorKind: ErrorKind = 'invalid_definition';
  readonly hint: string;

  constructor(
    readonly definition: string,
    readonly list: string,
    readonly listId: string,
    readonly others: string[],
  ) {
    const named = others.map((o) => `"${o}"`).join(', ');
    super(
      `Definition "${definition}": list "${list}" (id ${listId}) is already synced by definition ${named}; ` +
        `two definitions must not write one list, so "${definition}" wrote nothing. Point "${definition}" (or ` +
        `${named}) at another list and apply again (lists are matched case-insensitively and by id); a definition ` +
        `that was pointed elsewhere lets go of the list once relinked ("npx arcore-sync relink <name>") or removed.`,
    );
    this.name = 'ListAlreadySyncedError';
    this.hint = `point "${definition}" or ${named} at another list, or relink the one that no longer syncs it`;
  }
}

/**
 * Names of the other definitions that hold the list: by their ledger, a live subscription, or a binding their runs
 * made (I15): a single-list definition's `list_id` (while it is not routed), or a routed one's binding of a list
 * name its routes still name. A binding is made before a run's first write, so two first runs that overlap cannot
 * both pass when each checks and binds under the list's claim lock (claimLists, engine/listIdentity.ts). Bindings
 * a definition has let go of do not count: a list its routes dropped (until its items have moved, the ledger
 * holds it), and a list it was relinked away from (relink rebinds).
 * The ledger probe is a scalar subquery ordered by the index's third column: as an EXISTS, the planner (which cannot
 * tell one definition's rows from another's when the outer id is a parameter) scanned the whole ledger for a
 * definition with no entries, 300–600 ms at 1,000,000 rows on every full run (docs/performance.md).
 */
export async function otherDefinitionsOfList(
  db: Pool | PoolClient,
  listId: string,
  definitionId: string,
): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT d.name FROM arcore.sync_definitions d
      WHERE d.id <> $2
        AND ((d.list_id = $1 AND d.document->'target'->'routes' IS NULL)
          OR EXISTS (SELECT 1 FROM arcore.sync_definition_lists b
                      WHERE b.definition_id = d.id AND b.list_id = $1
                        AND EXISTS (SELECT 1 FROM jsonb_array_elements(d.document->'target'->'routes') r
                                     WHERE lower(r->>'list') = lower(b.list_name)))
          OR (SELECT true FROM arcore.sync_ledger l WHERE l.definition_id = d.id AND l.sp_list_id = $1
               ORDER BY l.sp_item_id LIMIT 1)
          OR EXISTS (SELECT 1 FROM arcore.graph_subscriptions s
                      WHERE s.definition_id = d.id AND s.list_id = $1 AND s.state <> 'REMOVED'))
      ORDER BY d.name`,
    [listId, definitionId],
  );
  return rows.map((r) => r.name);
}

export interface UpsertResult {
  created: string[];
  updated: string[];
  unchanged: string[];
}

/** Saves one definition by name inside the caller's transaction. */
export async function upsertDefinition(
  client: PoolClient,
  def: SyncDefinition,
): Promise<'created' | 'updated' | 'unchanged'> {
  const document = JSON.stringify(def);
  // jsonb equality is semantic (key order does not matter), so an unchanged definition is recognised.
  const existing = await client.query<{ id: string; same: boolean }>(
    'SELECT id, document = $2::jsonb AS same FROM arcore.sync_definitions WHERE name = $1 FOR UPDATE',
    [def.name, document],
  );
  const columns = [
    def.source.connection,
    def.source.schema,
    def.source.table,
    def.source.key,
    def.source.key.length > 1 ? 'COMPOSITE_COLUMNS' : 'PRIMARY_KEY',
    def.source.cursor.type,
    def.source.cursor.column,
    def.target.site,
    targetListLabel(def),
    def.conflictPolicy,
    def.deletes.push,
    def.deletes.pull,
    def.schedule,
    def.enabled,
    document,
  ];
  let id: string;
  let outcome: 'created' | 'updated' | 'unchanged';
  if (existing.rowCount === 0) {
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO arcore.sync_definitions (source_connection, source_schema, source_table, key_columns,
         key_strategy, cursor_type, cursor_column, target_site, target_list, conflict_policy,
         push_delete_policy, pull_delete_policy, schedule, enabled, document, name)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) RETURNING id`,
      [...columns, def.name],
    );
    id = rows[0].id;
    outcome = 'created';
  } else {
    id = existing.rows[0].id;
    if (existing.rows[0].same) return 'unchanged';
    await client.query(
      `UPDATE arcore.sync_definitions SET source_connection=$1, source_schema=$2, source_table=$3,
         key_columns=$4, key_strategy=$5, cursor_type=$6, cursor_column=$7, target_site=$8, target_list=$9,
         conflict_policy=$10, push_delete_policy=$11, pull_delete_policy=$12, schedule=$13, enabled=$14,
         document=$15, updated_at=now()
       WHERE id=$16`,
      [...columns, id],
    );
    outcome = 'updated';
  }
  await client.query('DELETE FROM arcore.field_mappings WHERE definition_id = $1', [id]);
  for (const [position, f] of def.fields.entries()) {
    await client.query(
      `INSERT INTO arcore.field_mappings
         (definition_id, position, source_column, target_column, direction, is_system_field, transform)
       VALUES ($1,$2,$3,$4,$5,$6,$7)`,
      [
        id,
        position,
        f.source,
        f.target,
        f.direction,
        SYSTEM_FIELD_NAMES.has(f.target),
        f.transform ? JSON.stringify(f.transform) : null,
      ],
    );
  }
  return outcome;
}

/** Saves definitions by name in one transaction: an idempotent upsert. */
export async function upsertDefinitions(pool: Pool, defs: SyncDefinition[]): Promise<UpsertResult> {
  const client = await pool.connect();
  const result: UpsertResult = { created: [], updated: [], unchanged: [] };
  try {
    await client.query('BEGIN');
    for (const def of defs) result[await upsertDefinition(client, def)].push(def.name);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

interface DefinitionRow {
  id: string;
  document: unknown;
  updated_at: Date;
  name: string;
  list_id: string | null;
  intents_left: boolean;
  realign_date_only: boolean;
  key_kinds: RecordedKeyKinds | null;
  column_types: RecordedColumnTypes | null;
  column_shape: string | null;
}

function fromRow(row: DefinitionRow): StoredDefinition {
  return {
    id: row.id,
    definition: parseDefinition(row.document, `stored definition "${row.name}"`),
    updatedAt: row.updated_at,
    listId: row.list_id,
    pullIntentsLeft: row.intents_left,
    realignDateOnly: row.realign_date_only,
    keyKinds: row.key_kinds,
    columnTypes: row.column_types,
    columnShape: row.column_shape,
  };
}

const SELECT_DEFINITION = `SELECT d.id, d.name, d.document, d.updated_at, d.list_id, d.realign_date_only, d.key_kinds,
    d.column_types, d.column_shape,
    EXISTS (SELECT 1 FROM arcore.pull_insert_intents i WHERE i.definition_id = d.id) AS intents_left
  FROM arcore.sync_definitions d`;

/** Records the list a definition's ledger is built on (I15); null forgets it (the target was changed). */
export async function bindListId(db: Pool | PoolClient, id: string, listId: string | null): Promise<void> {
  await db.query('UPDATE arcore.sync_definitions SET list_id = $2 WHERE id = $1', [id, listId]);
}

/** Records how the key columns are rendered into identity hashes (046, engine/keyKinds.ts). */
export async function bindKeyKinds(
  db: Pool | PoolClient,
  id: string,
  kinds: RecordedKeyKinds,
): Promise<void> {
  await db.query('UPDATE arcore.sync_definitions SET key_kinds = $2 WHERE id = $1', [
    id,
    JSON.stringify(kinds),
  ]);
}

/** Records the types of the mapped columns (046) and the shape fingerprint the idle probe compares (048). */
export async function bindColumnTypes(
  db: Pool | PoolClient,
  id: string,
  types: RecordedColumnTypes,
  shape: string,
): Promise<void> {
  await db.query('UPDATE arcore.sync_definitions SET column_types = $2, column_shape = $3 WHERE id = $1', [
    id,
    JSON.stringify(types),
    shape,
  ]);
}

export async function listDefinitions(pool: Pool): Promise<StoredDefinition[]> {
  const { rows } = await pool.query<DefinitionRow>(`${SELECT_DEFINITION} ORDER BY name`);
  return rows.map(fromRow);
}

export async function getDefinition(pool: Pool, name: string): Promise<StoredDefinition> {
  const { rows } = await pool.query<DefinitionRow>(`${SELECT_DEFINITION} WHERE name = $1`, [name]);
  if (rows.length === 0) throw new UnknownDefinitionError(name);
  return fromRow(rows[0]);
}

export async function getDefinitionById(pool: Pool, id: string): Promise<StoredDefinition | null> {
  const { rows } = await pool.query<DefinitionRow>(`${SELECT_DEFINITION} WHERE id = $1`, [id]);
  return rows.length === 0 ? null : fromRow(rows[0]);
}

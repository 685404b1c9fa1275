import type { EngineContext } from '../engine/types';
import { readInstallationId } from '../store/installation';
import { tryLockDefinition } from '../store/locks';
import { dropReplicationObjects, replicationBaseName, type DropReport } from './replicationObjects';
import { definitionIdByName } from './definitionIds';
import { DefinitionBusyError } from './errors';
import { inTransaction } from '../db/transaction';
import { dropDeleteCaptureStatements } from '../source/postgres/tombstones';
import { retireDeleteCapture, type DeleteCaptureRetirement } from './deleteCapture';

/** Metadata rows `remove` deleted, per table. */
export interface RemovedRows {
  ledger: number;
  cursors: number;
  runs: number;
  conflicts: number;
  failures: number;
  pendingPulls: number;
  subscriptions: number;
  fieldMappings: number;
}

/** A Graph subscription `remove` could not delete at Graph: its store row is gone, the subscription is not. */
export interface SubscriptionLeft {
  subscriptionId: string;
  expiration: string;
  error: string;
}

export interface RemoveResult {
  definition: string;
  removed: RemovedRows;
  /** Subscriptions deleted at Graph (or already gone there). */
  subscriptionsDeleted: string[];
  /** Subscriptions Graph did not delete; they expire by themselves and the subscription timer deletes them. */
  subscriptionsLeft: SubscriptionLeft[];
  /**
   * LSN definitions: the replication slot, publication and origin dropped on the source server, and any left
   * behind with the statement to run (a slot left keeps WAL until it is dropped). Null for TIMESTAMP ones.
   */
  replication: DropReport | null;
  /**
   * The delete capture `install-cursor` put on the definition's table: dropped when no other TIMESTAMP
   * definition reads the table (none would read its tombstones), kept (naming them) when one does.
   */
  deleteCapture: DeleteCaptureRetirement;
}

/** Tables holding a definition's metadata, in the order they are emptied (children before parents). */
const TABLES: [keyof RemovedRows, string][] = [
  ['conflicts', 'arcore.sync_conflicts'],
  ['failures', 'arcore.sync_failures'],
  ['ledger', 'arcore.sync_ledger'],
  ['cursors', 'arcore.sync_cursors'],
  ['pendingPulls', 'arcore.pending_pulls'],
  ['subscriptions', 'arcore.graph_subscriptions'],
  ['runs', 'arcore.sync_runs'],
  ['fieldMappings', 'arcore.field_mappings'],
];

/** An LSN definition's slot, publication and origin, dropped on its source server; null for TIMESTAMP ones. */
async function dropDefinitionReplication(
  ctx: EngineContext,
  definitionId: string,
): Promise<DropReport | null> {
  const { rows } = await ctx.meta.query<{
    cursor_type: string;
    source_connection: string;
    captured_on: string | null;
  }>(
    `SELECT d.cursor_type, d.source_connection, c.capture_source ->> 'connection' AS captured_on
       FROM arcore.sync_definitions d
       LEFT JOIN arcore.sync_cursors c ON c.definition_id = d.id AND c.scope = 'SOURCE' AND c.cursor_type = 'LSN'
      WHERE d.id = $1`,
    [definitionId],
  );
  if (rows[0]?.cursor_type !== 'LSN') return null;
  const base = replicationBaseName(await readInstallationId(ctx.meta), definitionId);
  // Re-pointed at another connection with no push since: the slot still lives where capture last started
  // (capture/lsn/source.ts). Its objects are dropped there too (their names are this definition's alone).
  const earlier =
    rows[0].captured_on !== null && rows[0].captured_on !== rows[0].source_connection
      ? await dropOnConnection(ctx, rows[0].captured_on, base)
      : null;
  const current = await dropOnConnection(ctx, rows[0].source_connection, base);
  return earlier
    ? { dropped: [...earlier.dropped, ...current.dropped], left: [...earlier.left, ...current.left] }
    : current;
}

/** The definition's objects (by base name) dropped on the server of `connection`. */
async function dropOnConnection(ctx: EngineContext, connection: string, base: string): Promise<DropReport> {
  let pool;
  try {
    pool = ctx.sourcePool(connection);
  } catch (err) {
    // The connection's setting is gone: nothing can be dropped from here; say what to run where it lives.
    const error = (err as Error).message;
    return {
      dropped: [],
      left: [
        {
          kind: 'slot',
          name: `${base}*`,
          error,
          sql:
            `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots ` +
            `WHERE slot_name = '${base}' OR left(slot_name, ${base.length + 1}) = '${base}_';`,
        },
      ],
    };
  }
  return dropReplicationObjects(pool, base);
}

/** The definition's delete capture, retired unless another TIMESTAMP definition reads its table. */
async function retireDefinitionDeletes(
  ctx: EngineContext,
  definitionId: string,
): Promise<DeleteCaptureRetirement> {
  const { rows } = await ctx.meta.query<{ schema: string; table: string; connection: string }>(
    `SELECT coalesce(document->'source'->>'schema', 'public') AS schema, document->'source'->>'table' AS table,
            coalesce(document->'source'->>'connection', 'default') AS connection
       FROM arcore.sync_definitions WHERE id = $1`,
    [definitionId],
  );
  const source = rows[0];
  try {
    return await retireDeleteCapture(ctx.meta, ctx.sourcePool(source.connection), definitionId, source);
  } catch (err) {
    // The source server is out of reach (or its connection setting is gone): the removal goes on, and the
    // output says what to run there.
    return {
      table: `${source.schema}.${source.table}`,
      status: 'failed',
      keptFor: [],
      error: (err as Error).message,
      sql: dropDeleteCaptureStatements(source.schema, source.table),
    };
  }
}

/**
 * Deletes a definition and everything the engine kept about it: ledger, cursors, runs, conflicts, failures,
 * pending pulls, its Graph subscriptions (deleted at Graph first) and, for an LSN definition, its replication
 * slot, publication and origin on the source server (dropped first, so that no slot is left keeping WAL), and the
 * delete capture on its table unless another TIMESTAMP definition reads it. Neither side's data is touched: rows stay
 * in Postgres and items stay in SharePoint (with their hidden key column). Refused while a run holds the
 * definition's lock (I11): the run would write metadata back for a definition that no longer exists.
 *
 * A subscription Graph refuses to delete does not stop the removal: its store row goes with the rest, and
 * the result names it. Notifications it still sends name an unknown subscription and are ignored; the
 * subscription timer deletes it at Graph as an orphan, and it expires by itself at the latest.
 */
export async function removeDefinition(ctx: EngineContext, name: string): Promise<RemoveResult> {
  const definitionId = await definitionIdByName(ctx.meta, name);
  const lock = await tryLockDefinition(ctx.meta, definitionId);
  if (!lock) throw new DefinitionBusyError(name, 'removing it');
  try {
    const replication = await dropDefinitionReplication(ctx, definitionId);
    const deleteCapture = await retireDefinitionDeletes(ctx, definitionId);
    const { rows: subscriptions } = await ctx.meta.query<{
      subscription_id: string;
      expiration: Date;
      state: string;
    }>('SELECT subscription_id, expiration, state FROM arcore.graph_subscriptions WHERE definition_id = $1', [
      definitionId,
    ]);
    const subscriptionsDeleted: string[] = [];
    const subscriptionsLeft: SubscriptionLeft[] = [];
    const live = subscriptions.filter((s) => s.state !== 'REMOVED');
    if (live.length > 0) {
      const target = ctx.target();
      try {
        for (const s of live) {
          try {
            await target.deleteSubscription(s.subscription_id);
            subscriptionsDeleted.push(s.subscription_id);
          } catch (err) {
            subscriptionsLeft.push({
              subscriptionId: s.subscription_id,
              expiration: s.expiration.toISOString(),
              error: (err as Error).message,
            });
          }
        }
      } finally {
        await target.close();
      }
    }

    return await inTransaction(ctx.meta, async (client) => {
      const removed = {} as RemovedRows;
      for (const [key, table] of TABLES) {
        const { rowCount } = await client.query(`DELETE FROM ${table} WHERE definition_id = $1`, [
          definitionId,
        ]);
        removed[key] = rowCount ?? 0;
      }
      // Anything else that hangs off the definition (ON DELETE CASCADE) goes with it.
      await client.query('DELETE FROM arcore.sync_definitions WHERE id = $1', [definitionId]);
      return {
        definition: name,
        removed,
        subscriptionsDeleted,
        subscriptionsLeft,
        replication,
        deleteCapture,
      };
    });
  } finally {
    await lock.release();
  }
}

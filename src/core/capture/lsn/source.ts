/**
 * Where an LSN definition's replication slot lives (sync_cursors.capture_source, migration 047). A definition
 * re-pointed at another server (`source.connection` changed, or its connection string now names another server)
 * finds no slot there and starts capture anew with a full re-read, as it should; the slot it left on the old server
 * stays inactive and keeps that server's WAL from then on, for nobody, and neither `status` nor `remove` (which read
 * the definition's current connection) would ever see it. So when capture starts, the server and database of the
 * slot before are compared with the current ones: a slot elsewhere is dropped there when the old connection still
 * reaches it, and otherwise named in a warning with the statements to run there (docs/design.md, I17).
 */
import type { Pool, PoolClient } from 'pg';
import type { RunScope } from '../../engine/runner';
import { describeDropped, dropReplicationObjects, replicationBaseName } from '../../ops/replicationObjects';
import { describeDatabase, sourceDatabase } from '../../source/postgres/database';
import { readInstallationId } from '../../store/installation';
import type { SourceDatabase } from '../../store/pullIntents';
import type { LsnNames } from './names';

/** The server and database a slot was created on, and the connection name it was reached by then. */
export interface CaptureSource {
  connection: string;
  systemId: string | null;
  databaseOid: string;
  databaseName: string;
}

async function readCaptureSource(db: Pool | PoolClient, definitionId: string): Promise<CaptureSource | null> {
  const { rows } = await db.query<{ source: CaptureSource | null }>(
    `SELECT capture_source AS source FROM arcore.sync_cursors
      WHERE definition_id = $1 AND scope = 'SOURCE' AND cursor_type = 'LSN'`,
    [definitionId],
  );
  return rows[0]?.source ?? null;
}

/**
 * Records where the slot lives: `db` is the transaction that writes the cursor of a slot just created (startCapture),
 * so that a run stopped in between never leaves the cursor of the new slot beside the place of the old one.
 */
export async function recordCaptureSource(
  db: Pool | PoolClient,
  scope: RunScope,
  current: SourceDatabase,
): Promise<void> {
  const source: CaptureSource = {
    connection: scope.def.source.connection,
    systemId: current.systemId,
    databaseOid: current.databaseOid,
    databaseName: current.databaseName,
  };
  await db.query(
    `UPDATE arcore.sync_cursors SET capture_source = $2::jsonb
      WHERE definition_id = $1 AND scope = 'SOURCE' AND cursor_type = 'LSN'`,
    [scope.definitionId, JSON.stringify(source)],
  );
}

/**
 * A cursor written before the slot's place was recorded (by a version before migration 047): once a run has read
 * the slot on the current source, that is where it lives, and it is recorded then (once), so that a later re-point
 * drops it there. Left unrecorded, the re-point found no place on record and left the slot holding that server's
 * WAL with no word.
 */
export async function recordUnknownCaptureSource(scope: RunScope): Promise<void> {
  await recordCaptureSource(scope.ctx.meta, scope, await sourceDatabase(scope.sourcePool));
}

/**
 * Another server (told by the system identifiers where both are known) or another database of it. The timeline is
 * left out: a promoted standby is the same server's history, and a slot there is the one the push reads.
 */
function elsewhere(recorded: CaptureSource, current: SourceDatabase): boolean {
  if (recorded.systemId !== null && current.systemId !== null && recorded.systemId !== current.systemId)
    return true;
  return recorded.databaseOid !== current.databaseOid || recorded.databaseName !== current.databaseName;
}

/** The statements that drop the definition's objects, for an operator to run on the old server. */
function dropStatements(names: LsnNames): string {
  const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
  return (
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ${literal(names.slot)}; ` +
    `DROP PUBLICATION IF EXISTS "${names.publication}"; ` +
    `SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = ${literal(names.origin)};`
  );
}

/**
 * Before capture starts on the current source: the slot, publication and origin left where the slot lived before
 * (another server or database) are dropped there through the connection recorded with it, when that connection is
 * still configured and still reaches that database; otherwise a warning names the server and the statements to run
 * on it. Returns the current source, for recordCaptureSource.
 */
export async function leavePreviousSource(scope: RunScope, names: LsnNames): Promise<SourceDatabase> {
  const current = await sourceDatabase(scope.sourcePool);
  const recorded = await readCaptureSource(scope.ctx.meta, scope.definitionId);
  if (!recorded || !elsewhere(recorded, current)) return current;
  const { def, ctx } = scope;
  const where = describeDatabase({ ...recorded, timeline: null });
  let old: Pool | null = null;
  try {
    const pool = ctx.sourcePool(recorded.connection);
    if (!elsewhere(recorded, await sourceDatabase(pool))) old = pool;
  } catch {
    old = null; // the connection is gone from the settings, or no longer reaches a server
  }
  const report = old
    ? await dropReplicationObjects(
        old,
        replicationBaseName(await readInstallationId(ctx.meta), scope.definitionId),
      )
    : null;
  let message: string;
  if (report && report.left.length === 0) {
    message =
      `the replication slot of this definition lived on ${where} (connection "${recorded.connection}"), which it ` +
      `no longer reads: dropped there ${describeDropped(report) || 'nothing (it was gone)'}`;
    ctx.log.info(`${def.name}: ${message}`);
  } else {
    const sql = report ? report.left.map((l) => l.sql).join(' ') : dropStatements(names);
    message =
      `the replication slot "${names.slot}" of this definition lives on ${where} (connection ` +
      `"${recorded.connection}" then), which it no longer reads, and ` +
      (report
        ? `could not be dropped there (${report.left.map((l) => l.error).join('; ')})`
        : `that database cannot be reached through connection "${recorded.connection}" now`) +
      `: it keeps that server's WAL until dropped. Run there: ${sql}`;
    ctx.log.warn(`${def.name}: ${message}`);
  }
  scope.details.previousSlot = message;
  return current;
}

/**
 * The idle probe (docs/design.md, I18): before a scheduled push takes its lock, records a run and resolves the
 * list, one statement asks whether the run would find anything to do. When the source table lives in the
 * metadata database (the common deployment) it is one round trip; otherwise one per database. It answers "idle"
 * only when every check says so; any doubt (an error, a changed definition, a run that did not end well, a
 * full run older than IDLE_FULL_RUN_AFTER_SECONDS) sends the push down its normal path. It never writes a
 * cursor, a ledger row or the slot: a skipped run is exactly a run that found nothing, so it cannot lose a change.
 */
import { createHash } from 'node:crypto';
import type { Pool, QueryConfig } from 'pg';
import { parseDefinition } from '../definition/parse';
import type { SyncDefinition } from '../definition/schema';
import { lsnNames, type LsnNames } from '../capture/lsn/names';
import { qualifiedName, shapeSql } from '../capture/lsn/storage';
import { readSourceTable } from '../source/postgres/catalog';
import { columnShapeSql } from '../source/postgres/shape';
import { castTypeOf, quoteIdent } from '../source/postgres/PostgresSource';
import { DELETE_CAPTURE_TRIGGER, tombstoneTableName } from '../source/postgres/tombstones';
import { cursorTriggerLostSql } from '../source/postgres/cursorTrigger';
import { readInstallationId } from '../store/installation';
import { LOCK_NAMESPACE, tryLockDefinition } from '../store/locks';
import { PARKED_COUNTS_SQL } from '../store/runs';
import type { EngineContext, RunSummary, RunTrigger } from './types';
import { emptyCounts } from './runner';
import { shapeColumns } from './columnTypes';

/** Triggers whose push is probed first: the schedule's (timer, and its queue message) and the command line. */
export const IDLE_PROBE_TRIGGERS: ReadonlySet<RunTrigger> = new Set<RunTrigger>(['timer', 'queue', 'cli']);

/**
 * However quiet the table, a full push runs at least this often: it re-checks what the probe takes on trust
 * (the list's identity and columns, an abandoned run) and keeps `status`'s last run recent. The table's shape is
 * not taken on trust: every probe compares it ('table shape changed').
 */
export const IDLE_FULL_RUN_AFTER_SECONDS = 60 * 60;

/**
 * LSN: WAL (of any table) the slot may hold unconfirmed before the probe hands over to a run, which confirms
 * it. Every peek decodes from the slot's position, so this bounds what an idle probe decodes.
 */
export const IDLE_SLOT_LAG_BYTES = 256 * 1024;

/**
 * LSN: rows the probe's peek may return. A server before PostgreSQL 15 sends BEGIN and COMMIT for transactions
 * of other tables too; those are not changes, but a full page of them cannot be told from more behind.
 */
const PEEK_ROWS = 16;

/** What the probe found. `busy` names each reason a run is needed (empty when idle). */
export interface IdleVerdict {
  idle: boolean;
  busy: string[];
  parkedFailures: number;
  openConflicts: number;
  heldMoves: number;
}

/** Why a push would have work, by check name (true: work to do). Order is the order `busy` reports them in. */
const CHECKS = [
  'definition changed',
  'last push not a recent success',
  'creates in flight',
  'moves in flight',
  'parked rows due',
  'delete comparison owed',
  'no cursor yet',
  'open TRUNCATE',
  'overlap window open',
  'window re-read owed',
  'rows after the cursor',
  'deletes recorded',
  'delete sweep due',
  'delete detection changed',
  'cursor trigger changed',
  'run in progress',
  'slot behind',
  'slot moved',
  'slot changes',
  'capture shape changed',
  'table shape changed',
] as const;
type Check = (typeof CHECKS)[number];

/** A definition as the probe needs it, built once per process and checked by `updated_at` on every probe. */
interface Prepared {
  id: string;
  version: string;
  def: SyncDefinition;
  sourcePool: Pool;
  sameDatabase: boolean;
  /** TIMESTAMP: the cursor column's type and the key columns' casts (the keyset comparison of readPage). */
  cursorType: string | null;
  keyCasts: string[];
  /** TIMESTAMP: whether delete capture (tombstones) was installed when this was built. */
  tombstones: boolean;
  /** TIMESTAMP: whether install-cursor's trigger was gone or disabled when this was built (a run then warns). */
  cursorTriggerLost: boolean;
  names: LsnNames | null;
  /** The columns whose shape the probe fingerprints (columnTypes.ts, shapeColumns). */
  shapeColumns: string[];
  /** LSN: IDLE_SLOT_LAG_BYTES, or the probing context's own bound (EngineContext.idleSlotLagBytes). */
  slotLagBytes: number;
}

const prepared = new WeakMap<Pool, Map<string, Prepared>>();

/** A stored definition as a probe builds on it: `version` is its `updated_at`, checked by every probe. */
export interface ProbedDefinition {
  id: string;
  version: string;
  def: SyncDefinition;
}

/** Reads a stored definition for a probe (push or pull); null when there is none by that name. */
export async function readProbedDefinition(meta: Pool, name: string): Promise<ProbedDefinition | null> {
  const { rows } = await meta.query<{ id: string; version: string; document: unknown }>(
    'SELECT id::text AS id, updated_at::text AS version, document FROM arcore.sync_definitions WHERE name = $1',
    [name],
  );
  if (!rows[0]) return null;
  const { id, version, document } = rows[0];
  return { id, version, def: parseDefinition(document, `stored definition "${name}"`) };
}

async function prepare(ctx: EngineContext, name: string): Promise<Prepared | null> {
  let cache = prepared.get(ctx.meta);
  if (!cache) prepared.set(ctx.meta, (cache = new Map()));
  const hit = cache.get(name);
  if (hit) return hit;
  const stored = await readProbedDefinition(ctx.meta, name);
  if (!stored) return null;
  const { def } = stored;
  const sourcePool = ctx.sourcePool(def.source.connection);
  let cursorType: string | null = null;
  const keyCasts: string[] = [];
  let tombstones = false;
  let cursorTriggerLost = false;
  let names: LsnNames | null = null;
  if (def.source.cursor.type === 'LSN') {
    names = lsnNames(await readInstallationId(ctx.meta), stored.id, def.name);
  } else {
    const table = await readSourceTable(sourcePool, def.source.schema, def.source.table);
    const column = table?.columns.find((c) => c.name === def.source.cursor.column);
    if (!table || !column) return null;
    cursorType = column.dataType;
    for (const k of def.source.key) {
      const keyColumn = table.columns.find((c) => c.name === k);
      if (!keyColumn) return null;
      keyCasts.push(castTypeOf(keyColumn));
    }
    const { rows: installed } = await sourcePool.query<{ installed: boolean; lost: boolean }>(
      `SELECT ${installedSql(def, (v) => literal(v))} AS installed, ${triggerLostSql(def, (v) => literal(v))} AS lost`,
    );
    tombstones = installed[0].installed;
    cursorTriggerLost = installed[0].lost;
  }
  const entry: Prepared = {
    ...stored,
    sourcePool,
    sameDatabase: sourcePool === ctx.meta,
    cursorType,
    keyCasts,
    tombstones,
    cursorTriggerLost,
    names,
    shapeColumns: shapeColumns(def),
    slotLagBytes: IDLE_SLOT_LAG_BYTES,
  };
  cache.set(name, entry);
  return entry;
}

function forget(ctx: EngineContext, name: string): void {
  prepared.get(ctx.meta)?.delete(name);
}

function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function qualifiedTable(def: SyncDefinition): string {
  return `${quoteIdent(def.source.schema)}.${quoteIdent(def.source.table)}`;
}

function tombstoneTable(def: SyncDefinition): string {
  return `${quoteIdent(def.source.schema)}.${quoteIdent(tombstoneTableName(def.source.table))}`;
}

/** True when the delete-capture trigger and its tombstone table are both there (as deleteDetectionOf says). */
function installedSql(def: SyncDefinition, param: (v: string) => string): string {
  return `(to_regclass(${param(tombstoneTable(def))}) IS NOT NULL AND EXISTS (
      SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(${param(qualifiedTable(def))})
         AND tgname = ${param(DELETE_CAPTURE_TRIGGER)} AND tgenabled <> 'D'))`;
}

/** True when install-cursor's trigger function is there but no enabled trigger calls it (cursorTrigger.ts). */
function triggerLostSql(def: SyncDefinition, param: (v: string) => string): string {
  return cursorTriggerLostSql(def.source.schema, def.source.table, def.source.cursor.column as string, param);
}

/**
 * I5, I14: the shape of the columns the definition reads, fingerprinted from pg_catalog (source/postgres/shape.ts),
 * against the fingerprint the last run recorded (`recorded`: SQL text, null when none): a retyped column, a renamed
 * enum label or a mapped column dropped and added again changes stored values with no row trigger, so only a run
 * (engine/columnTypes.ts) can bring the items to them. Compared on every probe, it reaches a run on the next tick.
 */
function shapeCheck(p: Prepared, params: Params, recorded: string): Partial<Record<Check, string>> {
  const live = columnShapeSql(`${params.add(qualifiedTable(p.def))}::text`, params.add(p.shapeColumns));
  return { 'table shape changed': `${recorded} IS DISTINCT FROM ${live}` };
}

/** The shape fingerprint the last run recorded (048), over `$1`, the definition id. */
const RECORDED_COLUMN_SHAPE_SQL = `(SELECT d.column_shape FROM arcore.sync_definitions d WHERE d.id = $1::bigint)`;

/** Positional parameters for one statement. */
class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * The metadata checks, as named SQL booleans over CTE `cur` (the SOURCE cursor row). `$1` is the definition id.
 */
function metaChecks(p: Prepared, params: Params): Partial<Record<Check, string>> {
  const { def } = p;
  const id = '$1::bigint';
  const checks: Partial<Record<Check, string>> = {
    'definition changed': `NOT coalesce((SELECT d.updated_at::text = ${params.add(p.version)} AND d.enabled
        FROM arcore.sync_definitions d WHERE d.id = ${id}), false)`,
    // RUNNING (a dead run to mark ABANDONED), FAILED, PARTIAL, incomplete, or too old: let a run look.
    'last push not a recent success': `NOT coalesce((SELECT l.status = 'SUCCEEDED' AND NOT coalesce(l.details ? 'incomplete', false)
          AND l.started_at > now() - make_interval(secs => ${params.add(IDLE_FULL_RUN_AFTER_SECONDS)}::int)
        FROM last l), false)`,
    'creates in flight': `EXISTS (SELECT 1 FROM arcore.sync_ledger WHERE definition_id = ${id} AND state = 'PENDING_CREATE')`,
    'moves in flight': `EXISTS (SELECT 1 FROM arcore.sync_moves WHERE definition_id = ${id})`,
    'parked rows due': `EXISTS (SELECT 1 FROM arcore.sync_failures WHERE definition_id = ${id} AND direction = 'PUSH'
        AND status = 'PARKED' AND next_attempt_at <= now())`,
    // A full comparison for deletes a run began and did not finish (I8): the next run continues it.
    'delete comparison owed': `coalesce((SELECT c.deletes_full_position IS NOT NULL FROM cur c), false)`,
  };
  if (def.source.cursor.type === 'LSN') {
    checks['no cursor yet'] =
      `NOT coalesce((SELECT c.cursor_type = 'LSN' AND c.value::jsonb->'load' = 'null'::jsonb
        FROM cur c), false)`;
    // A decision waiting to be applied. An undecided TRUNCATE waits for the operator, not for a run: a run would
    // only stop at it again, or hold the full comparison it blocks (capture/lsn/truncates.ts).
    checks['open TRUNCATE'] = `EXISTS (SELECT 1 FROM arcore.capture_truncates
        WHERE definition_id = ${id} AND applied_at IS NULL AND decision IS NOT NULL)`;
    checks['delete comparison owed'] =
      `coalesce((SELECT c.deletes_full_position IS NOT NULL FROM cur c), false)
        AND NOT EXISTS (SELECT 1 FROM arcore.capture_truncates
          WHERE definition_id = ${id} AND applied_at IS NULL AND decision IS NULL)`;
  } else {
    checks['no cursor yet'] =
      `NOT coalesce((SELECT c.cursor_type = 'TIMESTAMP' AND c.value::jsonb ? 'ts' FROM cur c), false)`;
    // A transaction stamped inside the window may commit up to overlapSeconds later (I5b): until a run has
    // read the window after that, the run's re-read could still find a row, so the probe does not guess. The
    // window's end is reckoned in the cursor column's own type (push/cursorValues.ts); only then is a naive value
    // read as an instant, in the session's TimeZone, to compare with the run's start.
    checks['overlap window open'] =
      `NOT coalesce((SELECT l.started_at > ((c.value::jsonb->>'ts')::${p.cursorType}
          + make_interval(secs => ${params.add(def.source.overlapSeconds)}::int))::timestamptz
        FROM last l, cur c WHERE c.cursor_type = 'TIMESTAMP'), false)`;
    // A continuation ended with the window its stopped run began with still owed a re-read (push/resumePosition.ts).
    checks['window re-read owed'] =
      `coalesce((SELECT c.progress IS NOT NULL FROM cur c WHERE c.cursor_type = 'TIMESTAMP'), false)`;
  }
  return checks;
}

/** TIMESTAMP: whether another definition reads the same table (then each sweeps; see push/deletes.ts). */
function sharedSql(p: Prepared, params: Params): string {
  const { def } = p;
  return `EXISTS (SELECT 1 FROM arcore.sync_definitions
      WHERE id <> $1::bigint AND document->'source'->>'table' = ${params.add(def.source.table)}
        AND coalesce(document->'source'->>'schema', 'public') = ${params.add(def.source.schema)}
        AND coalesce(document->'source'->>'connection', 'default') = ${params.add(def.source.connection)})`;
}

/** TIMESTAMP: whether the fallback sweep would run on this push (push/deletes.ts, sweepDue). */
function sweepDueSql(p: Prepared, params: Params): string {
  const interval = p.def.deletes.checkIntervalSeconds;
  if (interval === 0) return 'true';
  return `coalesce((SELECT c.deletes_checked_at < now() - make_interval(secs => ${params.add(interval)}::int)
      FROM cur c), true)`;
}

/**
 * TIMESTAMP source checks. `position` is the SQL text of the stored cursor (JSON `{ts, key}`): a row after it in
 * keyset order is work (the index install-cursor adds, on the cursor and key columns, makes it one seek). Rows
 * inside the overlap window behind it are the meta check's business ('overlap window open').
 */
function timestampSourceChecks(
  p: Prepared,
  params: Params,
  position: string,
  shared: string,
  sweepDue: string,
): Partial<Record<Check, string>> {
  const { def } = p;
  const columns = [def.source.cursor.column as string, ...def.source.key].map(quoteIdent).join(', ');
  const values = [
    `(${position}->>'ts')::${p.cursorType}`,
    ...p.keyCasts.map((cast, i) => `(${position}->'key'->>${i})::${cast}`),
  ].join(', ');
  const installed = installedSql(def, (v) => params.add(v));
  const tombstones = p.tombstones ? `EXISTS (SELECT 1 FROM ${tombstoneTable(def)})` : 'false';
  return {
    // Ordered and limited, not EXISTS: the planner cannot see the position's value (it comes from the cursor
    // row), guesses a third of the table matches and would scan it; asked for the first row in index order, it
    // seeks the (cursor, key) index instead.
    'rows after the cursor': `(SELECT true FROM ${qualifiedTable(def)} WHERE (${columns}) > (${values})
        ORDER BY ${columns} LIMIT 1) IS NOT NULL`,
    'delete detection changed': `${installed} IS DISTINCT FROM ${p.tombstones}`,
    // The trigger dropped or disabled (or put back): one run then says so (push/deletes.ts), in the same statement.
    'cursor trigger changed': `${triggerLostSql(def, (v) => params.add(v))} IS DISTINCT FROM ${p.cursorTriggerLost}`,
    'deletes recorded': `(${installed} AND NOT ${shared} AND ${tombstones})`,
    'delete sweep due': `(NOT (${installed} AND NOT ${shared}) AND ${sweepDue})`,
  };
}

/**
 * LSN source checks. `gate` is true when the peek may run: the definition's lock is free (a peek beside a run's
 * would make one of them fail: a slot serves one reader at a time) and no metadata check already wants a run.
 * The peek stops at the WAL position read first (upto_lsn) and returns at most PEEK_ROWS rows.
 */
function lsnSourceChecks(
  p: Prepared,
  params: Params,
  gate: string,
  recorded: string,
  recordedShape: string,
): { ctes: string; checks: Partial<Record<Check, string>> } {
  const names = p.names as LsnNames;
  const slot = params.add(names.slot);
  const publication = params.add(names.publication);
  const qualified = params.add(qualifiedName(p.def.source.schema, p.def.source.table));
  const ctes = `pos AS MATERIALIZED (SELECT pg_current_wal_insert_lsn() AS x),
    slot AS MATERIALIZED (
      SELECT s.confirmed_flush_lsn AS confirmed FROM pg_replication_slots s
       WHERE s.slot_name = ${slot} AND s.database = current_database() AND s.wal_status IS DISTINCT FROM 'lost'
         AND EXISTS (SELECT 1 FROM pg_publication_tables t WHERE t.pubname = ${publication}
                      AND t.schemaname = ${params.add(p.def.source.schema)} AND t.tablename = ${params.add(p.def.source.table)})),
    peek AS MATERIALIZED (
      SELECT count(*) AS n, count(*) FILTER (WHERE get_byte(c.data, 0) NOT IN (66, 67)) AS changes
        FROM pos, pg_logical_slot_peek_binary_changes(${slot}, pos.x, ${PEEK_ROWS},
               'proto_version', '1', 'publication_names', ${publication}) c
       WHERE ${gate} AND EXISTS (SELECT 1 FROM slot))`;
  return {
    ctes,
    checks: {
      // A missing or lost slot, or a publication without the table: the run knows how to recover.
      'slot behind': `coalesce((SELECT pos.x - slot.confirmed > ${p.slotLagBytes} FROM pos, slot), true)`,
      // Past the position the push recorded: moved by someone else, whose gap only a run's full re-read closes.
      'slot moved': `coalesce((SELECT slot.confirmed > ${recorded} FROM slot), false)`,
      'slot changes': `(SELECT (${gate}) AND EXISTS (SELECT 1 FROM slot) AND (peek.changes > 0 OR peek.n >= ${PEEK_ROWS})
          FROM peek)`,
      // The table out of the publication and back, or its partitions changed: not in the slot (capture/lsn/storage.ts).
      'capture shape changed': `coalesce(${recordedShape} <> ${shapeSql(publication, qualified)}, false)`,
    },
  };
}

function anyOf(checks: Partial<Record<Check, string>>): string {
  return Object.values(checks)
    .map((sql) => `(${sql})`)
    .join(' OR ');
}

function columnsOf(checks: Partial<Record<Check, string>>): string {
  return Object.entries(checks)
    .map(([name, sql]) => `(${sql}) AS ${quoteIdent(name)}`)
    .join(',\n    ');
}

/**
 * `last` is the last push proper: `resolve` records its run as a PUSH too, but it only writes one conflict's
 * values, so it says nothing of whether the pushes finished (a resolve after an incomplete push hid the work
 * that push left).
 */
const CURSOR_CTE = `cur AS MATERIALIZED (
    SELECT c.cursor_type, c.value, c.progress, c.deletes_checked_at, c.deletes_full_position, c.capture_shape
      FROM arcore.sync_cursors c
     WHERE c.definition_id = $1::bigint AND c.scope = 'SOURCE'),
    last AS MATERIALIZED (
    SELECT r.status, r.details, r.started_at FROM arcore.sync_runs r
     WHERE r.definition_id = $1::bigint AND r.run_type = 'PUSH' AND r.trigger <> 'resolve'
     ORDER BY r.started_at DESC LIMIT 1)`;

/** LSN: the slot position the push last recorded (the cursor copy); null without one. */
const RECORDED_LSN_SQL = `(SELECT (c.value::jsonb->>'lsn')::pg_lsn FROM cur c WHERE c.cursor_type = 'LSN')`;

/** LSN: the capture shape recorded when capture started; null without one (then not compared). */
const RECORDED_SHAPE_SQL = `(SELECT c.capture_shape FROM cur c WHERE c.cursor_type = 'LSN')`;

const BACKLOG_SQL = `${PARKED_COUNTS_SQL('$1::bigint')},
    (SELECT count(*) FROM arcore.sync_conflicts WHERE definition_id = $1::bigint AND status = 'OPEN') AS conflicts`;

/**
 * How stale `idle_checked_at` may get before a probe writes it again: most idle probes then write nothing, so
 * they commit no transaction (no WAL flush); `status`'s "last idle check" is at most this old while quiet.
 */
export const IDLE_MARK_SECONDS = 240;

/** Records the idle check for `status` without waiting on a run's page commit (SKIP LOCKED). */
const MARK_SQL = (when: string) => `UPDATE arcore.sync_cursors SET idle_checked_at = now()
      WHERE ctid = (SELECT ctid FROM arcore.sync_cursors WHERE definition_id = $1::bigint AND scope = 'SOURCE'
                      AND (idle_checked_at IS NULL OR idle_checked_at < now() - interval '${IDLE_MARK_SECONDS} seconds')
                      AND ${when} FOR UPDATE SKIP LOCKED)`;

type Row = Record<string, boolean | string | null>;

/**
 * A named statement: each connection plans the probe once and then reuses the plan, since planning its dozen
 * subqueries costs more than running them (measured: ~1–13 ms planning against ~1 ms execution). The name
 * follows the text, so a rebuilt probe is a new statement.
 */
function statement(text: string, values: unknown[]): QueryConfig {
  const digest = createHash('sha256').update(text).digest('hex').slice(0, 16);
  return { name: `arcore_idle_${digest}`, text, values };
}

function verdictOf(row: Row, checks: string[]): IdleVerdict {
  const busy = CHECKS.filter((c) => checks.includes(c) && row[c] === true);
  return {
    idle: busy.length === 0,
    busy,
    parkedFailures: Number(row.f ?? 0),
    openConflicts: Number(row.conflicts ?? 0),
    heldMoves: Number(row.m ?? 0),
  };
}

/** One statement: metadata and source checks, and the idle mark when idle (same database). */
async function probeTogether(p: Prepared): Promise<IdleVerdict> {
  const params = new Params();
  params.add(p.id);
  const meta = metaChecks(p, params);
  let ctes = CURSOR_CTE;
  let source: Partial<Record<Check, string>>;
  if (p.def.source.cursor.type === 'LSN') {
    const lock = `pg_try_advisory_xact_lock(${LOCK_NAMESPACE}, ($1::bigint)::int)`;
    ctes += `,\n    m AS MATERIALIZED (SELECT ${anyOf(meta)} AS busy, ${lock} AS locked)`;
    const lsn = lsnSourceChecks(
      p,
      params,
      '(SELECT m.locked AND NOT m.busy FROM m)',
      RECORDED_LSN_SQL,
      RECORDED_SHAPE_SQL,
    );
    ctes += `,\n    ${lsn.ctes}`;
    source = { 'run in progress': '(SELECT NOT m.locked FROM m)', ...lsn.checks };
  } else {
    source = timestampSourceChecks(
      p,
      params,
      `(SELECT c.value::jsonb FROM cur c WHERE c.cursor_type = 'TIMESTAMP')`,
      sharedSql(p, params),
      sweepDueSql(p, params),
    );
  }
  const all = { ...meta, ...source, ...shapeCheck(p, params, RECORDED_COLUMN_SHAPE_SQL) };
  const sql = `WITH ${ctes},
    v AS MATERIALIZED (SELECT ${columnsOf(all)}, ${BACKLOG_SQL}),
    mark AS (${MARK_SQL(
      `NOT (SELECT ${Object.keys(all)
        .map((k) => `v.${quoteIdent(k)}`)
        .join(' OR ')} FROM v)`,
    )})
    SELECT * FROM v`;
  const { rows } = await p.sourcePool.query<Row>(statement(sql, params.values));
  return verdictOf(rows[0], Object.keys(all));
}

/** Source and metadata in different databases: metadata first, then the source, then the mark. */
async function probeApart(ctx: EngineContext, p: Prepared): Promise<IdleVerdict> {
  const metaParams = new Params();
  metaParams.add(p.id);
  const meta = metaChecks(p, metaParams);
  const lsn = p.def.source.cursor.type === 'LSN';
  const extra =
    `, ${RECORDED_COLUMN_SHAPE_SQL} AS recorded_column_shape` +
    (lsn
      ? `, ${RECORDED_LSN_SQL}::text AS recorded_lsn, ${RECORDED_SHAPE_SQL} AS recorded_shape`
      : `, (SELECT c.value FROM cur c WHERE c.cursor_type = 'TIMESTAMP') AS position,
         ${sharedSql(p, metaParams)} AS shared, ${sweepDueSql(p, metaParams)} AS sweep_due`);
  const { rows: metaRows } = await ctx.meta.query<Row>(
    statement(`WITH ${CURSOR_CTE} SELECT ${columnsOf(meta)}, ${BACKLOG_SQL}${extra}`, metaParams.values),
  );
  const metaRow = metaRows[0];
  let verdict = verdictOf(metaRow, Object.keys(meta));
  if (!verdict.idle) return verdict;
  const params = new Params();
  let source: Partial<Record<Check, string>>;
  let ctes = '';
  const lock = lsn ? await tryLockDefinition(ctx.meta, p.id) : null;
  try {
    if (lsn) {
      if (!lock) return { ...verdict, idle: false, busy: ['run in progress'] };
      const checks = lsnSourceChecks(
        p,
        params,
        'true',
        `${params.add(metaRow.recorded_lsn)}::pg_lsn`,
        `${params.add(metaRow.recorded_shape)}::text`,
      );
      ctes = `WITH ${checks.ctes} `;
      source = checks.checks;
    } else {
      source = timestampSourceChecks(
        p,
        params,
        `${params.add(metaRow.position)}::jsonb`,
        `${params.add(metaRow.shared === true)}::boolean`,
        `${params.add(metaRow.sweep_due === true)}::boolean`,
      );
    }
    source = { ...source, ...shapeCheck(p, params, `${params.add(metaRow.recorded_column_shape)}::text`) };
    const { rows } = await p.sourcePool.query<Row>(
      statement(`${ctes}SELECT ${columnsOf(source)}`, params.values),
    );
    verdict = {
      ...verdictOf(rows[0], Object.keys(source)),
      parkedFailures: verdict.parkedFailures,
      openConflicts: verdict.openConflicts,
      heldMoves: verdict.heldMoves,
    };
  } finally {
    await lock?.release();
  }
  if (verdict.idle) await ctx.meta.query(MARK_SQL('true'), [p.id]);
  return verdict;
}

/**
 * Whether a push of the definition would find nothing to do. Null when the probe cannot tell (not prepared,
 * or it failed): the caller runs the push as usual.
 */
export async function probeIdle(ctx: EngineContext, definitionName: string): Promise<IdleVerdict | null> {
  let p: Prepared | null = null;
  try {
    p = await prepare(ctx, definitionName);
    if (!p) return null;
    // Per probe, not per cached entry: contexts sharing a metadata pool may bound it differently.
    p.slotLagBytes = Math.floor(ctx.idleSlotLagBytes ?? IDLE_SLOT_LAG_BYTES);
    const verdict = p.sameDatabase ? await probeTogether(p) : await probeApart(ctx, p);
    // Built from an older definition or table shape: rebuild on the next probe.
    if (
      verdict.busy.includes('definition changed') ||
      verdict.busy.includes('delete detection changed') ||
      verdict.busy.includes('cursor trigger changed') ||
      verdict.busy.includes('table shape changed')
    )
      forget(ctx, definitionName);
    return verdict;
  } catch (err) {
    forget(ctx, definitionName);
    ctx.log.info(
      `${definitionName}: idle probe could not tell (${(err as Error).message}); running the push`,
    );
    return null;
  }
}

/** The summary of a push the probe found idle: nothing done, no run recorded, no Graph request. */
export function idleSummary(definition: string, started: number, verdict: IdleVerdict): RunSummary {
  return {
    runId: null,
    definition,
    runType: 'PUSH',
    status: 'SUCCEEDED',
    idle: true,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    throttleWaitMs: 0,
    paceWaitMs: 0,
    graphRequests: 0,
    resourceUnits: 0,
    complete: true,
    resumeAfter: null,
    ...emptyCounts(),
    parkedFailures: verdict.parkedFailures,
    openConflicts: verdict.openConflicts,
    heldMoves: verdict.heldMoves,
    error: null,
  };
}

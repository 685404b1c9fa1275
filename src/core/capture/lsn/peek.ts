/**
 * A peek at the definition's slot, read in chunks. pg_logical_slot_peek_binary_changes returns whole
 * transactions (it stops only after the transaction that takes it past `upto_nchanges`), so one transaction
 * touching a million rows would come back as a million rows at once. The server keeps the function's result
 * in a tuplestore (spilled to a temporary file past work_mem); the client reads it through a holdable cursor a
 * chunk at a time, so the worker holds one chunk whatever the transaction's size (docs/design.md, I17).
 */
import { Client, type Pool, type QueryResult, type QueryResultRow } from 'pg';
import { quoteIdent } from '../../source/postgres/PostgresSource';
import { DELETE_CAPTURE_TRIGGER, tombstoneTableName } from '../../source/postgres/tombstones';
import type { RunScope } from '../../engine/runner';
import type { LsnNames } from './names';
import { lossReason, SlotLostError, type SlotChange } from './slot';
import { shapeSql } from './storage';

/** What the peek's first row says, read before its changes. */
export interface PeekHead {
  /**
   * The WAL position read first and passed to the peek as upto_lsn: the peek returns only transactions that
   * commit before it, so a transaction committing later is left for the next peek.
   */
  walLsn: string;
  /**
   * The server had flushed WAL up to `walLsn` before the peek began, so the peek decoded all of it: with no
   * change returned, nothing of the table committed before `walLsn`, and the slot may move there. (Decoding
   * reads flushed WAL only; with asynchronous commits the insert position can be ahead of it.)
   */
  flushed: boolean;
  /**
   * How far the server had flushed WAL before the peek began: a peek bounded by it (upto) decodes all of its WAL.
   * On a busy server other sessions keep the insert position ahead of it at every look.
   */
  flushLsn: string;
  /** The TIMESTAMP-era delete-capture trigger or its tombstone table is still on the table. */
  deleteCapture: boolean;
  /**
   * The slot's confirmed position (confirmed_flush_lsn) as the peek began: the push records a position before it
   * moves the slot there, so a slot ahead of the recorded one was moved by someone else (push.ts).
   */
  slotConfirmed: string | null;
  /** The table's capture shape as the peek began (storage.ts): compared with the one recorded (push.ts). */
  shape: string;
}

export interface SlotPeek {
  readonly head: PeekHead;
  /** The next messages in slot order; empty at the end. */
  next(): Promise<SlotChange[]>;
  /** Frees the server-side cursor (always call it, also after an error). */
  close(): Promise<void>;
}

/**
 * A connection a cursor can live on across statements: the run's lock connection (store/locks.ts), which the run
 * holds for its whole life anyway.
 */
export interface CursorSession {
  query<R extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

/**
 * A peek small enough for one round trip (an idle one, a few small transactions) is read whole when it has at
 * most this many chunks; a bigger one is read again through the cursor (the server decodes it twice, the
 * worker holds a chunk).
 */
const PLAIN_CHUNKS = 4;

const CURSOR = 'arcore_peek';

const changesSql = (
  upto: string,
) => `SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes($1,
  ${upto}, $2, 'proto_version', '1', 'publication_names', $3)`;

function asLoss(slot: string, err: unknown): unknown {
  const reason = lossReason(err);
  return reason ? new SlotLostError(slot, reason, err) : err;
}

/**
 * Opens a peek of up to about `limit` changes (whole transactions) and reads its first row: the WAL position,
 * whether the publication still holds the table (pgoutput skips a missing publication silently on recent
 * servers, which would drop changes without a word), and whether delete capture is installed on the table.
 * `chunk` bounds the messages the worker holds at once. `upto` stops at that position instead of the current
 * insert position (a second look at the same WAL once the server has flushed it).
 */
export async function openPeek(
  pool: Pool,
  names: LsnNames,
  schema: string,
  table: string,
  limit: number,
  chunk: number,
  upto: string | null = null,
  session: CursorSession | null = null,
): Promise<SlotPeek> {
  const plainRows = PLAIN_CHUNKS * chunk;
  let rows: {
    lsn: string | null;
    data: Buffer | null;
    published: boolean | null;
    dc: boolean | null;
    flushed: boolean | null;
    flush: string | null;
    confirmed: string | null;
    shape: string | null;
  }[];
  try {
    ({ rows } = await pool.query(
      `WITH pos AS MATERIALIZED (
         SELECT coalesce($10::pg_lsn, pg_current_wal_insert_lsn()) AS x, pg_current_wal_flush_lsn() AS f)
       SELECT * FROM (
         SELECT pos.x::text AS lsn, NULL::bytea AS data,
                EXISTS (SELECT 1 FROM pg_publication_tables
                         WHERE pubname = $3 AND schemaname = $4 AND tablename = $5) AS published,
                (to_regclass($6) IS NOT NULL OR EXISTS (
                   SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($7) AND tgname = $8)) AS dc,
                pos.f >= pos.x AS flushed, pos.f::text AS flush,
                (SELECT s.confirmed_flush_lsn::text FROM pg_replication_slots s WHERE s.slot_name = $1) AS confirmed,
                ${shapeSql('$3', '$7')} AS shape
           FROM pos
         UNION ALL
         SELECT c.lsn, c.data, NULL, NULL, NULL, NULL, NULL, NULL FROM pos, LATERAL (${changesSql('pos.x')}) c
       ) p LIMIT $9`,
      [
        names.slot,
        limit,
        names.publication,
        schema,
        table,
        `${quoteIdent(schema)}.${quoteIdent(tombstoneTableName(table))}`,
        `${quoteIdent(schema)}.${quoteIdent(table)}`,
        DELETE_CAPTURE_TRIGGER,
        plainRows + 2,
        upto,
      ],
    ));
  } catch (err) {
    throw asLoss(names.slot, err);
  }
  const headRow = rows.find((r) => r.data === null);
  if (headRow?.published !== true)
    throw new SlotLostError(
      names.slot,
      'publication missing',
      new Error(`publication "${names.publication}" does not publish ${schema}.${table}`),
    );
  const head: PeekHead = {
    walLsn: headRow.lsn as string,
    deleteCapture: headRow.dc === true,
    flushed: headRow.flushed === true,
    flushLsn: headRow.flush as string,
    slotConfirmed: headRow.confirmed,
    shape: headRow.shape as string,
  };
  const plain = rows
    .filter((r) => r.data !== null)
    .map((r) => ({ lsn: r.lsn as string, data: r.data as Buffer }));
  if (plain.length <= plainRows) {
    let pending: SlotChange[] | null = plain;
    return {
      head,
      next: () => {
        const out = pending ?? [];
        pending = null;
        return Promise.resolve(out);
      },
      close: () => Promise.resolve(),
    };
  }
  return session
    ? openCursorOn(session, names, head, limit, chunk)
    : openCursor(pool, names, head, limit, chunk);
}

/**
 * A peek of the run's definition: its table, pages of `def.source.pageSize` messages, the cursor (for a big peek)
 * on the run's lock connection when it can live there.
 */
export function openRunPeek(
  scope: Pick<RunScope, 'sourcePool' | 'def' | 'lockSession'>,
  names: LsnNames,
  limit: number,
  upto: string | null,
): Promise<SlotPeek> {
  const { def } = scope;
  const page = def.source.pageSize;
  return openPeek(
    scope.sourcePool,
    names,
    def.source.schema,
    def.source.table,
    limit,
    page,
    upto,
    scope.lockSession,
  );
}

const declareSql = `DECLARE ${CURSOR} NO SCROLL CURSOR WITH HOLD FOR ${changesSql('$4::pg_lsn')}`;

/**
 * The cursor on the run's lock connection (source and metadata in one database): no connection beyond the
 * pool's PG_POOL_MAX, and none taken from the pool while the run needs it for its page reads and writes. The
 * lock's session is idle otherwise; close() closes the cursor and the session stays with the lock (a lost
 * connection is a lost lock, which stops the run anyway).
 */
async function openCursorOn(
  session: CursorSession,
  names: LsnNames,
  head: PeekHead,
  limit: number,
  chunk: number,
): Promise<SlotPeek> {
  try {
    // The same bound as the first read: the cursor returns the same transactions, whatever committed since.
    await session.query(declareSql, [names.slot, limit, names.publication, head.walLsn]);
  } catch (err) {
    throw asLoss(names.slot, err);
  }
  let open = true;
  const close = async () => {
    if (!open) return;
    open = false;
    // Frees what the server kept for the cursor; a failure leaves it to CLOSE ALL at the lock's release.
    await session.query(`CLOSE ${CURSOR}`).catch(() => undefined);
  };
  return {
    head,
    async next() {
      if (!open) return [];
      try {
        const { rows } = await session.query<{ lsn: string; data: Buffer }>(
          `FETCH FORWARD ${Math.max(1, Math.floor(chunk))} FROM ${CURSOR}`,
        );
        return rows;
      } catch (err) {
        await close();
        throw asLoss(names.slot, err);
      }
    },
    close,
  };
}

/**
 * Connections opened for a cursor outside a pool (source in another database than the lock, or a dry run
 * without a lock), at most one at a time per pool: a process's connections to a source stay within
 * PG_POOL_MAX + 1. A second big peek waits for the first to close, which needs nothing of the waiter.
 */
const ownConnections = new WeakMap<Pool, Promise<void>>();

async function takeOwnConnectionTurn(pool: Pool): Promise<() => void> {
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  const before = ownConnections.get(pool) ?? Promise.resolve();
  const chained = before.then(() => mine);
  ownConnections.set(pool, chained);
  await before;
  return () => {
    done();
    if (ownConnections.get(pool) === chained) ownConnections.delete(pool);
  };
}

/**
 * The same peek through `DECLARE … WITH HOLD`: the declaring statement commits at once (the result is kept
 * by the server, no transaction stays open while the run writes to SharePoint, so vacuum is not held back),
 * then FETCH reads it a chunk at a time on the connection the cursor lives on. Without the lock's connection on
 * the source's database, that connection is opened for the cursor, outside the pool: taken from the source's
 * pool for the whole peek, two runs of one process peeking at once with PG_POOL_MAX 2 would hold both
 * connections and wait for ever for their page reads. At most one such connection per pool at a time.
 */
async function openCursor(
  pool: Pool,
  names: LsnNames,
  head: PeekHead,
  limit: number,
  chunk: number,
): Promise<SlotPeek> {
  // The pool's own client class (it closes sockets the way the pool relies on), a Client subclass.
  const ClientClass = (pool.options.Client as typeof Client | undefined) ?? Client;
  const release = await takeOwnConnectionTurn(pool);
  const client = new ClientClass(pool.options);
  let failure: Error | null = null;
  // Without a listener a dropped connection would crash the worker; the next FETCH reports it instead.
  client.on('error', (err: Error) => (failure = err));
  const end = () =>
    client
      .end()
      .catch(() => undefined)
      .finally(release);
  try {
    await client.connect();
    // The same bound as the first read: the cursor returns the same transactions, whatever committed since.
    await client.query(declareSql, [names.slot, limit, names.publication, head.walLsn]);
  } catch (err) {
    await end();
    throw asLoss(names.slot, err);
  }
  let open = true;
  return {
    head,
    async next() {
      if (!open) return [];
      try {
        if (failure) throw failure;
        const { rows } = await client.query<{ lsn: string; data: Buffer }>(
          `FETCH FORWARD ${Math.max(1, Math.floor(chunk))} FROM ${CURSOR}`,
        );
        return rows;
      } catch (err) {
        open = false;
        await end();
        throw asLoss(names.slot, err);
      }
    },
    async close() {
      if (!open) return;
      open = false;
      await end(); // the session's end closes the cursor and frees what the server kept for it
    },
  };
}

import type pLimit from 'p-limit';
import { RunTimeBudgetError } from '../../budget/errors';
import {
  GraphAuthError,
  GraphOutcomeUnknownError,
  GraphRequestError,
  GraphResponseShapeError,
  permissionNeededFor,
} from './errors';
import { parseBatchResponse, parseFields, parseListItem, type BatchResponseItem } from './graphSchemas';
import { graphErrorOf, throttlingOf, type GraphTransport } from './GraphTransport';
import { parseRetryAfterMs } from './pacing';
import type { ListItem, WriteOp, WriteOutcome } from './types';

/** Graph refuses a `$batch` of more than 20 requests (graph.md "$batch"). */
export const MAX_BATCH_SIZE = 20;

/** Every item write costs 2 resource units, inside a batch too. */
const WRITE_UNITS = 2;

/** What a 429 without Retry-After makes us wait. */
const DEFAULT_THROTTLE_WAIT_MS = 5_000;

/** The reads the writer needs to settle writes whose outcome is unknown. */
export interface WriteReconciler {
  findItemsByField(field: string, value: string): Promise<ListItem[]>;
  getItem(itemId: string): Promise<ListItem | null>;
  /** The list's date-only columns (internal names): their values read back as another instant of the same day. */
  dateOnlyFields?(): Promise<ReadonlySet<string>>;
}

interface PendingWrite {
  index: number;
  op: WriteOp;
  /** A previous send may have applied it (the connection dropped, a 5xx): a 404 on a delete is then success. */
  uncertain: boolean;
}

function itemsPath(siteId: string, listId: string): string {
  return `/sites/${siteId}/lists/${listId}/items`;
}

function batchRequestFor(siteId: string, listId: string, pending: PendingWrite) {
  const { op } = pending;
  const id = String(pending.index);
  const ifMatch = op.kind !== 'create' && op.eTag ? { 'If-Match': op.eTag } : {};
  switch (op.kind) {
    case 'create':
      return {
        id,
        method: 'POST',
        url: itemsPath(siteId, listId),
        headers: { 'Content-Type': 'application/json' },
        body: { fields: op.fields },
      };
    case 'update':
      return {
        id,
        method: 'PATCH',
        url: `${itemsPath(siteId, listId)}/${encodeURIComponent(op.itemId)}/fields`,
        headers: { 'Content-Type': 'application/json', ...ifMatch },
        body: op.fields,
      };
    case 'delete':
      return {
        id,
        method: 'DELETE',
        url: `${itemsPath(siteId, listId)}/${encodeURIComponent(op.itemId)}`,
        headers: ifMatch,
      };
  }
}

/**
 * `Headers.get` over an inner response's header record, without building a `Headers` per item: values
 * of the name in any case, in order, joined by ", " (as `Headers` combines them); null when absent. The
 * names are lowercased once, on the first read (a batch's answers are read several times each).
 */
export function headerReader(headers: Record<string, string>): Pick<Headers, 'get'> {
  let byName: Map<string, string> | undefined;
  return {
    get(name: string): string | null {
      if (byName === undefined) {
        byName = new Map();
        for (const key of Object.keys(headers)) {
          const lower = key.toLowerCase();
          const before = byName.get(lower);
          byName.set(lower, before === undefined ? headers[key] : `${before}, ${headers[key]}`);
        }
      }
      return byName.get(name.toLowerCase()) ?? null;
    },
  };
}

/** Values as Graph reads them back, comparable with the values we wrote (lookup ids read as strings). */
function comparable(value: unknown): unknown {
  if (value === undefined || value === null || value === '') return null;
  if (Array.isArray(value)) {
    return value.map((element: unknown) =>
      typeof element === 'object' && element !== null && 'LookupId' in element
        ? comparable(element.LookupId)
        : comparable(element),
    );
  }
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  return value;
}

function sameValue(written: unknown, read: unknown): boolean {
  const a = comparable(written);
  const b = comparable(read);
  if (Array.isArray(a) && a.length === 0 && b === null) return true;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The value Graph reads back for a written key: a multi-valued lookup comes back under its column name. */
function readBack(actual: Record<string, unknown>, key: string): unknown {
  if (key in actual || !key.endsWith('LookupId')) return actual[key];
  return actual[key.slice(0, -'LookupId'.length)];
}

/**
 * A date-only column holds a day: the engine writes noon of it in the site's time zone, SharePoint keeps midnight
 * and reads that back (docs/design.md, "Date-only values and the site's time zone"). Two instants of one day are
 * less than 14 hours apart (12, or 11 and 13 across a daylight-saving change); midnights of two days at least 23.
 */
const SAME_DAY_WITHIN_MS = 14 * 3_600_000;

function sameDay(written: unknown, read: unknown): boolean {
  const a = comparable(written);
  const b = comparable(read);
  if (typeof a !== 'string' || typeof b !== 'string') return sameValue(written, read);
  const [at, bt] = [Date.parse(a), Date.parse(b)];
  if (Number.isNaN(at) || Number.isNaN(bt)) return sameValue(written, read);
  return Math.abs(at - bt) < SAME_DAY_WITHIN_MS;
}

/**
 * Whether an item already holds every value an update meant to write (annotations aside). `dateOnly`: fields
 * compared by their day (sameDay), since SharePoint reads a date-only value back as midnight, not the noon written.
 */
export function fieldsAlreadyApplied(
  intended: Record<string, unknown>,
  actual: Record<string, unknown>,
  dateOnly: ReadonlySet<string> = new Set(),
): boolean {
  return Object.entries(intended).every(
    ([key, value]) =>
      key.includes('@odata.') || (dateOnly.has(key) ? sameDay : sameValue)(value, readBack(actual, key)),
  );
}

/** What a `write` stopped by the run's time budget did, by the error it threw (see outcomesBeforeStop). */
const stoppedWrites = new WeakMap<RunTimeBudgetError, WriteOutcome[]>();

/**
 * I16: the outcomes of a `write` that threw `error` because the run's time budget stopped some of its batches (a 429
 * block or pacing beyond the deadline, met before they left), one per op: the batches that went through give theirs;
 * a write of a stopped batch is `failed` and `stopped`, with `notSent` when it never left (or was answered 429
 * only), without when an earlier attempt's fate was lost (its create may still land, I6).
 * Undefined for any other failure, which keeps nothing (a lost lock, I11).
 */
export function outcomesBeforeStop(error: unknown): WriteOutcome[] | undefined {
  return error instanceof RunTimeBudgetError ? stoppedWrites.get(error) : undefined;
}

/** Gives the writes of a chunk stopped by the time budget that have no outcome yet theirs (outcomesBeforeStop). */
function stoppedAt(
  chunk: PendingWrite[],
  outcomes: WriteOutcome[],
  mayBeApplied: Set<number>,
  error: RunTimeBudgetError,
): void {
  for (const write of chunk) {
    if (outcomes[write.index] !== undefined) continue;
    outcomes[write.index] = mayBeApplied.has(write.index)
      ? {
          ref: write.op.ref,
          status: 'failed',
          message: `outcome unknown when the run stopped: ${error.message}`,
          stopped: true,
        }
      : {
          ref: write.op.ref,
          status: 'failed',
          message: `not sent: ${error.message}`,
          notSent: true,
          stopped: true,
        };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Writes items through `$batch` requests of up to 20 (I10), each op getting its own outcome. Throttled
 * items (inner 429) are re-sent alone after the largest Retry-After among them. When a write's fate
 * is unknown (connection dropped, outer 5xx, inner 5xx including 503, missing inner response) nothing is
 * re-sent blindly (I6):
 * creates are looked up by their `adoptBy` field and adopted when found, updates are re-read and count
 * as done when the item already holds the values, deletes are re-sent and a 404 then means deleted.
 */
export class BatchWriter {
  constructor(
    private readonly transport: GraphTransport,
    private readonly siteId: string,
    private readonly listId: string,
    private readonly reconciler: WriteReconciler,
    /**
     * The run's slots for batches in flight, shared by every `write` of the target (SharePointTarget): a page's
     * batches queue before those of the page written after it, so pages finish in the order they started.
     */
    private readonly slots: pLimit.Limit,
    /**
     * Throws when the run may no longer write (its lock is lost): checked right before each attempt of a batch
     * leaves, after the transport's waits (I11).
     */
    private readonly beforeWrite: () => void = () => undefined,
  ) {}

  async write(ops: readonly WriteOp[]): Promise<WriteOutcome[]> {
    const outcomes: WriteOutcome[] = new Array<WriteOutcome>(ops.length);
    const chunks: PendingWrite[][] = [];
    for (let start = 0; start < ops.length; start += MAX_BATCH_SIZE) {
      chunks.push(
        ops
          .slice(start, start + MAX_BATCH_SIZE)
          .map((op, offset) => ({ index: start + offset, op, uncertain: false })),
      );
    }
    // Every chunk ends before a failure is passed on: a run that stops on it (busy, I16) must have no batch still
    // in flight when it lets go of its lock (I11). Once one chunk is stopped by the run's time budget, the chunks
    // queued behind it are not sent either.
    let stop: RunTimeBudgetError | null = null;
    const mayBeApplied = new Set<number>();
    const ended = await Promise.allSettled(
      chunks.map((chunk) =>
        this.slots(async () => {
          try {
            if (stop) throw stop;
            await this.writeChunk(chunk, outcomes, mayBeApplied);
          } catch (error) {
            if (error instanceof RunTimeBudgetError) {
              stop ??= error;
              stoppedAt(chunk, outcomes, mayBeApplied, error);
            }
            throw error;
          }
        }),
      ),
    );
    const failures = ended.flatMap((e) => (e.status === 'rejected' ? [e.reason as unknown] : []));
    if (failures.length === 0) return outcomes;
    // I16: stopped by the time budget alone, what was done is known (outcomesBeforeStop); any other failure
    // (a lost lock, I11) keeps nothing.
    const other = failures.find((f) => !(f instanceof RunTimeBudgetError));
    if (other !== undefined) throw other;
    const budget = failures[0] as RunTimeBudgetError;
    stoppedWrites.set(budget, outcomes);
    throw budget;
  }

  /** `mayBeApplied`: indexes of writes sent with an unknown outcome, kept if the chunk is stopped (I6). */
  private async writeChunk(
    chunk: PendingWrite[],
    outcomes: WriteOutcome[],
    mayBeApplied: Set<number>,
  ): Promise<void> {
    let pending = chunk;
    let transientAttempts = 0;
    let throttledMs = 0;
    const settle = (write: PendingWrite, outcome: WriteOutcome) => {
      outcomes[write.index] = outcome;
    };
    const failAll = (writes: PendingWrite[], message: string) => {
      for (const write of writes) settle(write, { ref: write.op.ref, status: 'failed', message });
    };

    while (pending.length > 0) {
      let responses: Map<string, BatchResponseItem> | undefined;
      let unknownReason: string | undefined;
      const roundTrip = { ms: 0 };
      try {
        responses = await this.sendBatch(pending, roundTrip);
        this.traceBatch(pending, responses, roundTrip.ms);
      } catch (error) {
        // Stopped before it left: the run may no longer write (`beforeWrite`, checked by the transport right before
        // each attempt leaves, after its waits) or a wait outlasts its time budget. Its pending creates stay pending
        // (I6) and nothing is traced as sent.
        if (!(
          error instanceof GraphRequestError ||
          error instanceof GraphOutcomeUnknownError ||
          error instanceof GraphResponseShapeError
        ))
          throw error;
        this.traceBatch(pending, undefined, roundTrip.ms, error);
        if (error instanceof GraphOutcomeUnknownError || error instanceof GraphResponseShapeError) {
          unknownReason = error.message;
        } else if (error instanceof GraphRequestError && !(error instanceof GraphAuthError)) {
          for (const write of pending) {
            settle(
              write,
              error.status >= 400 && error.status < 500 && error.status !== 429
                ? refused(write, error.status, error.code, error.message)
                : { ref: write.op.ref, status: 'failed', message: error.message },
            );
          }
          return;
        } else {
          throw error;
        }
      }

      const throttled: PendingWrite[] = [];
      const unknown: PendingWrite[] = [];
      let throttleWaitMs = 0;
      // Inner 503s that carry Retry-After: SharePoint throttling the app (GraphTransport `throttlingOf`).
      let unavailableWaitMs = 0;
      let throttled503 = 0;
      if (responses === undefined) {
        unknown.push(...pending);
        for (const write of pending) mayBeApplied.add(write.index);
      } else {
        for (const write of pending) {
          const response = responses.get(String(write.index));
          const headers = response?.headers ? headerReader(response.headers) : undefined;
          // Each inner request is charged on its own, so RateLimit-* headers come inside the batch.
          if (headers) this.transport.noteRateLimitHeaders(headers);
          const retryAfter = parseRetryAfterMs(headers?.get('retry-after'));
          if (response === undefined) {
            unknown.push(write);
            mayBeApplied.add(write.index);
            unknownReason ??= `the batch response had no answer for request ${write.index}`;
          } else if (response.status === 429) {
            throttled.push(write);
            throttleWaitMs = Math.max(throttleWaitMs, retryAfter ?? DEFAULT_THROTTLE_WAIT_MS);
          } else if (response.status === 503) {
            // Nothing documents that a 503 means "not applied" (https://learn.microsoft.com/en-us/graph/errors:
            // "temporarily unavailable"), and SharePoint has answered 503 after applying a write: settle it
            // like any unknown outcome (a create is looked up by its hidden key before it is sent again). With
            // Retry-After it is also SharePoint throttling the app: the look-ups wait out the shared block first.
            unknown.push(write);
            mayBeApplied.add(write.index);
            unknownReason ??= `the batch answered 503 for request ${write.index}`;
            const throttling = headers ? throttlingOf(503, headers) : undefined;
            if (throttling) {
              throttled503 += 1;
              unavailableWaitMs = Math.max(unavailableWaitMs, throttling.waitMs);
            }
          } else if (response.status >= 500) {
            unknown.push(write);
            mayBeApplied.add(write.index);
            unknownReason ??= `the batch answered ${response.status} for request ${write.index}`;
          } else {
            settle(write, await this.outcomeOf(write, response));
          }
        }
      }

      const next: PendingWrite[] = [];
      if (throttled.length > 0) {
        // Blocks every request of the app (here and through the gate) until the largest Retry-After.
        const honouredMs = await this.transport.noteThrottled(throttleWaitMs, throttled.length);
        if (throttledMs + honouredMs > this.transport.maxThrottleWaitMs) {
          // A 429 was not applied (https://learn.microsoft.com/en-us/graph/throttling): known not applied unless an
          // earlier attempt's outcome was unknown (`uncertain`).
          for (const write of throttled)
            settle(write, {
              ref: write.op.ref,
              status: 'failed',
              message: `throttled for more than ${this.transport.maxThrottleWaitMs} ms`,
              ...(write.uncertain ? {} : { notSent: true as const }),
            });
        } else {
          throttledMs += honouredMs;
          next.push(...throttled);
        }
      }
      // Blocks every request of the app, capped, like a 429; the reads that settle these writes wait it out in the
      // transport (or stop the run when it outlasts the run's deadline, before any read is sent).
      if (throttled503 > 0) await this.transport.noteThrottled(unavailableWaitMs, throttled503, 503);
      if (unknown.length > 0) {
        if (transientAttempts >= this.transport.maxTransientRetries) {
          failAll(unknown, `${unknownReason ?? 'outcome unknown'} (after ${transientAttempts} retries)`);
        } else {
          transientAttempts += 1;
          await this.transport.transientBackoff(transientAttempts);
          next.push(...(await this.reconcile(unknown, settle)));
        }
      }
      pending = next.sort((a, b) => a.index - b.index);
    }
  }

  /** Reports one `$batch` round trip: its size, units and inner statuses (or the outer failure). */
  private traceBatch(
    pending: PendingWrite[],
    responses: Map<string, BatchResponseItem> | undefined,
    ms: number,
    error?: unknown,
  ): void {
    const statuses: Record<string, number> = {};
    const count = (status: string) => (statuses[status] = (statuses[status] ?? 0) + 1);
    for (const write of pending) {
      const response = responses?.get(String(write.index));
      if (response) count(String(response.status));
      else if (error instanceof GraphRequestError) count(String(error.status));
      else count('unknown');
    }
    this.transport.noteBatch({
      kind: 'batch',
      writes: pending.length,
      resourceUnits: WRITE_UNITS * pending.length,
      statuses,
      ms,
    });
  }

  private async sendBatch(
    pending: PendingWrite[],
    roundTrip: { ms: number },
  ): Promise<Map<string, BatchResponseItem>> {
    const body = { requests: pending.map((write) => batchRequestFor(this.siteId, this.listId, write)) };
    const parsed = await this.transport.request(
      'POST',
      '$batch',
      { safeParse: parseBatchResponse },
      {
        body,
        resourceUnits: WRITE_UNITS * pending.length,
        safeToRetry: false,
        onRoundTrip: (ms) => (roundTrip.ms = ms),
        // Checked again after the transport's waits (a 429 block, pacing), right before the batch leaves (I11).
        beforeSend: this.beforeWrite,
      },
    );
    return new Map(parsed.responses.map((response) => [response.id, response]));
  }

  private async outcomeOf(write: PendingWrite, response: BatchResponseItem): Promise<WriteOutcome> {
    const { op } = write;
    const ref = op.ref;
    const { status } = response;
    if (status >= 200 && status < 300) {
      switch (op.kind) {
        case 'create': {
          const item = parseListItem(response.body);
          if (!item.success) {
            return {
              ref,
              status: 'failed',
              message: `created, but the response is not a listItem: ${item.error.message}`,
            };
          }
          const eTag = item.data.eTag ?? stringField(item.data.fields, '@odata.etag');
          if (eTag === undefined)
            return { ref, status: 'failed', message: 'created, but the response has no eTag' };
          return {
            ref,
            status: 'created',
            itemId: item.data.id,
            eTag,
            adopted: false,
            lastModifiedDateTime: item.data.lastModifiedDateTime,
            ...(item.data.fields ? { fields: item.data.fields } : {}),
          };
        }
        case 'update': {
          // PATCH …/fields answers with the field map only; its @odata.etag is the item's new eTag.
          const fields = parseFields(response.body);
          const eTag = fields.success ? stringField(fields.data, '@odata.etag') : undefined;
          if (fields.success && eTag !== undefined)
            return { ref, status: 'updated', eTag, fields: fields.data };
          const item = await this.reconciler.getItem(op.itemId);
          return item
            ? { ref, status: 'updated', eTag: item.eTag, fields: item.fields, readBack: true }
            : { ref, status: 'not_found' };
        }
        case 'delete':
          return { ref, status: 'deleted' };
      }
    }
    if (status === 412 || (status === 409 && op.kind !== 'create'))
      return { ref, status: 'precondition_failed' };
    if (status === 404 && op.kind !== 'create') {
      return op.kind === 'delete' && write.uncertain
        ? { ref, status: 'deleted' }
        : { ref, status: 'not_found' };
    }
    const { code, message } = graphErrorOf({ status, body: response.body });
    if (status === 403) {
      const request = batchRequestFor(this.siteId, this.listId, write);
      const needed = permissionNeededFor(request.method, request.url);
      return refused(write, status, code, `permission denied (${code}: ${message}): the app needs ${needed}`);
    }
    return refused(write, status, code, message);
  }

  /**
   * Settles the writes of a batch whose fate is unknown, returning those that must be sent again. Reads
   * that fail leave the write failed: guessing would risk a duplicate item or a lost update.
   */
  private async reconcile(
    writes: PendingWrite[],
    settle: (write: PendingWrite, outcome: WriteOutcome) => void,
  ): Promise<PendingWrite[]> {
    const resend: PendingWrite[] = [];
    await Promise.all(
      writes.map(async (write) => {
        const { op } = write;
        try {
          if (op.kind === 'create') {
            if (!op.adoptBy) {
              settle(write, {
                ref: op.ref,
                status: 'failed',
                message:
                  'the create may or may not have been applied and it has no adoptBy field to find it by',
              });
              return;
            }
            const found = await this.reconciler.findItemsByField(op.adoptBy.field, op.adoptBy.value);
            const item = found.sort((a, b) => Number(a.id) - Number(b.id))[0];
            if (item) {
              settle(write, {
                ref: op.ref,
                status: 'created',
                itemId: item.id,
                eTag: item.eTag,
                adopted: true,
                lastModifiedDateTime: item.lastModifiedDateTime,
                fields: item.fields,
              });
              return;
            }
          } else if (op.kind === 'update') {
            const item = await this.reconciler.getItem(op.itemId);
            if (item === null) {
              settle(write, { ref: op.ref, status: 'not_found' });
              return;
            }
            if (fieldsAlreadyApplied(op.fields, item.fields, await this.reconciler.dateOnlyFields?.())) {
              settle(write, {
                ref: op.ref,
                status: 'updated',
                eTag: item.eTag,
                fields: item.fields,
                readBack: true,
              });
              return;
            }
          }
          resend.push({ ...write, uncertain: true });
        } catch (error) {
          // A 429 block beyond the run's time budget makes the run busy, not the write failed (I16): the run stops
          // before its page commits, nothing is parked, and the next run finds the write's row again (a create by
          // its pending entry, an update by its If-Match).
          if (error instanceof GraphAuthError || error instanceof RunTimeBudgetError) throw error;
          settle(write, {
            ref: op.ref,
            status: 'failed',
            message: `outcome unknown and could not be checked: ${describe(error)}`,
          });
        }
      }),
    );
    return resend;
  }
}

/**
 * SharePoint refused a write (4xx): nothing of this attempt was applied. A create re-sent after an attempt whose
 * outcome stayed unknown is the exception: that first attempt may still have made the item (SharePoint may apply
 * it after the look-up that did not find it), so the create's outcome stays unknown (no `notSent`), its entry
 * stays PENDING_CREATE and the next run's settle looks for the item by key before creating it again (I6).
 */
function refused(write: PendingWrite, httpStatus: number, code: string, message: string): WriteOutcome {
  const ref = write.op.ref;
  if (write.uncertain && write.op.kind === 'create')
    return {
      ref,
      status: 'failed',
      message:
        `re-sent after an attempt whose outcome is unknown, and refused (${httpStatus} ${code}: ${message}); ` +
        'the first attempt may still have made the item',
    };
  return { ref, status: 'rejected', httpStatus, code, message };
}

function stringField(fields: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = fields?.[key];
  return typeof value === 'string' ? value : undefined;
}

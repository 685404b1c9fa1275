/** The shapes the push and pull engines exchange with the SharePoint target. */

/**
 * One write. `ref` is the caller's handle (e.g. a source identity hash) echoed in the outcome. `adoptBy`
 * names an indexed field whose value identifies the row: when a create's outcome is unknown (dropped
 * connection, 5xx), the item found by it is adopted instead of creating a second one (I6).
 */
export type WriteOp =
  | {
      kind: 'create';
      ref: string;
      fields: Record<string, unknown>;
      adoptBy?: { field: string; value: string };
    }
  | { kind: 'update'; ref: string; itemId: string; eTag?: string; fields: Record<string, unknown> }
  | { kind: 'delete'; ref: string; itemId: string; eTag?: string };

export type WriteOutcome =
  | {
      ref: string;
      status: 'created';
      itemId: string;
      eTag: string;
      adopted: boolean;
      lastModifiedDateTime?: string;
      /** The item's fields as SharePoint stored them, when the answer carried them. */
      fields?: Record<string, unknown>;
    }
  | {
      ref: string;
      status: 'updated';
      eTag: string;
      fields?: Record<string, unknown>;
      /**
       * Settled by reading the item after the write (its answer was lost or carried no eTag): `eTag` and `fields` are
       * the item as read, which may include another's edit made since the write (as an `adopted` create's may).
       */
      readBack?: true;
    }
  | { ref: string; status: 'deleted' }
  /** 412, or 409 resourceModified: the item changed since the eTag we hold (I7). */
  | { ref: string; status: 'precondition_failed' }
  | { ref: string; status: 'not_found' }
  /** Graph refused the write (400 and other 4xx), with its code and message. */
  | { ref: string; status: 'rejected'; httpStatus: number; code: string; message: string }
  /**
   * Transient retries exhausted, throttled too long, or an outcome that could not be settled. `notSent`: known not
   * applied (never sent, or answered 429 only), so no create of it can still land. `stopped`: its batch was stopped
   * by the run's time budget (I16, batchWriter.ts outcomesBeforeStop): not a failure of the row, which the next run
   * reads again.
   */
  | { ref: string; status: 'failed'; message: string; notSent?: true; stopped?: true };

/**
 * Whether a write that did not succeed is known to have changed nothing: refused (4xx), or never sent / answered
 * 429 only. Any other failure may have been applied, and a create of it may still land (I6).
 */
export function appliedNothing(o: WriteOutcome): boolean {
  return o.status === 'rejected' || (o.status === 'failed' && o.notSent === true);
}

export interface ListItem {
  id: string;
  eTag: string;
  lastModifiedDateTime: string;
  fields: Record<string, unknown>;
  lastModifiedBy?: unknown;
}

export type DeltaEntry = { kind: 'upsert'; item: ListItem } | { kind: 'deleted'; id: string };

export interface DeltaPage {
  /** In feed order. The same item may appear more than once: the last occurrence wins. */
  entries: DeltaEntry[];
  /** `{error}` entries Graph put inside `value`, and entries we could not read: reported, never fatal. */
  errors: { code: string; message: string }[];
  nextLink?: string;
  deltaLink?: string;
  /** Items the page carried without their fields object, read again by id (SharePointTarget.deltaPages). */
  readAgain?: string[];
}

export interface CreateSubscriptionInput {
  resource: string;
  notificationUrl: string;
  lifecycleNotificationUrl?: string;
  clientState: string;
  expirationDateTime: string;
}

/** What `status` shows of an LSN definition's table load in progress (docs/design.md, I17). */
import { parseLsnCursor } from '../capture/lsn/cursor';

export interface CaptureLoadStatus {
  /** Why the table is being loaded (a new definition, a lost slot, reset-cursor, routes changed). */
  reason: string;
  /**
   * The last key the load reads: the highest key when it began (rows above it reach SharePoint through the slot
   * after the load); null when the table was empty; undefined until the load's first run read it.
   */
  upto: unknown[] | null | undefined;
  /** The last key loaded; null when nothing is loaded yet. */
  after: unknown[] | null;
  /** In a sentence, for operators: why the slot's deletes wait, and what ends it. */
  message: string;
}

const key = (k: unknown[]): string => `(${k.map((v) => JSON.stringify(v)).join(', ')})`;

/** The load in progress recorded in an LSN cursor's stored value; null when none (or not an LSN cursor). */
export function captureLoadOf(cursorValue: string | null | undefined): CaptureLoadStatus | null {
  const load = parseLsnCursor(cursorValue)?.load;
  if (!load) return null;
  const upto = load.upto;
  const bound =
    upto === undefined
      ? 'up to the highest key when its next run starts'
      : upto === null
        ? 'nothing (the table was empty when it began)'
        : `up to key ${key(upto)}`;
  const done = load.after ? `, loaded up to key ${key(load.after)}` : ', nothing loaded yet';
  return {
    reason: load.reason,
    upto,
    after: load.after,
    message:
      `table load in progress (${load.reason}): reading ${bound}${done}; rows above the bound and every change ` +
      'since the load began come through the replication slot once it ends, so deletes and TRUNCATEs captured ' +
      'meanwhile wait until then; each push continues it',
  };
}

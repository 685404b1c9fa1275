import type { DeletePolicy } from '../definition/schema';
import type { BackfillCounts, BackfillDirection, BackfillStrategy } from '../store/backfills';
import type { RecordedRunStatus } from '../engine/types';
import type { CaptureLoadStatus } from './captureLoad';
import type { SlotStatus } from './slotHealth';

/** The shapes the ops API and the CLI print: plain JSON, ids as strings, times as ISO strings. */

export interface RunRecord {
  runId: string;
  definition: string;
  runType: 'PUSH' | 'PULL' | 'CDC' | 'BACKFILL';
  trigger: string;
  status: RecordedRunStatus;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  processed: number;
  created: number;
  updated: number;
  deleted: number;
  skipped: number;
  conflicts: number;
  failed: number;
  /** Routed definitions: items moved between lists, and rows that match no route (not synced). */
  moved: number;
  unrouted: number;
  throttleWaitMs: number;
  graphRequests: number;
  resourceUnits: number;
  error: string | null;
}

export interface CursorStatus {
  /** Push position (SOURCE scope): the serialised keyset cursor, or null before the first push. */
  source: { value: string | null; updatedAt: string } | null;
  /** Pull position (TARGET scope): whether a delta link is held; the link itself is not shown. */
  target: { linkPresent: boolean; updatedAt: string } | null;
}

export interface DefinitionStatus {
  id: string;
  name: string;
  enabled: boolean;
  pullEnabled: boolean;
  conflictPolicy: string;
  schedule: string;
  table: string;
  list: string;
  cursors: CursorStatus;
  lastPush: RunRecord | null;
  lastPull: RunRecord | null;
  /**
   * Ledger entries naming an item: synced pairs (and ORPHANED items); not UNROUTED rows, not PENDING_CREATE, not
   * ITEM_DELETED.
   */
  ledgerSize: number;
  /**
   * Rows whose item was deleted in SharePoint, kept by deletes.pull IGNORE (ITEM_DELETED, docs/design.md I8): not
   * synced, and never re-created by the push; `backfill --strategy full_resync` brings their items back.
   */
  itemDeletedRows: number;
  /**
   * When there are ITEM_DELETED rows: why they are held under the policy the definition has now (`deletes.pull`
   * switched away from IGNORE does not apply to them retroactively) and the next step; null when there are none.
   */
  itemDeletedAdvice: { deletesPull: DeletePolicy; reason: string; nextStep: string } | null;
  /** Routed definitions: rows no route matches (not synced, not counted in ledgerSize). */
  unroutedRows: number;
  /**
   * Creates not yet confirmed (PENDING_CREATE entries): in flight in a running push, or sent by a run that stopped;
   * their rows wait until a push adopts the item or, PENDING_CREATE_SETTLE_SECONDS after it first missed it,
   * creates it (docs/design.md, I6).
   */
  pendingCreates: number;
  /** Parked failures: rows and items whose write failed and is retried (held moves not included). */
  parkedFailures: number;
  /**
   * Routed definitions: rows whose move between lists waits for the user (both of the row's items were edited in
   * SharePoint while it waited; docs/design.md). Not failures: nothing is retried until the user deletes one item.
   */
  heldMoves: number;
  /** With held moves: the first HELD_MOVES_LISTED of them (each reason names both items) and what releases them. */
  heldMoveAdvice: { rows: HeldMoveRecord[]; nextStep: string } | null;
  openConflicts: number;
  pendingPull: boolean;
  /**
   * When a due push last found nothing to do (the idle probe, docs/design.md I18) and so recorded no run: any
   * instance's check; null when none has. Later than `lastPush.startedAt` means the table was quiet since.
   */
  idleCheckedAt: string | null;
  /**
   * When a due pull last found nothing to do (its idle probe: every list's delta feed empty) and so recorded no
   * run; null when none has. Later than `lastPull.startedAt` means SharePoint was quiet since.
   */
  pullIdleCheckedAt: string | null;
  /**
   * Routed definitions: the lists the last run that planned them left out because they do not fit the mapping
   * (a mapped column or the hidden key missing, or a column of another type); empty when every list fits. Rows
   * routed to such a list wait (parked) and the list is not pulled until the next step is done.
   */
  listProblems: ListProblem[];
  /**
   * What the last push that checked the table's triggers warned about (install-cursor's trigger gone or disabled:
   * updates are not pushed), each naming its next step; empty when none.
   */
  sourceWarnings: string[];
  subscription: { id: string; expiration: string; state: string } | null;
  /** LSN definitions: the replication slot on the source server; null for TIMESTAMP ones (or when not read). */
  slot: SlotStatus | null;
  /**
   * LSN definitions: the table load in progress (its bound, how far it is), during which the slot's deletes
   * wait; null when none.
   */
  captureLoad: CaptureLoadStatus | null;
  /**
   * A full comparison of the ledger with the table for deletes is under way (after a switch from LSN, a load, a
   * TRUNCATE): stopped by a time budget or a crash, the next push continues it.
   */
  deletesComparisonOwed: boolean;
  /**
   * Rows deleted in Postgres whose tombstones the last push had no time left to read: their distinct keys with no
   * row in the table (a row never synced counts too). A push working through a backlog gives deletes a share of
   * its time, and the next push goes on with them. 0 when none wait.
   */
  deletesWaiting: number;
  /** A backfill started and not finished (stopped by its time budget, a crash or a failure); null when none. */
  backfill: UnfinishedBackfill | null;
  /**
   * False when something needs an operator: the last push or pull FAILED, rows wait parked (failures, held moves,
   * a routed list skipped), conflicts are open, the table's triggers warn, or the replication slot holds back too
   * much WAL, is invalidated, missing or unreadable. Exactly `healthIssues.length === 0`.
   */
  healthy: boolean;
  /** Why the definition is not healthy, one sentence each ending with its next step; empty when it is (health.ts). */
  healthIssues: string[];
}

/** A row whose move waits for the user: its park in `failures NAME`, its key, and why (naming both items). */
export interface HeldMoveRecord {
  failureId: string;
  sourceIdentity: Record<string, unknown> | null;
  reason: string;
  /** When the row was first parked. */
  since: string;
}

/** A routed list the last planning run skipped: why, what to do, and which run found it. */
export interface ListProblem {
  list: string;
  /** The whole reason as the run logged it (it ends with the next step). */
  problem: string;
  /** The next step alone (provision the missing column, or change the column's type in SharePoint). */
  nextStep: string | null;
  /** The run that found it, and when that run started: a later run re-checks every list. */
  runId: string;
  seenAt: string;
}

/** An unfinished backfill (arcore.sync_backfills, status RUNNING): what it re-syncs, how far it got, how to go on. */
export interface UnfinishedBackfill {
  fields: string[];
  strategy: BackfillStrategy;
  direction: BackfillDirection;
  /** Ledger rows examined so far, over every run of it (`counts.examined`). */
  done: number;
  /** The definition's ledger rows now: what the whole backfill examines. */
  total: number;
  counts: BackfillCounts;
  runs: number;
  startedAt: string;
  /** When its last batch was committed. */
  lastProgressAt: string;
  /** Rows it passed while they had an open conflict (MANUAL): `resume` backfills them once resolved. */
  waiting: number;
  /** The command that continues it where it stopped. */
  resume: string;
  /** The command that starts it over from the first row (`--restart` also replaces it with another backfill). */
  restart: string;
}

export type ConflictStatus = 'OPEN' | 'RESOLVED';

export interface ConflictRecord {
  conflictId: string;
  definition: string;
  runId: string | null;
  sourceIdentity: unknown;
  spItemId: string | null;
  detectedBy: 'PUSH' | 'PULL';
  /** CHANGE: both sides changed the pair. COPY: an item carrying the key of a row paired with another item. */
  kind: 'CHANGE' | 'COPY';
  /** The fields in conflict (I7). */
  fields: string[];
  policy: string;
  baseValues: unknown;
  postgresValues: unknown;
  sharepointValues: unknown;
  outcome: string;
  resolvedValues: unknown;
  status: ConflictStatus;
  reason: string | null;
  createdAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
  /**
   * A delete against an edit: the side that deleted the row or item (its values are null); null otherwise. Its
   * `resolve --take` lets the delete stand; the other side's re-creates (docs/cli.md).
   */
  deleted: 'POSTGRES' | 'SHAREPOINT' | null;
  /** The definition's delete policies now: what a delete standing does to the other side. */
  deletes: { push: string; pull: string };
}

export type FailureStatus = 'PARKED' | 'RESOLVED' | 'DISCARDED';

export interface FailureRecord {
  failureId: string;
  definition: string;
  direction: 'PUSH' | 'PULL';
  itemKey: string;
  sourceIdentity: unknown;
  spItemId: string | null;
  attempts: number;
  lastError: string;
  status: FailureStatus;
  /** A held move (migration 031): the row waits for the user to delete one of two edited items, not for a retry. */
  heldMove: boolean;
  firstFailedAt: string;
  lastFailedAt: string;
  nextAttemptAt: string;
  resolvedAt: string | null;
}

import type { ErrorKind } from '../errors/kind';
import type { Pool } from 'pg';
import type { SharePointTarget, TraceNotice, WaitNotice } from '../target/sharepoint';

/**
 * PULL runs recorded before migration 008 say INGRESS in sync_runs; every reader shows them as PULL. BACKFILL:
 * a column-scoped re-sync (src/core/engine/backfill), recorded since migration 014.
 */
export type RunType = 'PUSH' | 'PULL' | 'BACKFILL';

/** How a run type reads in a sentence: push, pull, backfill. */
export function runVerb(runType: RunType): string {
  return runType.toLowerCase();
}
export type RunStatus = 'SUCCEEDED' | 'PARTIAL' | 'FAILED' | 'SKIPPED';
/**
 * A status as sync_runs records it: RUNNING while a run is in progress, ABANDONED once its process is found
 * dead (its definition's lock free) with the row still RUNNING. A RunSummary is never either.
 */
export type RecordedRunStatus = RunStatus | 'RUNNING' | 'ABANDONED';
/** What started a run; recorded in sync_runs.trigger. */
export type RunTrigger =
  'timer' | 'queue' | 'webhook' | 'safety' | 'cli' | 'ops' | 'demo' | 'test' | 'resolve' | 'continuation';

export interface RunCounts {
  processed: number;
  created: number;
  updated: number;
  deleted: number;
  /** Routed definitions: items moved to the list their row now routes to (created there, deleted where they were). */
  moved: number;
  skipped: number;
  conflicts: number;
  failed: number;
  /** Routed definitions: rows that match no route and the definition has no default list: not synced. */
  unrouted: number;
}

/** The outcome of one push or pull, as stored in sync_runs and printed by `--json`. */
export interface RunSummary extends RunCounts {
  runId: string | null; // null when the run was SKIPPED because another run of the definition holds the lock
  definition: string;
  runType: RunType;
  status: RunStatus;
  startedAt: string;
  durationMs: number;
  throttleWaitMs: number;
  /** Time spent waiting for this app's share of the resource-unit budget (I16). */
  paceWaitMs: number;
  graphRequests: number;
  resourceUnits: number;
  /**
   * False when the run stopped at its time budget (or before a wait beyond it) with work left: what it did
   * is committed, and the next run continues from there (I16). A SKIPPED run is not complete either.
   */
  complete: boolean;
  /** When the run stopped because of a wait (a 429 block): the earliest time worth continuing. */
  resumeAfter: string | null;
  /**
   * True when the idle probe found nothing to do, so no run was started or recorded (runId null, status
   * SUCCEEDED, no Graph request); see docs/design.md, I18.
   */
  idle?: boolean;
  /** Parked failures and open conflicts of the definition after the run. */
  parkedFailures: number;
  openConflicts: number;
  /**
   * Routed definitions: rows whose move between lists waits for a user after the run (both of the row's items were
   * edited in SharePoint; docs/design.md). Not parked failures: the row's park (`failures NAME`) names both items.
   */
  heldMoves: number;
  error: string | null;
  /**
   * What needs a person although the run went on (install-cursor's trigger gone or disabled: updates are not seen),
   * each naming its next step; absent when there is none.
   */
  warnings?: string[];
  /** The kind of failure when the run FAILED (src/core/errors/kind.ts), and what to do about it. */
  errorKind?: ErrorKind;
  errorHint?: string;
}

export interface Logger {
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export interface ProgressEvent {
  runType: RunType;
  definition: string;
  done: number;
  /** Estimated total when known (initial push: rows ahead of the cursor). */
  total: number | null;
  throttleWaitMs: number;
  /** Present when the run is about to wait (429 back-off) or waited long for its budget share (I16). */
  wait?: RunWait;
  /**
   * Present on a step of the run as it happens: a page read, a `$batch` sent, a wait (pacing or 429). The
   * counts of such an event are those of the last page; the step says what moved since.
   */
  trace?: RunTrace;
  /** Time spent pacing to the budget so far (apart from throttleWaitMs), when the event knows it. */
  paceWaitMs?: number;
  /** Resource units spent so far, and the budget the run paces to (0 = no pacing), when known. */
  resourceUnits?: number;
  ruPerMinute?: number;
}

/** A step of a run, for `-v` lines and progress inside a page. */
export type RunTrace = TraceNotice | { kind: 'page'; rows: number; ms: number };

/** A wait of a run, as progress lines, `-v` and telemetry show it. */
export interface RunWait {
  reason: WaitNotice['reason'];
  ms: number;
  /** ISO time the wait ends. */
  until: string;
  /** For a capped 429: the Retry-After the server asked for, in ms. */
  askedMs?: number;
}

/** What a run tells the SharePoint client it creates (time budget, budget class, wait reporting). */
export interface RunGraphOptions {
  runDeadline?: number;
  runKind?: 'push' | 'pull' | 'other';
  onWait?: (notice: WaitNotice) => void;
  onTrace?: (notice: TraceNotice) => void;
  /** Throws when the run may no longer write (its lock is lost): checked before each `$batch` leaves (I11). */
  beforeWrite?: () => void;
}

/** When a replication slot is a danger to its server, and when the app drops one nobody reads. */
export interface SlotPolicy {
  /** Retained WAL above which a slot makes its definition unhealthy and logs a warning. */
  warnBytes: number;
  /** Hours a definition may stay disabled before the push timer drops its slot. */
  dropAfterDisabledHours: number;
}

/** Everything a run needs from the outside world; built once per process (see src/core/engine/context.ts). */
export interface EngineContext {
  /** Metadata store pool (schema arcore). */
  meta: Pool;
  /** Pool of a named source connection ('default' = DATABASE_URL). */
  sourcePool(connection: string): Pool;
  /** A SharePoint target for one run (column cache lives for the run). */
  target(run?: RunGraphOptions): SharePointTarget;
  /** Default time budget of a push or pull run in seconds (RUN_MAX_SECONDS); none when unset. */
  runMaxSeconds?: number;
  /**
   * Seconds a push waits, after it first misses the item of a create an earlier run left pending, before it
   * creates the item again (PENDING_CREATE_SETTLE_SECONDS; default PENDING_CREATE_SETTLE_SECONDS in
   * push/pendingCreates.ts).
   */
  pendingCreateSettleSeconds?: number;
  /** The resource-unit budget per minute the app paces itself to (GRAPH_RU_PER_MINUTE). */
  ruPerMinute?: number;
  /** Replication slot safety of LSN definitions (SLOT_WAL_WARN_BYTES, SLOT_DROP_AFTER_DISABLED_HOURS). */
  slotPolicy?: SlotPolicy;
  /**
   * false: push pages one after another (read, write, commit, then read the next) instead of reading page N+1
   * while page N is written. For benchmarks and tests that compare the two loops (issue 23.1).
   */
  pipelinedPush?: boolean;
  /**
   * LSN idle probe: WAL the slot may hold unconfirmed before the probe hands over to a run (default
   * IDLE_SLOT_LAG_BYTES in engine/idle.ts). Tests on a cluster other test files write to raise it, so that other
   * databases' WAL does not turn an idle probe into a run.
   */
  idleSlotLagBytes?: number;
  /**
   * LSN push: how long it waits for a decoded transaction to become visible (its commit may wait for a synchronous
   * standby) before it stops in front of it (default VISIBILITY_WAIT_MS in capture/lsn/visibility.ts).
   */
  lsnVisibilityWaitMs?: number;
  log: Logger;
  onProgress?: (event: ProgressEvent) => void;
  /** Called once per recorded run, right after its sync_runs row exists (logs you can follow). */
  onRunStarted?: (start: RunStart) => void;
  /** Called once per finished run (telemetry). */
  onRunFinished?: (summary: RunSummary) => void;
}

/** A recorded run as it starts; its end is the RunSummary with the same runId. */
export interface RunStart {
  runId: string;
  definition: string;
  runType: RunType;
  trigger: RunTrigger;
  startedAt: string;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

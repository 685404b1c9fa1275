import type { AcceptResult } from '../core/subscriptions';
import type { RunStart, RunSummary } from '../core/engine/types';
import type { SlotMaintenance } from '../core/ops/slotMaintenance';

/** How `serve` writes its event lines (`--log-format`); the Functions handlers always write json. */
export type LogFormat = 'json' | 'text';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'text'];

/** One received change notification: which subscription, which definition, and what became of it. */
export interface NotificationEvent {
  event: 'notification';
  timestamp: string;
  subscriptionId: string | null;
  definition: string | null;
  outcome: 'accepted' | 'rejected';
  reason: string | null;
}

export interface RunStartEvent {
  event: 'run.start';
  timestamp: string;
  definition: string;
  runType: RunStart['runType'];
  trigger: RunStart['trigger'];
  runId: string;
}

export interface RunEndEvent {
  event: 'run.end';
  timestamp: string;
  definition: string;
  runType: RunSummary['runType'];
  trigger: RunStart['trigger'] | null;
  runId: string | null;
  status: RunSummary['status'];
  durationMs: number;
  resourceUnits: number;
  complete: boolean;
  processed: number;
  created: number;
  updated: number;
  deleted: number;
  skipped: number;
  conflicts: number;
  failed: number;
  error: string | null;
}

/**
 * An LSN definition's replication slot as the push timer found it: unhealthy (WAL held back over
 * SLOT_WAL_WARN_BYTES, invalidated, missing, unreadable), or dropped because the definition was disabled too long.
 */
export interface SlotEvent {
  event: 'slot';
  timestamp: string;
  definition: string;
  /** `unhealthy`: needs an operator. `dropped`: the timer dropped it (`dropFailed`: it tried and could not). */
  outcome: 'unhealthy' | 'dropped' | 'dropFailed';
  slot: string | null;
  walStatus: string | null;
  retainedWalBytes: number | null;
  lagBytes: number | null;
  message: string;
}

/** What an operator follows in the logs: one line per notification, run start and run end, and slot warning. */
export type HostEvent = NotificationEvent | RunStartEvent | RunEndEvent | SlotEvent;

/** One event per entry of a notification POST, in the order Graph sent them. */
export function notificationEvents(result: AcceptResult, now = new Date()): NotificationEvent[] {
  const timestamp = now.toISOString();
  const accepted = result.requested.map((r) => ({
    index: r.index,
    event: {
      event: 'notification' as const,
      timestamp,
      subscriptionId: r.subscriptionId,
      definition: r.definition,
      outcome: 'accepted' as const,
      reason: null,
    },
  }));
  const rejected = result.ignored.map((i) => ({
    index: i.index,
    event: {
      event: 'notification' as const,
      timestamp,
      subscriptionId: i.subscriptionId ?? null,
      definition: i.definition ?? null,
      outcome: 'rejected' as const,
      reason: i.reason,
    },
  }));
  return [...accepted, ...rejected].sort((a, b) => a.index - b.index).map((e) => e.event);
}

/** A POST refused as a whole (not a notification body): one line, no subscription to name. */
export function rejectedBodyEvent(reason: string, now = new Date()): NotificationEvent {
  return {
    event: 'notification',
    timestamp: now.toISOString(),
    subscriptionId: null,
    definition: null,
    outcome: 'rejected',
    reason,
  };
}

export function runStartEvent(start: RunStart, now = new Date()): RunStartEvent {
  return {
    event: 'run.start',
    timestamp: now.toISOString(),
    definition: start.definition,
    runType: start.runType,
    trigger: start.trigger,
    runId: start.runId,
  };
}

/** The summary carries no trigger; the caller passes the one its start event had. */
export function runEndEvent(
  summary: RunSummary,
  trigger: RunStart['trigger'] | null,
  now = new Date(),
): RunEndEvent {
  return {
    event: 'run.end',
    timestamp: now.toISOString(),
    definition: summary.definition,
    runType: summary.runType,
    trigger,
    runId: summary.runId,
    status: summary.status,
    durationMs: summary.durationMs,
    resourceUnits: summary.resourceUnits,
    complete: summary.complete,
    processed: summary.processed,
    created: summary.created,
    updated: summary.updated,
    deleted: summary.deleted,
    skipped: summary.skipped,
    conflicts: summary.conflicts,
    failed: summary.failed,
    error: summary.error,
  };
}

/**
 * Remembers each run's trigger from its start until its end, so the end line can name it. Runs end in
 * the process that started them; the map holds only runs in progress.
 */
export function runEventTracker(emit: (event: HostEvent) => void): {
  started(start: RunStart): void;
  finished(summary: RunSummary): void;
} {
  const triggers = new Map<string, RunStart['trigger']>();
  return {
    started(start) {
      triggers.set(start.runId, start.trigger);
      emit(runStartEvent(start));
    },
    finished(summary) {
      const trigger = summary.runId === null ? null : (triggers.get(summary.runId) ?? null);
      if (summary.runId !== null) triggers.delete(summary.runId);
      emit(runEndEvent(summary, trigger));
    },
  };
}

/** Rejected notifications and failed or partial runs are worth a warning; the rest is information. */
export function eventLevel(event: HostEvent): 'info' | 'warn' {
  if (event.event === 'notification') return event.outcome === 'rejected' ? 'warn' : 'info';
  if (event.event === 'run.end')
    return event.status === 'FAILED' || event.status === 'PARTIAL' ? 'warn' : 'info';
  if (event.event === 'slot') return event.outcome === 'dropped' ? 'info' : 'warn';
  return 'info';
}

/** One line: a JSON object, or `timestamp event key=value …` for people. */
export function formatEvent(event: HostEvent, format: LogFormat): string {
  if (format === 'json') return JSON.stringify(event);
  const { timestamp, event: name, ...fields } = event;
  const parts = Object.entries(fields)
    .filter(([, value]) => value !== null)
    .map(
      ([key, value]) =>
        `${key}=${typeof value === 'string' && /\s|"/.test(value) ? JSON.stringify(value) : String(value)}`,
    );
  return `${timestamp} ${name} ${parts.join(' ')}`;
}

/** The slot lines of one push-timer tick: each slot dropped (or not) and each unhealthy one. */
export function slotEvents(maintenance: SlotMaintenance, now = new Date()): SlotEvent[] {
  const timestamp = now.toISOString();
  const retired: SlotEvent[] = maintenance.retired.map((r) => ({
    event: 'slot',
    timestamp,
    definition: r.definition,
    outcome: r.left.some((l) => l.kind === 'slot') ? 'dropFailed' : 'dropped',
    slot:
      r.dropped.find((d) => d.kind === 'slot')?.name ?? r.left.find((l) => l.kind === 'slot')?.name ?? null,
    walStatus: null,
    retainedWalBytes: null,
    lagBytes: null,
    message: r.message,
  }));
  const unhealthy: SlotEvent[] = maintenance.checked
    .filter((c) => !c.status.healthy)
    .map((c) => ({
      event: 'slot',
      timestamp,
      definition: c.definition,
      outcome: 'unhealthy',
      slot: c.status.slot,
      walStatus: c.status.walStatus,
      retainedWalBytes: c.status.retainedWalBytes,
      lagBytes: c.status.lagBytes,
      message: c.status.message ?? 'unhealthy',
    }));
  return [...retired, ...unhealthy];
}

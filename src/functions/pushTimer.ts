import './bootstrap';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import type { Pool } from 'pg';
import { definitionsDueForPush, pushTickWindow, type TickWindow } from '../core/ops';
import { maintainSlots } from '../core/ops/slotMaintenance';
import { eventLevel, formatEvent, slotEvents, type HostEvent } from './events';
import { owedPullMessages } from './owedPulls';
import { pullQueueOutput, pushQueueOutput, type PushMessage } from './queues';
import { engineContextFor, getRuntime, type FunctionsRuntime } from './runtime';

/**
 * The app's push tick when PUSH_SCHEDULE is not set: every minute, so LSN definitions get their default
 * schedule (definition/schema.ts, DEFAULT_SCHEDULES); a tick only enqueues what is due, and an idle push is one
 * query (engine/idle.ts).
 */
export const DEFAULT_PUSH_SCHEDULE = '0 * * * * *';

/** One push message per enabled definition whose own schedule fires within the window. */
export async function duePushMessages(meta: Pool, window: TickWindow): Promise<PushMessage[]> {
  const enqueuedAt = new Date().toISOString();
  const due = await definitionsDueForPush(meta, window);
  return due.map((d) => ({
    definition: d.definition,
    definitionId: d.definitionId,
    trigger: 'timer',
    enqueuedAt,
  }));
}

/**
 * Push fan-out: on each tick of PUSH_SCHEDULE, enqueue one message per definition due by its own
 * schedule since the previous tick. Workers pick them up in parallel across instances; each push runs
 * under its definition's lock (I11). The tick also sends the pulls owed with no message on its way
 * (owedPulls.ts), so they wait at most one tick.
 */
export async function pushTimer(timer: Timer, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const { ctx } = runtime;
  const last = timer.scheduleStatus?.last ? new Date(timer.scheduleStatus.last) : undefined;
  const window = pushTickWindow(process.env.PUSH_SCHEDULE || DEFAULT_PUSH_SCHEDULE, new Date(), last);
  const messages = await duePushMessages(ctx.meta, window);
  if (messages.length > 0) context.extraOutputs.set(pushQueueOutput, messages);
  context.log(
    `pushTimer: ${messages.length} push(es) due in (${window.from.toISOString()}, ${window.to.toISOString()}]` +
      (messages.length ? `: ${messages.map((m) => m.definition).join(', ')}` : ''),
  );
  const owed = await owedPullMessages(ctx.meta);
  if (owed.length > 0) {
    context.extraOutputs.set(pullQueueOutput, owed);
    context.log(
      `pushTimer: ${owed.length} owed pull(s) enqueued: ${owed.map((m) => m.definition).join(', ')}`,
    );
  }
  await slotSafety(runtime, context);
}

/**
 * Replication slot safety on every tick: drops the slots of LSN definitions disabled too long and reports every
 * slot (telemetry) and each unhealthy one (a warning line). A failure here never holds back the pushes above.
 */
export async function slotSafety(runtime: FunctionsRuntime, context: InvocationContext): Promise<void> {
  try {
    const maintenance = await maintainSlots(engineContextFor(runtime, context));
    for (const c of maintenance.checked) runtime.telemetry.trackSlot(c.definition, c.status);
    const emit =
      runtime.onEvent ??
      ((event: HostEvent) => {
        const line = formatEvent(event, 'json');
        if (eventLevel(event) === 'warn') context.warn(line);
        else context.log(line);
      });
    for (const event of slotEvents(maintenance)) emit(event);
  } catch (err) {
    runtime.telemetry.trackException(err, { operation: 'pushTimer.slotSafety' });
    context.warn(`pushTimer: replication slot checks failed: ${(err as Error).message}`);
  }
}

app.timer('pushTimer', {
  schedule: '%PUSH_SCHEDULE%',
  extraOutputs: [pushQueueOutput, pullQueueOutput],
  handler: pushTimer,
});

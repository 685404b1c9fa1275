/**
 * Where a `$batch` round trip goes (issue 23.1), measured on the engine's side of the wire. undici publishes each
 * request's steps on diagnostics channels; for every outer `POST …/$batch` of a push this records:
 * - how long the request waited in the engine before its headers were written (the engine's thread busy, or no
 *   free connection: the first request on a new connection waits for its TCP and TLS handshakes):
 *   `engineSendDelayMs`;
 * - from its body sent to the answer's headers read: the wire, the emulator's whole time on it (its own
 *   `batchInEmulatorMs`, reported beside) and the engine's thread noticing the answer: `wireMs`;
 * and, over the same time, the engine's event-loop delay (perf_hooks: a timer every LOOP_SAMPLE_MS, a coarse one so
 * that sampling wakes the engine's thread rarely: its CPU is measured too). With the emulator's
 * histograms, a round trip reads as: send delay + emulator (latency, its timer's lateness, work) + the rest.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

export interface WireTiming {
  /** Outer `$batch` requests timed. */
  wireBatches: number;
  engineSendDelayMsP50: number;
  engineSendDelayMsP90: number;
  wireMsP50: number;
  wireMsP90: number;
  engineEventLoopDelayMsP50: number;
  engineEventLoopDelayMsP99: number;
}

interface UndiciRequestEvent {
  request: { method?: string; path?: string };
}

const CHANNELS = {
  create: 'undici:request:create',
  sendHeaders: 'undici:client:sendHeaders',
  bodySent: 'undici:request:bodySent',
  headers: 'undici:request:headers',
} as const;

/** The event-loop delay sampler's period, ms. */
const LOOP_SAMPLE_MS = 10;

const round2 = (n: number) => Math.round(n * 100) / 100;

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

export class WireTimingRecorder {
  private readonly steps = new WeakMap<object, { created: number; sent?: number; bodySent?: number }>();
  private readonly sendDelays: number[] = [];
  private readonly wire: number[] = [];
  private readonly loopDelay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
  private readonly handlers: [string, (message: unknown) => void][] = [
    [
      CHANNELS.create,
      (message) => {
        const { request } = message as UndiciRequestEvent;
        if (request.method === 'POST' && request.path?.endsWith('/$batch'))
          this.steps.set(request, { created: performance.now() });
      },
    ],
    [
      CHANNELS.sendHeaders,
      (message) => {
        const step = this.steps.get((message as UndiciRequestEvent).request);
        if (step && step.sent === undefined) step.sent = performance.now();
      },
    ],
    [
      CHANNELS.bodySent,
      (message) => {
        const step = this.steps.get((message as UndiciRequestEvent).request);
        if (step) step.bodySent = performance.now();
      },
    ],
    [
      CHANNELS.headers,
      (message) => {
        const { request } = message as UndiciRequestEvent;
        const step = this.steps.get(request);
        if (!step || step.sent === undefined || step.bodySent === undefined) return;
        this.sendDelays.push(step.sent - step.created);
        this.wire.push(performance.now() - step.bodySent);
        this.steps.delete(request);
      },
    ],
  ];

  constructor() {
    for (const [name, handler] of this.handlers) diagnosticsChannel.subscribe(name, handler);
    this.loopDelay.enable();
  }

  /** Stops recording; null when no `$batch` was seen. */
  stop(): WireTiming | null {
    for (const [name, handler] of this.handlers) diagnosticsChannel.unsubscribe(name, handler);
    this.loopDelay.disable();
    if (this.wire.length === 0) return null;
    const sends = [...this.sendDelays].sort((a, b) => a - b);
    const wire = [...this.wire].sort((a, b) => a - b);
    return {
      wireBatches: wire.length,
      engineSendDelayMsP50: round2(quantile(sends, 0.5)),
      engineSendDelayMsP90: round2(quantile(sends, 0.9)),
      wireMsP50: round2(quantile(wire, 0.5)),
      wireMsP90: round2(quantile(wire, 0.9)),
      // The histogram is of the sampler's whole periods, in nanoseconds: the period itself is not delay.
      engineEventLoopDelayMsP50: round2(Math.max(0, this.loopDelay.percentile(50) / 1e6 - LOOP_SAMPLE_MS)),
      engineEventLoopDelayMsP99: round2(Math.max(0, this.loopDelay.percentile(99) / 1e6 - LOOP_SAMPLE_MS)),
    };
  }
}

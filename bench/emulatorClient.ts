/** The benchmark's handle on the emulator running in its own process (bench/emulatorProcess.ts). */
import type { ChildProcess } from 'node:child_process';
import { Agent } from 'undici';
import { z } from 'zod';
import type { EmulatorRequest } from './emulatorProcess';
import { forkBenchProcess, type ProcessUsage } from './processes';

export class EmulatorProcessError extends Error {
  constructor(
    message: string,
    readonly op: string,
  ) {
    super(`emulator process, ${op}: ${message}`);
    this.name = 'EmulatorProcessError';
  }
}

const replySchema = z.union([
  z.object({ id: z.number(), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: z.number(), ok: z.literal(false), error: z.string() }),
]);
const startedSchema = z.object({
  baseUrl: z.string(),
  caCert: z.string(),
  appToken: z.string(),
  userToken: z.string(),
  siteId: z.string(),
});
const statsSchema = z.object({
  requests: z.record(z.string(), z.number()),
  resourceUnits: z.number(),
  throttled429: z.number(),
  notificationsSent: z.number(),
  notificationsFailed: z.number(),
  batchWorkMs: z.array(z.number()),
  batchInEmulatorMs: z.array(z.number()),
  batchLatencyLateMs: z.array(z.number()),
});
const usageSchema = z.object({ cpuSeconds: z.number(), maxRssMb: z.number() });
const memorySchema = z.object({
  rssMb: z.number(),
  maxRssMb: z.number(),
  liveHeapMb: z.number(),
  arrayBuffersMb: z.number(),
});

export type EmulatorStatsSnapshot = z.infer<typeof statsSchema>;
type Op = EmulatorRequest['op'];

/** Item writes that succeeded in a stats snapshot: creates (201), updates (200), deletes (204), batched or not. */
export function itemWrites(stats: EmulatorStatsSnapshot): number {
  let writes = 0;
  for (const [key, count] of Object.entries(stats.requests)) {
    const [method, route, status] = key.split(' ');
    if (
      (method === 'POST' && route.endsWith('/items') && status === '201') ||
      (method === 'PATCH' && route.endsWith('/fields') && status === '200') ||
      (method === 'DELETE' && route.endsWith('/items/{item}') && status === '204')
    )
      writes += count;
  }
  return writes;
}

const bucketDelta = (before: number[], after: number[]): number[] =>
  after.map((count, i) => count - (before[i] ?? 0));

/** Difference of two stats snapshots (after − before). */
export function statsDelta(
  before: EmulatorStatsSnapshot,
  after: EmulatorStatsSnapshot,
): EmulatorStatsSnapshot {
  const requests: Record<string, number> = {};
  for (const [key, count] of Object.entries(after.requests)) {
    const delta = count - (before.requests[key] ?? 0);
    if (delta > 0) requests[key] = delta;
  }
  return {
    requests,
    resourceUnits: after.resourceUnits - before.resourceUnits,
    throttled429: after.throttled429 - before.throttled429,
    notificationsSent: after.notificationsSent - before.notificationsSent,
    notificationsFailed: after.notificationsFailed - before.notificationsFailed,
    batchWorkMs: bucketDelta(before.batchWorkMs, after.batchWorkMs),
    batchInEmulatorMs: bucketDelta(before.batchInEmulatorMs, after.batchInEmulatorMs),
    batchLatencyLateMs: bucketDelta(before.batchLatencyLateMs, after.batchLatencyLateMs),
  };
}

const loggedRequestSchema = z.object({
  method: z.string(),
  path: z.string(),
  query: z.string(),
  status: z.number(),
  batch: z.boolean(),
  identity: z.string().nullable(),
});
export type LoggedRequest = z.infer<typeof loggedRequestSchema>;

export class EmulatorProcess {
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve(v: unknown): void; reject(e: Error): void; op: string }
  >();
  baseUrl = '';
  caCert = '';
  appToken = '';
  userToken = '';
  siteId = '';
  private dispatcher: Agent | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (raw: unknown) => {
      const reply = replySchema.safeParse(raw);
      if (!reply.success) return;
      const pending = this.waiting.get(reply.data.id);
      if (!pending) return;
      this.waiting.delete(reply.data.id);
      if (reply.data.ok) pending.resolve(reply.data.result);
      else pending.reject(new EmulatorProcessError(reply.data.error, pending.op));
    });
    child.on('exit', (code) => {
      for (const pending of this.waiting.values())
        pending.reject(new EmulatorProcessError(`exited with code ${code}`, pending.op));
      this.waiting.clear();
    });
  }

  static async start(options: {
    throttling: { enabled: boolean; resourceUnitsPerMinute?: number };
    latencyMs: number;
    batchAmbiguous503Rate?: number;
  }): Promise<EmulatorProcess> {
    const emulator = new EmulatorProcess(forkBenchProcess('emulatorProcess'));
    const started = startedSchema.parse(await emulator.call({ kind: 'start', ...options }));
    Object.assign(emulator, started);
    emulator.dispatcher = new Agent({ connect: { ca: started.caCert }, connections: 8 });
    return emulator;
  }

  private call(op: Op): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, op: op.kind });
      this.child.send({ id, op });
    });
  }

  async setThrottling(enabled: boolean, resourceUnitsPerMinute?: number): Promise<void> {
    await this.call({ kind: 'setThrottling', enabled, resourceUnitsPerMinute });
  }

  async setLatency(ms: number): Promise<void> {
    await this.call({ kind: 'setLatency', ms });
  }

  async stats(): Promise<EmulatorStatsSnapshot> {
    return statsSchema.parse(await this.call({ kind: 'stats' }));
  }

  /** HTTP requests and batch items logged since the last clear (the last 200,000, fewer past 16 MB of text). */
  async requestLog(): Promise<LoggedRequest[]> {
    return z.array(loggedRequestSchema).parse(await this.call({ kind: 'requestLog' }));
  }

  async clearRequestLog(): Promise<void> {
    await this.call({ kind: 'clearRequestLog' });
  }

  async usage(): Promise<ProcessUsage> {
    return usageSchema.parse(await this.call({ kind: 'usage' }));
  }

  /** RSS, peak RSS and live heap after a full garbage collection, MB. */
  async memory(): Promise<z.infer<typeof memorySchema>> {
    return memorySchema.parse(await this.call({ kind: 'memory' }));
  }

  async itemIds(list: string): Promise<string[]> {
    return z.array(z.string()).parse(await this.call({ kind: 'itemIds', list }));
  }

  /** A Graph request as the user alice (an edit "in SharePoint"); returns status and parsed body. */
  async asUser(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.userToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: this.dispatcher,
    } as RequestInit);
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
  }

  /** A fetch dispatcher that trusts the emulator's certificate. */
  agent(): Agent {
    if (!this.dispatcher) throw new EmulatorProcessError('not started', 'agent');
    return this.dispatcher;
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await this.call({ kind: 'stop' }).catch(() => undefined);
    await exited;
    await this.dispatcher?.close();
  }
}

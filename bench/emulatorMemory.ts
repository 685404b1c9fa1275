/**
 * Scenario 12: the emulator's memory with a large list. Items are loaded through the emulator's Graph API
 * (`POST /$batch` of 20 creates, the way the engine writes), from this process into an emulator process of
 * its own, so the figures are the emulator's alone: peak RSS, RSS and live heap (after a full collection)
 * once loaded, and the live heap again with the request log cleared (the item store alone). Repeated in
 * fresh emulator processes for the spread.
 */
import { EmulatorProcess } from './emulatorClient';

export const MEMORY_LIST = 'EmulatorMemory';
const BATCH_SIZE = 20;

/** The bench table's ten kinds of column (bench/dataset.ts) plus the hidden, indexed key column. */
const COLUMNS = [
  { name: 'Amount', number: { decimalPlaces: 'two' } },
  { name: 'Quantity', number: { decimalPlaces: 'none' } },
  { name: 'Ratio', number: {} },
  { name: 'Due', dateTime: { format: 'dateOnly' } },
  { name: 'HappenedAt', dateTime: { format: 'dateTime' } },
  { name: 'Done', boolean: {} },
  { name: 'Ref', text: {} },
  {
    name: 'Tags',
    choice: { choices: ['red', 'green', 'blue', 'amber'], allowTextEntry: true, displayAs: 'checkBoxes' },
  },
  { name: 'Meta', text: { allowMultipleLines: true } },
  { name: 'ArcoreKey', text: {}, hidden: true, indexed: true },
];

/** The fields of item `n`, shaped like a pushed bench row. */
export function memoryItemFields(n: number): Record<string, unknown> {
  const day = new Date(Date.UTC(2024, 0, 1) + (n % 700) * 86_400_000).toISOString().slice(0, 10);
  return {
    Title: `Item ${n}`,
    Amount: Number(((n * 1.37) % 100_000).toFixed(2)),
    Quantity: n % 1000,
    Ratio: (n % 997) / 997,
    Due: day,
    HappenedAt: new Date(Date.UTC(2024, 0, 1) + n * 17_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    Done: n % 3 === 0,
    Ref: `${(n * 2654435761).toString(16).padStart(8, '0')}-0000-4000-8000-${String(n).padStart(12, '0')}`,
    'Tags@odata.type': 'Collection(Edm.String)',
    Tags: [['red', 'green', 'blue', 'amber'][n % 4]],
    Meta: JSON.stringify({ n, kind: `k${n % 10}` }),
    ArcoreKey: `{"id":${n}}`,
  };
}

export class EmulatorLoadError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(`loading the emulator: ${message} (HTTP ${status})`);
    this.name = 'EmulatorLoadError';
  }
}

async function graph(emulator: EmulatorProcess, method: string, path: string, body: unknown) {
  const response = await fetch(`${emulator.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${emulator.appToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    dispatcher: emulator.agent(),
  } as RequestInit);
  const text = await response.text();
  if (!response.ok) throw new EmulatorLoadError(`${method} ${path}: ${text.slice(0, 300)}`, response.status);
  return JSON.parse(text) as { responses?: { status: number; body?: unknown }[] };
}

/** Creates the list and `items` items in it, `concurrency` batches in flight. */
export async function loadItems(
  emulator: EmulatorProcess,
  items: number,
  concurrency: number,
): Promise<void> {
  const sitePath = `/sites/${emulator.siteId}`;
  await graph(emulator, 'POST', `${sitePath}/lists`, {
    displayName: MEMORY_LIST,
    list: { template: 'genericList' },
    columns: COLUMNS,
  });
  let next = 1;
  const worker = async () => {
    while (next <= items) {
      const first = next;
      const last = Math.min(items, first + BATCH_SIZE - 1);
      next = last + 1;
      const requests = [];
      for (let n = first; n <= last; n++)
        requests.push({
          id: String(n),
          method: 'POST',
          url: `${sitePath}/lists/${MEMORY_LIST}/items`,
          headers: { 'content-type': 'application/json' },
          body: { fields: memoryItemFields(n) },
        });
      const answer = await graph(emulator, 'POST', '/$batch', { requests });
      // The emulator answers a share of batched writes 503 after applying them (ambiguous outcomes, I11).
      const failed = (answer.responses ?? []).filter((r) => r.status !== 201 && r.status !== 503);
      if (failed.length)
        throw new EmulatorLoadError(
          `${failed.length} creates of items ${first}–${last} failed: ${JSON.stringify(failed[0].body).slice(0, 300)}`,
          failed[0].status,
        );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export interface EmulatorMemoryRun {
  loadSeconds: number;
  peakRssMb: number;
  rssMb: number;
  liveHeapMb: number;
  /** Typed arrays (the packed item store) outside the JS heap. */
  arrayBuffersMb: number;
  /** Live heap once the request log (the last 200,000 requests) is cleared: the item store and the rest. */
  liveHeapWithoutLogMb: number;
}

export async function measureEmulatorMemory(items: number, concurrency: number): Promise<EmulatorMemoryRun> {
  const emulator = await EmulatorProcess.start({ throttling: { enabled: false }, latencyMs: 0 });
  try {
    const started = performance.now();
    await loadItems(emulator, items, concurrency);
    const loadSeconds = (performance.now() - started) / 1000;
    const loaded = await emulator.memory();
    await emulator.clearRequestLog();
    const withoutLog = await emulator.memory();
    return {
      loadSeconds,
      peakRssMb: withoutLog.maxRssMb,
      rssMb: loaded.rssMb,
      liveHeapMb: loaded.liveHeapMb,
      arrayBuffersMb: loaded.arrayBuffersMb,
      liveHeapWithoutLogMb: withoutLog.liveHeapMb,
    };
  } finally {
    await emulator.stop();
  }
}

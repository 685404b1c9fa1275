/**
 * Peak memory of reading one big transaction from an LSN definition's slot (issue 20, docs/performance.md):
 * the seed's single peek query (the whole transaction comes back at once, then is folded into keys) against
 * the chunked read (a holdable server-side cursor, a chunk at a time, keys handed on a page at a time), on the
 * same slot in the same run, each in a fresh child process so that one's garbage does not count for the other.
 * Only the capture read is measured: what is done with a page of keys (the push) is the same for both.
 *
 *   npx tsx bench/lsnPeekMemory.ts [--rows 200000] [--repeat 3] [--chunk 1000] [--heap-cap MB]
 *
 * --heap-cap runs the children with --max-old-space-size=MB: a read that needs more fails (reported as such).
 *
 * DATABASE_URL: an admin connection (a server with wal_level=logical), else an embedded Postgres is started.
 */
import { fork } from 'node:child_process';
import { Pool } from 'pg';
import { ChangeFolder, foldTransactions, type FoldOptions } from '../src/core/capture/lsn/changes';
import type { LsnNames } from '../src/core/capture/lsn/names';
import { openPeek } from '../src/core/capture/lsn/peek';
import { createSlot, ensurePublication, type SlotChange } from '../src/core/capture/lsn/slot';
import { createScenarioDatabase, startBenchPostgres } from './postgres';

type Algorithm = 'whole' | 'chunked';

interface Measure {
  algorithm: Algorithm;
  /**
   * Highest live heap (heapUsed right after a full GC) sampled after each query, fetch and fold, minus the
   * heap before the read, MB: what the read holds, not the garbage it leaves for the collector.
   */
  peakHeapMb: number;
  /** Peak resident set size of the child process over its life, MB. */
  maxRssMb: number;
  /** Distinct keys the read produced (the same for both: a check). */
  keys: number;
  seconds: number;
}

const TABLE = 'big';
const names: LsnNames = { slot: 'bench_peek_memory', publication: 'bench_peek_memory', origin: 'bench_peek' };
const fold: FoldOptions = {
  definition: 'bench',
  schema: 'public',
  table: TABLE,
  key: ['id'],
};
const MB = 1024 * 1024;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** The seed's read: one query returns the peek whole; the transactions are folded with all their keys. */
async function whole(pool: Pool, limit: number, sample: () => void): Promise<number> {
  const { rows } = await pool.query<{ lsn: string; data: Buffer }>(
    `SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes($1, NULL, $2,
       'proto_version', '1', 'publication_names', $3)`,
    [names.slot, limit, names.publication],
  );
  sample();
  const txns = foldTransactions(rows as SlotChange[], fold);
  sample();
  const keys = new Set<string>();
  for (const t of txns) for (const k of t.keys) keys.add(JSON.stringify(k));
  sample();
  return keys.size;
}

/** The chunked read as runLsnCapture does it: a chunk of messages, a page of keys handed on when full. */
async function chunked(pool: Pool, limit: number, chunk: number, sample: () => void): Promise<number> {
  const peek = await openPeek(pool, names, 'public', TABLE, limit, chunk);
  const folder = new ChangeFolder(fold);
  const page = new Map<string, (string | null)[]>();
  let handedOn = 0;
  try {
    for (;;) {
      const messages = await peek.next();
      sample();
      if (messages.length === 0) break;
      for (const m of messages) {
        const e = folder.fold(m);
        if (e?.kind !== 'change') continue;
        for (const k of e.keys) page.set(JSON.stringify(k), k);
        if (page.size >= chunk) {
          handedOn += page.size; // the push of the page would happen here
          page.clear();
        }
      }
    }
  } finally {
    await peek.close();
  }
  return handedOn + page.size;
}

async function child(algorithm: Algorithm, url: string, limit: number, chunk: number): Promise<Measure> {
  const pool = new Pool({ connectionString: url, max: 2 });
  try {
    gc();
    const base = process.memoryUsage().heapUsed;
    let peak = base;
    const sample = () => {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    };
    const started = Date.now();
    const keys =
      algorithm === 'whole' ? await whole(pool, limit, sample) : await chunked(pool, limit, chunk, sample);
    return {
      algorithm,
      peakHeapMb: Number(((peak - base) / MB).toFixed(1)),
      maxRssMb: Number((process.resourceUsage().maxRSS / 1024).toFixed(0)),
      keys,
      seconds: Number(((Date.now() - started) / 1000).toFixed(1)),
    };
  } finally {
    await pool.end();
  }
}

/** The child's measure, or null when it died (out of memory under --heap-cap). */
function runChild(
  algorithm: Algorithm,
  url: string,
  limit: number,
  chunk: number,
  heapCapMb: number,
): Promise<Measure | null> {
  return new Promise((resolve) => {
    const p = fork(__filename, ['child', algorithm, url, String(limit), String(chunk)], {
      execArgv: [
        '--expose-gc',
        '--import',
        'tsx',
        ...(heapCapMb > 0 ? [`--max-old-space-size=${heapCapMb}`] : []),
      ],
      stdio: ['ignore', 'inherit', 'ignore', 'ipc'],
    });
    let measure: Measure | null = null;
    p.once('message', (m) => (measure = m as Measure));
    p.once('exit', () => resolve(measure));
  });
}

async function main(): Promise<void> {
  if (process.argv[2] === 'child') {
    const [, , , algorithm, url, limit, chunk] = process.argv;
    const measure = await child(algorithm as Algorithm, url, Number(limit), Number(chunk));
    process.send?.(measure);
    return;
  }
  const rows = arg('rows', 200_000);
  const repeat = arg('repeat', 3);
  const chunk = arg('chunk', 1000);
  const heapCap = arg('heap-cap', 0);
  const server = await startBenchPostgres();
  const db = await createScenarioDatabase(server.adminUrl, 'peek_memory');
  const pool = new Pool({ connectionString: db.url, max: 2 });
  try {
    await pool.query(`CREATE TABLE ${TABLE} (id integer PRIMARY KEY, name text)`);
    await ensurePublication(pool, 'bench', names, 'public', TABLE);
    await createSlot(pool, 'bench', names.slot);
    // One transaction touching every row.
    await pool.query(`INSERT INTO ${TABLE} SELECT g, 'row ' || g FROM generate_series(1, ${rows}) g`);
    const results: Measure[] = [];
    for (let i = 0; i < repeat; i++) {
      for (const algorithm of ['whole', 'chunked'] as const) {
        // upto_nchanges as a push asks (the page size): Postgres still returns the whole transaction.
        const m = await runChild(algorithm, db.url, chunk, chunk, heapCap);
        if (!m) {
          process.stdout.write(
            `${JSON.stringify({ run: i + 1, rows, chunk, heapCap, algorithm, failed: true })}\n`,
          );
          continue;
        }
        if (m.keys !== rows) throw new Error(`${algorithm} read ${m.keys} keys, expected ${rows}`);
        results.push(m);
        process.stdout.write(`${JSON.stringify({ run: i + 1, rows, chunk, heapCap, ...m })}\n`);
      }
    }
    for (const algorithm of ['whole', 'chunked'] as const) {
      const mine = results.filter((r) => r.algorithm === algorithm);
      if (mine.length === 0) {
        process.stdout.write(`${algorithm}: failed every run (heap cap ${heapCap} MB)\n`);
        continue;
      }
      const span = (f: (m: Measure) => number) => `${Math.min(...mine.map(f))}–${Math.max(...mine.map(f))}`;
      process.stdout.write(
        `${algorithm}: peak heap ${span((m) => m.peakHeapMb)} MB, max RSS ${span((m) => m.maxRssMb)} MB, ` +
          `${span((m) => m.seconds)} s over ${mine.length} of ${repeat} runs\n`,
      );
    }
    await pool.query('SELECT pg_drop_replication_slot($1)', [names.slot]);
  } finally {
    await pool.end();
    await db.drop();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});

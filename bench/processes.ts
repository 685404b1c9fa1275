/** Forking the benchmark's own child processes, compiled (`dist/bench/*.js`) or run from source via tsx. */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';

/** Forks `bench/<name>` next to this file, with an IPC channel; `.ts` sources run through tsx. */
export function forkBenchProcess(name: string, args: string[] = []): ChildProcess {
  const extension = extname(__filename);
  return fork(join(__dirname, `${name}${extension}`), args, {
    execArgv: [
      ...(extension === '.ts' ? ['--import', 'tsx'] : []),
      // BENCH_CPU_PROF=DIR: a V8 CPU profile of every scenario and emulator process (node --cpu-prof).
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
      // BENCH_WORKER_NODE_FLAGS="--max-old-space-size=…": V8 flags for the engine's scenario process only.
      ...(name === 'scenarioWorker' && process.env.BENCH_WORKER_NODE_FLAGS
        ? process.env.BENCH_WORKER_NODE_FLAGS.split(/\s+/).filter(Boolean)
        : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** CPU time and peak memory of the current process, in the units the report uses. */
export interface ProcessUsage {
  cpuSeconds: number;
  /** Peak resident set size over the process's life, MB. */
  maxRssMb: number;
}

export function processUsage(): ProcessUsage {
  const cpu = process.cpuUsage();
  return {
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

/**
 * CPU seconds used so far by every process named `postgres` on this machine (Linux /proc), or null where
 * /proc is not available. With embedded Postgres that is the benchmark's own server.
 */
export function postgresServerCpuSeconds(): number | null {
  let ticks = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // the process ended while we looked
    }
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    if (stat.slice(open + 1, close) !== 'postgres') continue;
    const fields = stat.slice(close + 2).split(' ');
    // After the command, stat(5) fields 14–17: utime, stime, and the same for reaped children (the
    // postmaster's cutime holds backends that have exited).
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ: 100 on every Linux configuration Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Forking the benchmark's own child processes, compiled (`dist/bench/*.js`) or run from source via tsx. */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Pool } from 'pg';

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

/** Fields after the command of /proc/<pid>/stat, or null when the process is gone (or there is no /proc). */
function statFields(pid: string | number): string[] | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * The pid of the Postgres server `pool` talks to (the parent of its backend), or null when it is not a process
 * of this machine that /proc shows.
 */
export async function postmasterPid(pool: Pool): Promise<number | null> {
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const fields = statFields(rows[0].pid);
  return fields ? Number(fields[1]) : null;
}

/**
 * CPU seconds used so far by one Postgres server: the postmaster and its live children, each with its reaped
 * children (the postmaster's cutime holds backends that have exited). Only that server's processes: other
 * servers on the machine (a test suite's, another benchmark's) start and stop, and summing every process named
 * `postgres` gave swings and negative figures. Null without a pid or /proc.
 */
export function postgresServerCpuSeconds(postmaster: number | null): number | null {
  if (postmaster === null) return null;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  let ticks = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry); // null: the process ended while we looked
    if (!fields || (Number(entry) !== postmaster && Number(fields[1]) !== postmaster)) continue;
    // stat(5) fields 14–17: utime, stime, and the same for reaped children.
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ: 100 on every Linux configuration Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

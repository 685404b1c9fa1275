/** Forking the benchmark's own child processes, compiled (`dist/bench/*.js`) or run from source via tsx. */
import { fork, type ChildProcess } from 'node:child_process';
import { extname, join } from 'node:path';

/** Forks `bench/<name>` next to this file, with an IPC channel; `.ts` sources run through tsx. */
export function forkBenchProcess(name: string, args: string[] = []): ChildProcess {
  const extension = extname(__filename);
  return fork(join(__dirname, `${name}${extension}`), args, {
    execArgv: extension === '.ts' ? ['--import', 'tsx'] : [],
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

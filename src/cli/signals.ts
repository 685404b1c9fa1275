/**
 * Resolves on the first SIGINT or SIGTERM, for commands that run until stopped (emulator, serve,
 * demo --serve). The listeners are removed again so a second signal gets Node's default behaviour.
 */
export function untilStopped(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

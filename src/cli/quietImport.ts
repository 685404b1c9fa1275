/**
 * The Functions handlers register themselves with `@azure/functions` when imported. Outside the Functions
 * host the library then prints "package is in test mode" warnings, one per function. The local host
 * (serve, demo) runs those handlers in-process on purpose, so for CLI users the warnings are noise: this
 * loads such a module with exactly those console warnings dropped and every other warning kept.
 */
const TEST_MODE_WARNING = /"@azure\/functions" package (is in|to) test mode/;

export async function importWithoutTestModeWarnings<T>(load: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && TEST_MODE_WARNING.test(args[0])) return;
    warn(...args);
  };
  try {
    return await load();
  } finally {
    console.warn = warn;
  }
}

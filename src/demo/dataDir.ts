import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The file that marks a directory as the demo's own, so it may be emptied. */
export const DEMO_DIR_MARKER = '.arcore-demo';

/** The data directory cannot be used: names it and why. */
export class DemoDataDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoDataDirError';
  }
}

/**
 * Empties the data directory, refusing one the demo did not create (so `--data-dir ~` cannot wipe a home).
 */
export function prepareDataDir(dir: string): void {
  if (existsSync(dir)) {
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(DEMO_DIR_MARKER)) {
      throw new DemoDataDirError(
        `refusing to empty ${dir}: it is not empty and was not created by the demo (no ${DEMO_DIR_MARKER} file); ` +
          'choose a new or empty --data-dir',
      );
    }
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, DEMO_DIR_MARKER),
    'Created by "arcore-sync demo"; emptied at the start of every demo run.\n',
  );
}

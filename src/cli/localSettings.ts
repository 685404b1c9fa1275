import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/** The Azure Functions convention: `local.settings.json` in the working directory, settings under `Values`. */
export const LOCAL_SETTINGS_FILE = 'local.settings.json';

const localSettingsSchema = z.object({
  IsEncrypted: z.boolean().optional(),
  // The Functions host accepts only strings; numbers and booleans are tolerated because people write them.
  Values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});

/** local.settings.json exists but cannot be used: names the file and the problem. */
export class LocalSettingsError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'LocalSettingsError';
  }
}

/** The `Values` of `<dir>/local.settings.json` as strings, or `{}` when the file does not exist. */
export function readLocalSettingsValues(dir: string): Record<string, string> {
  const file = join(dir, LOCAL_SETTINGS_FILE);
  if (!existsSync(file)) return {};
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new LocalSettingsError(file, `is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = localSettingsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LocalSettingsError(file, `${issue.path.join('.') || '(root)'} ${issue.message}`);
  }
  if (parsed.data.IsEncrypted) {
    throw new LocalSettingsError(file, 'is encrypted (IsEncrypted: true); the CLI reads only plain settings');
  }
  return Object.fromEntries(Object.entries(parsed.data.Values ?? {}).map(([k, v]) => [k, String(v)]));
}

/**
 * The environment the CLI reads settings from: `local.settings.json` Values overlaid by the process
 * environment, so an exported variable always wins over the file (as in the Functions host).
 */
export function cliEnvironment(dir: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const fromFile = readLocalSettingsValues(dir);
  const merged: NodeJS.ProcessEnv = { ...fromFile };
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined) merged[key] = value;
  }
  return merged;
}

import type { ErrorKind } from '../errors/kind';
import type { z } from 'zod';
import {
  definitionsFileSchema,
  syncDefinitionSchema,
  type DefinitionsFile,
  type SyncDefinition,
} from './schema';

export interface DefinitionProblem {
  /** JSON path of the offending value, e.g. `definitions[0].source.key`. */
  path: string;
  message: string;
}

export class DefinitionValidationError extends Error {
  readonly errorKind: ErrorKind = 'invalid_definition';

  constructor(
    readonly problems: DefinitionProblem[],
    readonly origin?: string,
  ) {
    super(
      `${origin ? `${origin}: ` : ''}invalid sync definitions:\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n'),
    );
    this.name = 'DefinitionValidationError';
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out || '(root)';
}

function toProblems(error: z.ZodError): DefinitionProblem[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

/** Validates a parsed definitions file; throws DefinitionValidationError naming each path and problem. */
export function parseDefinitionsFile(input: unknown, origin?: string): DefinitionsFile {
  const result = definitionsFileSchema.safeParse(input);
  if (!result.success) throw new DefinitionValidationError(toProblems(result.error), origin);
  return result.data;
}

/** A UTF-8 byte order mark, as Windows editors (Notepad, PowerShell's Out-File) write at the start of a file. */
const BYTE_ORDER_MARK = '\uFEFF';

/** Parses the text of a definitions file, turning JSON syntax errors into the same error type. */
export function parseDefinitionsText(text: string, origin?: string): DefinitionsFile {
  let json: unknown;
  try {
    json = JSON.parse(text.startsWith(BYTE_ORDER_MARK) ? text.slice(BYTE_ORDER_MARK.length) : text);
  } catch (err) {
    throw new DefinitionValidationError(
      [{ path: '(root)', message: `is not valid JSON: ${(err as Error).message}` }],
      origin,
    );
  }
  return parseDefinitionsFile(json, origin);
}

export function parseDefinition(input: unknown, origin?: string): SyncDefinition {
  const result = syncDefinitionSchema.safeParse(input);
  if (!result.success) throw new DefinitionValidationError(toProblems(result.error), origin);
  return result.data;
}

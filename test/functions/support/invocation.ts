import { HttpRequest, InvocationContext, type StorageQueueOutput } from '@azure/functions';

export interface CapturedLog {
  level: string;
  text: string;
}

/** A real InvocationContext whose log lines are kept for assertions. */
export function invocation(
  functionName: string,
  triggerMetadata?: Record<string, unknown>,
): { context: InvocationContext; logs: CapturedLog[] } {
  const logs: CapturedLog[] = [];
  const context = new InvocationContext({
    invocationId: `test-${functionName}`,
    functionName,
    triggerMetadata,
    logHandler: (level, ...args) => logs.push({ level, text: args.map(String).join(' ') }),
  });
  return { context, logs };
}

/** What a handler wrote to a queue output binding, as an array. */
export function queued<T = Record<string, unknown>>(
  context: InvocationContext,
  output: StorageQueueOutput,
): T[] {
  const value = context.extraOutputs.get(output);
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]) as T[];
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    body: { string: typeof body === 'string' ? body : JSON.stringify(body) },
  });
}

export const timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: {
    last: new Date().toISOString(),
    lastUpdated: new Date().toISOString(),
    next: new Date().toISOString(),
  },
};

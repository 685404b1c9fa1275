import type { Logger } from '../engine/types';

/** The part of an Azure Functions InvocationContext a logger needs (kept structural: core stays host-free). */
export interface InvocationLogSink {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

function line(message: string, data?: Record<string, unknown>): string {
  if (!data || Object.keys(data).length === 0) return message;
  try {
    return `${message} ${JSON.stringify(data)}`;
  } catch {
    return message;
  }
}

/**
 * A Logger that writes through the invocation's `context.log/warn/error`, so every line carries the
 * invocation id in Application Insights and in `func start` output. Data goes on the same line as JSON.
 */
export function invocationLogger(context: InvocationLogSink): Logger {
  return {
    info: (message, data) => context.log(line(message, data)),
    warn: (message, data) => context.warn(line(message, data)),
    error: (message, data) => context.error(line(message, data)),
  };
}

/** A Logger for long-lived processes (the local host): one line per entry on stdout/stderr. */
export function consoleLogger(prefix = 'arcore'): Logger {
  const stamp = () => new Date().toISOString();
  return {
    info: (message, data) => console.log(`${stamp()} ${prefix} ${line(message, data)}`),
    warn: (message, data) => console.warn(`${stamp()} ${prefix} WARN ${line(message, data)}`),
    error: (message, data) => console.error(`${stamp()} ${prefix} ERROR ${line(message, data)}`),
  };
}

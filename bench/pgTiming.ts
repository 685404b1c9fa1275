/**
 * Postgres time as the engine sees it: every `pg` query's round trip (sent until answered), summed, and the
 * number of queries. Measured by wrapping `Client.prototype.query` (pools use it too); the queries still run
 * against the real server. Overlapping queries are each counted in full.
 */
import { Client } from 'pg';

export interface PgTiming {
  queries: number;
  milliseconds: number;
}

type QueryFunction = (...args: unknown[]) => unknown;

const totals: PgTiming = { queries: 0, milliseconds: 0 };
let installed = false;

function installOnce(): void {
  if (installed) return;
  installed = true;
  const prototype = Client.prototype as unknown as { query: QueryFunction };
  const original = prototype.query;
  prototype.query = function timedQuery(this: unknown, ...args: unknown[]): unknown {
    const started = performance.now();
    const finish = (): void => {
      totals.queries++;
      totals.milliseconds += performance.now() - started;
    };
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      const callback = last as QueryFunction;
      args[args.length - 1] = (...callbackArgs: unknown[]): unknown => {
        finish();
        return callback(...callbackArgs);
      };
      return original.apply(this, args);
    }
    const result = original.apply(this, args);
    if (result instanceof Promise) result.then(finish, finish);
    return result;
  };
}

/** Starts counting; the returned function gives the queries and milliseconds since. */
export function measurePostgres(): () => PgTiming {
  installOnce();
  const start = { ...totals };
  return () => ({
    queries: totals.queries - start.queries,
    milliseconds: totals.milliseconds - start.milliseconds,
  });
}

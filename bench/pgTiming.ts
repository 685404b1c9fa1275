/**
 * Postgres time as the engine sees it: every `pg` query's round trip (sent until answered), summed, and the
 * number of queries, in total and per statement. Measured by wrapping `Client.prototype.query` (pools use it
 * too); the queries still run against the real server. Overlapping queries are each counted in full.
 */
import { Client } from 'pg';

export interface StatementTiming {
  /** The statement's text, whitespace collapsed, shortened to about 120 characters. */
  statement: string;
  queries: number;
  milliseconds: number;
}

export interface PgTiming {
  queries: number;
  milliseconds: number;
  /** The statements that took the most time, longest first. */
  slowest: StatementTiming[];
}

type QueryFunction = (...args: unknown[]) => unknown;

const totals = { queries: 0, milliseconds: 0 };
const byStatement = new Map<string, { queries: number; milliseconds: number }>();
let installed = false;

/**
 * Statements by query text: the engine sends the same few texts over and over, and flattening a text of a kilobyte
 * on every query was CPU the benchmark charged to the engine (issue 23.3).
 */
const statements = new Map<string, string>();
const STATEMENTS_KEPT = 2_000;

function statementOf(args: unknown[]): string {
  const first = args[0];
  const text =
    typeof first === 'string'
      ? first
      : typeof first === 'object' && first !== null && 'text' in first && typeof first.text === 'string'
        ? first.text
        : '(unknown)';
  let statement = statements.get(text);
  if (statement === undefined) {
    statement = flatStatement(text);
    if (statements.size >= STATEMENTS_KEPT) statements.clear();
    statements.set(text, statement);
  }
  return statement;
}

function flatStatement(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= 120) return flat;
  // Long column lists hide what a statement does: keep its verb and its FROM … WHERE part.
  const from = flat.search(/ FROM /i);
  return from > 0 ? `${flat.slice(0, 24)} … ${flat.slice(from + 1, from + 97)}` : flat.slice(0, 120);
}

function installOnce(): void {
  if (installed) return;
  installed = true;
  const prototype = Client.prototype as unknown as { query: QueryFunction };
  const original = prototype.query;
  prototype.query = function timedQuery(this: unknown, ...args: unknown[]): unknown {
    const started = performance.now();
    const statement = statementOf(args);
    const finish = (): void => {
      const elapsed = performance.now() - started;
      totals.queries++;
      totals.milliseconds += elapsed;
      const entry = byStatement.get(statement) ?? { queries: 0, milliseconds: 0 };
      entry.queries++;
      entry.milliseconds += elapsed;
      byStatement.set(statement, entry);
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

/**
 * Installs the timing wrapper now. src/core/db/pool.ts builds its client's query on Client.prototype.query
 * as it is when that module loads, so a process that measures must load this module first
 * (bench/scenarioWorker.ts does); measurePostgres installing it later would not see the pools' queries.
 */
installOnce();

/** Starts counting; the returned function gives the queries and milliseconds since. */
export function measurePostgres(): (slowestCount?: number) => PgTiming {
  installOnce();
  const start = { ...totals };
  const startByStatement = new Map([...byStatement].map(([k, v]) => [k, { ...v }]));
  return (slowestCount = 3) => {
    const slowest: StatementTiming[] = [];
    for (const [statement, now] of byStatement) {
      const before = startByStatement.get(statement) ?? { queries: 0, milliseconds: 0 };
      if (now.queries > before.queries)
        slowest.push({
          statement,
          queries: now.queries - before.queries,
          milliseconds: now.milliseconds - before.milliseconds,
        });
    }
    slowest.sort((a, b) => b.milliseconds - a.milliseconds);
    return {
      queries: totals.queries - start.queries,
      milliseconds: totals.milliseconds - start.milliseconds,
      slowest: slowest.slice(0, slowestCount),
    };
  };
}

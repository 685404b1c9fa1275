/**
 * The conformance probe: runs named checks of every Graph behaviour the engine relies on against one
 * site of any Graph endpoint (the emulator or a real tenant). It writes only to scratch lists it
 * creates itself (`arcore-conformance-<random>`), refuses to touch a list it did not create, and deletes
 * them afterwards. Outside them it only reads (and creates one short-lived subscription on its list).
 */
import { randomBytes } from 'node:crypto';
import { GraphTransport } from '../core/target/sharepoint';
import { CHECKS } from './checks';
import { ProbeContext, SCRATCH_PREFIX, ScratchListConflictError, type ConformanceOptions } from './context';
import type { CheckOutcome, CheckResult, ConformanceReport } from './types';

export { SCRATCH_PREFIX, ScratchListConflictError, type ConformanceOptions } from './context';

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function cleanup(ctx: ProbeContext): Promise<CheckOutcome> {
  const problems: string[] = [];
  for (const id of ctx.subscriptionIds) {
    const res = await ctx.transport.send('DELETE', `/subscriptions/${encodeURIComponent(id)}`);
    if (res.status !== 204 && res.status !== 404) problems.push(`subscription ${id}: ${res.status}`);
  }
  for (const listId of ctx.created) {
    const res = await ctx.transport.send('DELETE', `/sites/${ctx.siteId}/lists/${listId}`);
    if (res.status !== 204 && res.status !== 404) problems.push(`list ${listId}: ${res.status}`);
  }
  return problems.length
    ? { status: 'failed', detail: `could not delete (delete by hand): ${problems.join('; ')}` }
    : { status: 'passed', detail: `deleted ${ctx.created.size} scratch list(s)` };
}

/** Runs every check in order; a check that throws is failed with the error, the rest still run. */
export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const transport = new GraphTransport(options.graph);
  const suffix = options.scratchSuffix ?? randomBytes(4).toString('hex');
  const ctx = new ProbeContext(transport, options, `${SCRATCH_PREFIX}${suffix}`);
  const checks: CheckResult[] = [];
  try {
    for (const check of CHECKS) {
      let outcome: CheckOutcome;
      try {
        outcome = await check.run(ctx);
      } catch (error) {
        if (error instanceof ScratchListConflictError) throw error;
        outcome = { status: 'failed', detail: describe(error) };
      }
      checks.push({ name: check.name, source: check.source, ...outcome });
    }
  } finally {
    const outcome = await cleanup(ctx).catch((error: unknown) => ({
      status: 'failed' as const,
      detail: `cleanup failed: ${describe(error)}`,
    }));
    checks.push({
      name: 'cleanup.scratchListsDeleted',
      source: 'https://learn.microsoft.com/en-us/graph/api/list-delete',
      ...outcome,
    });
    await ctx.closeEngine();
    await transport.close();
  }
  const count = (status: CheckResult['status']) => checks.filter((c) => c.status === status).length;
  return {
    target: `${options.graph.baseUrl} ${options.site}`,
    checks,
    passed: count('passed'),
    failed: count('failed'),
    skipped: count('skipped'),
  };
}

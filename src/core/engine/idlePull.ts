/**
 * The pull's idle probe (docs/design.md, I18): before a scheduled pull takes its lock, records a run and resolves
 * its lists, one metadata statement asks whether anything but the delta feed could give the run work and reads
 * each list's stored delta link; then one delta request per list, from that link. A feed at its end with no entry
 * is an idle pull: no run row, nothing written but the time of the check (at most every IDLE_MARK_SECONDS, as
 * the push's probe, for `status`). The stored link stays: it still marks the same point of the
 * feed, so the next run re-reads from there (and finds whatever came since). Any doubt (an error, a 429 that
 * outlasts the probe's wait, a changed definition, a page in progress, an entry) runs the pull as usual.
 */
import type { Pool } from 'pg';
import { RunTimeBudgetError } from '../budget/errors';
import { isRouted, targetLists } from '../routing/lists';
import { PARKED_COUNTS_SQL } from '../store/runs';
import { ResyncRequiredError } from '../target/sharepoint';
import {
  IDLE_FULL_RUN_AFTER_SECONDS,
  IDLE_MARK_SECONDS,
  idleSummary,
  readProbedDefinition,
  type ProbedDefinition,
} from './idle';
import type { EngineContext, RunSummary, RunTrigger } from './types';

/**
 * Triggers whose pull is probed first: the schedules (timer, queue, the safety pull) and the command line. A
 * webhook says something changed and a continuation has work left: both run in full.
 */
export const IDLE_PULL_TRIGGERS: ReadonlySet<RunTrigger> = new Set<RunTrigger>([
  'timer',
  'queue',
  'safety',
  'cli',
]);

/**
 * How long the probe's delta request may wait for the budget or a 429's Retry-After: a longer wait is the
 * run's business (it knows its own time budget), so the probe gives up and hands over.
 */
export const IDLE_PULL_WAIT_MS = 5_000;

/** Why a pull would have work, by check name, in the order `busy` reports them. */
const CHECKS = [
  'definition changed',
  'pull disabled',
  'definition changed since the last pull',
  'last pull not a recent success',
  'parked items due',
  'no delta link',
  'delta entries',
] as const;
type Check = (typeof CHECKS)[number];

/** What the pull probe found. `busy` names each reason a run is needed (empty when idle). */
export interface PullIdleVerdict {
  idle: boolean;
  busy: Check[];
  parkedFailures: number;
  openConflicts: number;
  heldMoves: number;
  /** Graph requests and resource units the probe spent (one delta request per list when it got that far). */
  graphRequests: number;
  resourceUnits: number;
}

const prepared = new WeakMap<Pool, Map<string, ProbedDefinition>>();

async function prepare(ctx: EngineContext, name: string): Promise<ProbedDefinition | null> {
  let cache = prepared.get(ctx.meta);
  if (!cache) prepared.set(ctx.meta, (cache = new Map()));
  const hit = cache.get(name);
  if (hit) return hit;
  const entry = await readProbedDefinition(ctx.meta, name);
  if (entry) cache.set(name, entry);
  return entry;
}

/** A list's stored delta link as the statement returns it. */
interface LinkRow {
  name: string;
  listId: string | null;
  link: string | null;
  progress: string | null;
  linkListId: string | null;
}

/**
 * `last` is the last pull (INGRESS before migration 008). Its `listProblems` mean a routed list was left out
 * of it, so that list has no link to trust. The last pull must have started after the definition's last change:
 * a newly mapped field needs the list read once with it (I14), which only a run does.
 */
const STATEMENT = `WITH
  d AS MATERIALIZED (SELECT updated_at, enabled, list_id, pull_idle_checked_at FROM arcore.sync_definitions
                      WHERE id = $1::bigint),
  last AS MATERIALIZED (
    SELECT r.status, r.details, r.started_at FROM arcore.sync_runs r
     WHERE r.definition_id = $1::bigint AND r.run_type IN ('PULL', 'INGRESS')
     ORDER BY r.started_at DESC LIMIT 1)
  SELECT
    NOT coalesce((SELECT d.updated_at::text = $2 AND d.enabled FROM d), false) AS "definition changed",
    NOT coalesce((SELECT l.started_at > d.updated_at FROM last l, d), false)
      AS "definition changed since the last pull",
    NOT coalesce((SELECT l.status = 'SUCCEEDED' AND NOT coalesce(l.details ? 'incomplete', false)
          AND NOT coalesce(l.details ? 'listProblems', false)
          AND l.started_at > now() - make_interval(secs => $3::int)
        FROM last l), false) AS "last pull not a recent success",
    EXISTS (SELECT 1 FROM arcore.sync_failures WHERE definition_id = $1::bigint AND direction = 'PULL'
        AND status = 'PARKED' AND next_attempt_at <= now()) AS "parked items due",
    CASE WHEN $4::boolean THEN
      (SELECT json_agg(json_build_object('name', n.name, 'listId', b.list_id, 'link', c.value,
                'progress', c.progress, 'linkListId', c.fingerprint->>'listId') ORDER BY n.ord)
         FROM unnest($5::text[]) WITH ORDINALITY n(name, ord)
         LEFT JOIN arcore.sync_definition_lists b ON b.definition_id = $1::bigint AND lower(b.list_name) = lower(n.name)
         LEFT JOIN arcore.sync_list_cursors c ON c.definition_id = $1::bigint AND c.list_id = b.list_id)
    ELSE
      (SELECT json_agg(json_build_object('name', ($5::text[])[1], 'listId', d.list_id, 'link', c.value,
                'progress', c.progress, 'linkListId', c.fingerprint->>'listId'))
         FROM d LEFT JOIN arcore.sync_cursors c ON c.definition_id = $1::bigint AND c.scope = 'TARGET')
    END AS links,
    ${PARKED_COUNTS_SQL('$1::bigint')},
    (SELECT count(*) FROM arcore.sync_conflicts WHERE definition_id = $1::bigint AND status = 'OPEN') AS conflicts,
    coalesce((SELECT d.pull_idle_checked_at > now() - make_interval(secs => $6::int) FROM d), false) AS marked`;

/**
 * Records the idle check for `status`, as the push's probe does (idle.ts, IDLE_MARK_SECONDS): only when the last
 * mark is older than that, so most idle pulls write nothing; SKIP LOCKED, so it never waits on `apply`.
 */
const MARK_STATEMENT = `UPDATE arcore.sync_definitions SET pull_idle_checked_at = now()
  WHERE ctid = (SELECT ctid FROM arcore.sync_definitions WHERE id = $1::bigint
                  AND (pull_idle_checked_at IS NULL OR pull_idle_checked_at <= now() - make_interval(secs => $2::int))
                  FOR UPDATE SKIP LOCKED)`;

type Row = Record<Check, boolean | undefined> & {
  links: LinkRow[] | null;
  f: string;
  m: string;
  conflicts: string;
  /** The idle check was recorded within IDLE_MARK_SECONDS: an idle answer writes nothing. */
  marked: boolean;
};

/** A link the feed can continue from: bound to the list it reads, with no page in progress. */
function usable(l: LinkRow): l is LinkRow & { link: string } {
  return l.link !== null && l.progress === null && l.listId !== null && l.linkListId === l.listId;
}

/**
 * Whether a pull of the definition would find nothing to do. Null when the probe cannot tell (not prepared, a
 * failure, a 429 or budget wait beyond IDLE_PULL_WAIT_MS): the caller runs the pull as usual.
 */
export async function probePullIdle(
  ctx: EngineContext,
  definitionName: string,
): Promise<PullIdleVerdict | null> {
  let p: ProbedDefinition | null = null;
  try {
    p = await prepare(ctx, definitionName);
    if (!p) return null;
    const lists = targetLists(p.def);
    const { rows } = await ctx.meta.query<Row>({
      name: 'arcore_idle_pull_2',
      text: STATEMENT,
      values: [p.id, p.version, IDLE_FULL_RUN_AFTER_SECONDS, isRouted(p.def), lists, IDLE_MARK_SECONDS],
    });
    const row = rows[0];
    const busy = new Set<Check>(CHECKS.filter((c) => row[c] === true));
    if (!p.def.pull.enabled) busy.add('pull disabled');
    const links = row.links ?? [];
    if (links.length !== lists.length || !links.every(usable)) busy.add('no delta link');
    const verdict: PullIdleVerdict = {
      idle: false,
      busy: [],
      parkedFailures: Number(row.f),
      openConflicts: Number(row.conflicts),
      heldMoves: Number(row.m),
      graphRequests: 0,
      resourceUnits: 0,
    };
    if (busy.has('definition changed')) prepared.get(ctx.meta)?.delete(definitionName);
    if (busy.size === 0 && !(await feedsAtTheirEnd(ctx, links as (LinkRow & { link: string })[], verdict)))
      busy.add('delta entries');
    verdict.busy = CHECKS.filter((c) => busy.has(c));
    verdict.idle = verdict.busy.length === 0;
    if (verdict.idle && !row.marked)
      await ctx.meta.query({
        name: 'arcore_idle_pull_mark',
        text: MARK_STATEMENT,
        values: [p.id, IDLE_MARK_SECONDS],
      });
    return verdict;
  } catch (err) {
    prepared.get(ctx.meta)?.delete(definitionName);
    const why =
      err instanceof RunTimeBudgetError ? `Graph asked it to wait (${err.message})` : (err as Error).message;
    ctx.log.info(`${definitionName}: pull idle probe could not tell (${why}); running the pull`);
    return null;
  }
}

/**
 * One delta request per list from its stored link, through a target of its own so the shared budget paces and
 * counts it (budget class pull). True when every feed answered no entry, no error and a deltaLink (a nextLink,
 * even on an empty page, means the feed has more: Graph's delta query overview). Stops at the first list with
 * something. A 410 (expired link) is work for the run, which re-enumerates.
 */
async function feedsAtTheirEnd(
  ctx: EngineContext,
  links: (LinkRow & { link: string })[],
  verdict: PullIdleVerdict,
): Promise<boolean> {
  const target = ctx.target({ runKind: 'pull', runDeadline: Date.now() + IDLE_PULL_WAIT_MS });
  try {
    for (const l of links) {
      // Site and list only name the feed's first enumeration, never used with a link; [] needs no column read.
      const feed = target.deltaPages('', l.listId as string, {
        deltaLink: l.link,
        select: [],
        readAgain: false,
      });
      try {
        const first = await feed.next();
        if (first.done) return false;
        const page = first.value;
        if (page.entries.length > 0 || page.errors.length > 0 || page.nextLink || !page.deltaLink)
          return false;
      } catch (err) {
        if (err instanceof ResyncRequiredError) return false;
        throw err;
      } finally {
        await feed.return(undefined);
      }
    }
    return true;
  } finally {
    const stats = target.stats();
    verdict.graphRequests = stats.requests;
    verdict.resourceUnits = stats.resourceUnits;
    await target.close();
  }
}

/** The summary of a pull the probe found idle: no run recorded, only the probe's delta requests. */
export function idlePullSummary(definition: string, started: number, verdict: PullIdleVerdict): RunSummary {
  return {
    ...idleSummary(definition, started, { ...verdict, busy: [] }),
    runType: 'PULL',
    graphRequests: verdict.graphRequests,
    resourceUnits: verdict.resourceUnits,
  };
}

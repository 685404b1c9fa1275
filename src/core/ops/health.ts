import type { DefinitionStatus, RunRecord } from './records';

/** What a definition's status is judged on (everything but the verdict itself). */
export type HealthInputs = Omit<DefinitionStatus, 'healthy' | 'healthIssues'>;

/** How much of a failed run's error an issue quotes (`runs NAME` shows all of it). */
const ERROR_WIDTH = 200;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function failedRun(kind: 'push' | 'pull', name: string, run: RunRecord | null): string[] {
  if (run?.status !== 'FAILED') return [];
  const error = run.error?.replace(/\s+/g, ' ') ?? 'no error recorded';
  const quoted = error.length <= ERROR_WIDTH ? error : `${error.slice(0, ERROR_WIDTH - 1)}…`;
  return [
    `last ${kind} FAILED (run ${run.runId}): ${quoted}; next step: arcore-sync runs ${name} (the whole error), ` +
      `fix its cause, then arcore-sync ${kind} ${name} (or let the next ${kind} run)`,
  ];
}

/**
 * Why a definition needs an operator, each with its next step; empty when nothing does. `healthy` is exactly
 * "this list is empty": a definition whose last push or pull FAILED, that has rows parked (failures, held moves,
 * a routed list skipped), open conflicts, a warning from its table's triggers, or an unhealthy replication slot is
 * not healthy (docs/cli.md, `status`). A disabled definition is not unhealthy for being disabled.
 */
export function healthIssuesOf(s: HealthInputs): string[] {
  const name = s.name;
  return [
    ...(s.slot && !s.slot.healthy
      ? [
          `replication slot: ${s.slot.message ?? 'unhealthy'} (see "replication slot:" in arcore-sync status ${name})`,
        ]
      : []),
    ...failedRun('push', name, s.lastPush),
    ...failedRun('pull', name, s.lastPull),
    ...(s.parkedFailures > 0
      ? [
          `${plural(s.parkedFailures, 'parked failure')}; next step: arcore-sync failures ${name} (each row's error), ` +
            `fix the cause, then arcore-sync failures ${name} --retry (or --discard)`,
        ]
      : []),
    ...(s.heldMoves > 0 && s.heldMoveAdvice
      ? [`${plural(s.heldMoves, 'held move')}; next step: ${s.heldMoveAdvice.nextStep}`]
      : []),
    ...(s.openConflicts > 0
      ? [
          `${plural(s.openConflicts, 'open conflict')}; next step: arcore-sync conflicts ${name}, then ` +
            'arcore-sync resolve ID --take postgres|sharepoint',
        ]
      : []),
    ...(s.listProblems.length > 0
      ? [
          `${plural(s.listProblems.length, 'routed list')} skipped (its rows wait, parked); next step: ` +
            (s.listProblems[0].nextStep ?? `see "list problems" in arcore-sync status ${name}`),
        ]
      : []),
    ...s.sourceWarnings.map((w) => `table trigger: ${w}`),
  ];
}

export { definitionStatus } from './status';
export { listRuns, recordPoisonedRun, MAX_RUNS_LISTED } from './runs';
export { listConflicts, getConflict, differingFields, type ConflictFieldValues } from './conflicts';
export { listFailures, retryFailures, discardFailures, type FailureChange } from './failures';
export { resetCursor, type CursorReset, type CursorResetScope } from './cursors';
export { decideParkedTruncate, type TruncateDecided } from './truncates';
export {
  definitionsDueForPush,
  pullEnabledDefinitions,
  pushTickWindow,
  scheduleFiresIn,
  type ScheduledDefinition,
  type TickWindow,
} from './schedule';
export { definitionIdByName } from './definitionIds';
export { CursorSetupError, DefinitionBusyError, UnknownConflictError, UnknownFailureError } from './errors';
export type * from './records';
export { removeDefinition, type RemoveResult, type RemovedRows, type SubscriptionLeft } from './remove';
export {
  installCursor,
  installCursorFor,
  type CursorPart,
  type CursorPartStatus,
  type InstallCursorResult,
} from './installCursor';

export { runBackfill, type BackfillOptions, type BackfillSummary } from './run';
export { decideBackfill, mergeSynced, planOnly } from './decide';
export {
  BackfillDirectionError,
  BackfillInProgressError,
  resolveBackfillFields,
  UnknownBackfillFieldError,
} from './fields';

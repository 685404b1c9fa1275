export type { ConflictDetection, ConflictPolicy, TieBreaker } from './policy';
export { DEFAULT_TIE_BREAKER } from './policy';
export { canonicalEquals, changedFields } from './changes';
export {
  ConflictInputError,
  resolveConflict,
  type ConflictDecision,
  type ConflictInput,
  type ConflictOutcome,
} from './resolve';

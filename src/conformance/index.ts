export { runConformance, SCRATCH_PREFIX, ScratchListConflictError, type ConformanceOptions } from './probe';
export type { CheckResult, CheckStatus, ConformanceReport } from './types';

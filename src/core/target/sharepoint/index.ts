export type { GraphAuth, GraphClientOptions, ThrottleGate, TraceNotice, WaitNotice } from './options';
export { graphOptionsFromSettings, GRAPH_SCOPE } from './options';
export {
  GraphTransport,
  USER_AGENT,
  type GraphRequestInit,
  type GraphResponse,
  type GraphTransportStats,
  type HttpMethod,
} from './GraphTransport';
export { SharePointTarget, type ItemQuery } from './SharePointTarget';
export { PgThrottleGate } from './pgThrottleGate';
export { assertColumnsExist, toSpColumnInfo } from './columns';
export { MAX_BATCH_SIZE, outcomesBeforeStop } from './batchWriter';
export { internalNameFor, MAX_INTERNAL_NAME_LENGTH } from './internalNames';
export { MAX_LOOKUPS_PER_QUERY } from './readSelect';
export {
  FieldsMissingError,
  GraphAuthError,
  GraphOutcomeUnknownError,
  GraphPermissionError,
  GraphRequestError,
  GraphResponseShapeError,
  ResyncRequiredError,
  UnknownColumnError,
  permissionNeededFor,
} from './errors';
export type { Subscription } from './graphSchemas';
export type {
  CreateSubscriptionInput,
  DeltaEntry,
  DeltaPage,
  ListItem,
  WriteOp,
  WriteOutcome,
} from './types';
export { appliedNothing } from './types';

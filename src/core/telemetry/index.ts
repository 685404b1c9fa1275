export {
  disabledTelemetry,
  METRIC_CONFLICTS,
  METRIC_RESOURCE_UNITS,
  METRIC_THROTTLE_WAIT_MS,
  METRIC_SLOT_LAG_BYTES,
  METRIC_SLOT_RETAINED_WAL_BYTES,
  RUN_EVENT_NAME,
  runEventOf,
  SLOT_EVENT_NAME,
  slotEventOf,
  entraClientIdOf,
  startTelemetry,
  type ExceptionContext,
  type Telemetry,
} from './telemetry';
export { collectFetchDependencies, type FetchDependency } from './fetchDependencies';
export { consoleLogger, invocationLogger, type InvocationLogSink } from './invocationLogger';

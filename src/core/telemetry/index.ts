export {
  disabledTelemetry,
  METRIC_CONFLICTS,
  METRIC_RESOURCE_UNITS,
  METRIC_THROTTLE_WAIT_MS,
  RUN_EVENT_NAME,
  runEventOf,
  entraClientIdOf,
  startTelemetry,
  type ExceptionContext,
  type Telemetry,
} from './telemetry';
export { collectFetchDependencies, type FetchDependency } from './fetchDependencies';
export { consoleLogger, invocationLogger, type InvocationLogSink } from './invocationLogger';

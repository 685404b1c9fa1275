import { startTelemetry } from '../core/telemetry';

// Imported first by every function module: Application Insights must start before `pg` is loaded for
// its Postgres instrumentation to patch the driver (see startTelemetry). Nothing happens without
// APPLICATIONINSIGHTS_CONNECTION_STRING.
startTelemetry(process.env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim() || undefined);

export const name = 'shared_budget';

/**
 * I16: one resource-unit budget per app and tenant, shared by every process and instance. One row per
 * app key holds a token bucket that every reservation updates in one atomic statement; a crashed holder
 * leaves nothing to clean up (tokens it took are spent, the bucket refills with time). The throttle row
 * keeps what the server asked for next to the (capped) block we honour, for `status`.
 */
export const sql = `
CREATE TABLE arcore.graph_budget (
  app_key           text PRIMARY KEY,
  units_per_minute  integer NOT NULL,
  tokens            double precision NOT NULL,
  refilled_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  minute_start      timestamptz NOT NULL DEFAULT date_trunc('minute', clock_timestamp()),
  minute_units      bigint NOT NULL DEFAULT 0,
  prev_minute_units bigint NOT NULL DEFAULT 0,
  granted_units     bigint NOT NULL DEFAULT 0,
  reservations      bigint NOT NULL DEFAULT 0,
  refusals          bigint NOT NULL DEFAULT 0,
  updated_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);

ALTER TABLE arcore.graph_throttle
  ADD COLUMN asked_until timestamptz,
  ADD COLUMN reason text;
`;

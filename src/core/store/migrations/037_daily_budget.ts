/**
 * 037: the shared budget's second level, the app's daily resource units (I10, I16; budget/shape.ts). The day level
 * refills from the same `refilled_at` as the minute's, in the same atomic reservation; NULL `day_tokens` means a full
 * day (rows from before this migration). `day_units` counts the units granted in the current UTC day, for `status`;
 * `day_refusals` the reservations the day's level (not the minute's) made wait.
 */
export const name = 'daily_budget';

export const sql = `
ALTER TABLE arcore.graph_budget
  ADD COLUMN units_per_day bigint,
  ADD COLUMN day_tokens double precision,
  ADD COLUMN day_start timestamptz,
  ADD COLUMN day_units bigint NOT NULL DEFAULT 0,
  ADD COLUMN day_refusals bigint NOT NULL DEFAULT 0;
`;

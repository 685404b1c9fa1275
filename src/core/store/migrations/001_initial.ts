/**
 * The metadata store. Every table lives in schema `arcore`; see docs/design.md for what each row means
 * and which invariant it serves.
 */
export const name = 'initial';

export const sql = `
CREATE TABLE arcore.sync_definitions (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name               text NOT NULL UNIQUE,
  source_connection  text NOT NULL DEFAULT 'default',
  source_schema      text NOT NULL,
  source_table       text NOT NULL,
  key_columns        text[] NOT NULL CHECK (cardinality(key_columns) > 0),
  key_strategy       text NOT NULL CHECK (key_strategy IN ('PRIMARY_KEY', 'COMPOSITE_COLUMNS')),
  cursor_type        text NOT NULL CHECK (cursor_type IN ('TIMESTAMP', 'LSN')),
  cursor_column      text,
  target_site        text NOT NULL,
  target_list        text NOT NULL,
  conflict_policy    text NOT NULL
    CHECK (conflict_policy IN ('SOURCE_WINS', 'DESTINATION_WINS', 'LAST_WRITER_WINS', 'MERGE', 'MANUAL')),
  push_delete_policy text NOT NULL CHECK (push_delete_policy IN ('PROPAGATE', 'SOFT', 'IGNORE')),
  pull_delete_policy text NOT NULL CHECK (pull_delete_policy IN ('PROPAGATE', 'SOFT', 'IGNORE')),
  schedule           text NOT NULL,
  enabled            boolean NOT NULL DEFAULT true,
  document           jsonb NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE arcore.field_mappings (
  definition_id   bigint NOT NULL REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  position        integer NOT NULL,
  source_column   text NOT NULL,
  target_column   text NOT NULL,
  direction       text NOT NULL CHECK (direction IN ('BIDIRECTIONAL', 'PUSH_ONLY', 'PULL_ONLY')),
  is_system_field boolean NOT NULL DEFAULT false,
  transform       jsonb,
  PRIMARY KEY (definition_id, target_column),
  UNIQUE (definition_id, position)
);

CREATE TABLE arcore.sync_ledger (
  definition_id        bigint NOT NULL REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  source_identity_hash text NOT NULL,
  source_identity      jsonb NOT NULL,
  source_key_strategy  text NOT NULL CHECK (source_key_strategy IN ('PRIMARY_KEY', 'COMPOSITE_COLUMNS')),
  source_connection    text NOT NULL,
  sp_list_id           text NOT NULL,
  sp_item_id           text,
  sp_etag              text,
  synced_values        jsonb,
  content_hash         text,
  provenance           text CHECK (provenance IN ('PUSH', 'PULL')),
  -- PENDING_CREATE: a create is in flight (recorded before it is sent, I6).
  -- ORPHANED: the source row is gone and the delete policy (SOFT, IGNORE) kept the item.
  state                text NOT NULL DEFAULT 'SYNCED' CHECK (state IN ('SYNCED', 'PENDING_CREATE', 'ORPHANED')),
  last_source_ts       timestamptz,
  sp_modified_at       timestamptz,
  last_sync_ts         timestamptz NOT NULL DEFAULT now(),
  -- Run id of the full delta enumeration that last saw the item; unseen items were deleted (resync, I8).
  seen_run             bigint,
  created_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (definition_id, source_identity_hash),
  CHECK (state = 'PENDING_CREATE' OR sp_item_id IS NOT NULL)
);
CREATE UNIQUE INDEX sync_ledger_item ON arcore.sync_ledger (definition_id, sp_list_id, sp_item_id);
-- Every push looks for creates a crashed run left in flight: almost always none, so a tiny partial index.
CREATE INDEX sync_ledger_pending ON arcore.sync_ledger (definition_id) WHERE state = 'PENDING_CREATE';

CREATE TABLE arcore.sync_cursors (
  definition_id bigint NOT NULL REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  scope         text NOT NULL CHECK (scope IN ('SOURCE', 'TARGET')),
  cursor_type   text NOT NULL CHECK (cursor_type IN ('TIMESTAMP', 'LSN', 'DELTA_TOKEN')),
  value         text,
  progress      text,
  -- SOURCE only: when push last compared the table with the ledger to find deletes (I8).
  deletes_checked_at timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (definition_id, scope)
);

CREATE TABLE arcore.sync_runs (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  definition_id    bigint NOT NULL REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  run_type         text NOT NULL CHECK (run_type IN ('PUSH', 'INGRESS', 'CDC')),
  trigger          text NOT NULL,
  status           text NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED', 'SKIPPED')),
  started_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  processed        integer NOT NULL DEFAULT 0,
  created          integer NOT NULL DEFAULT 0,
  updated          integer NOT NULL DEFAULT 0,
  deleted          integer NOT NULL DEFAULT 0,
  skipped          integer NOT NULL DEFAULT 0,
  conflicts        integer NOT NULL DEFAULT 0,
  failed           integer NOT NULL DEFAULT 0,
  throttle_wait_ms bigint NOT NULL DEFAULT 0,
  graph_requests   integer NOT NULL DEFAULT 0,
  resource_units   integer NOT NULL DEFAULT 0,
  error            text,
  details          jsonb
);
CREATE INDEX sync_runs_definition ON arcore.sync_runs (definition_id, started_at DESC);

CREATE TABLE arcore.sync_conflicts (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  definition_id        bigint NOT NULL REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  run_id               bigint REFERENCES arcore.sync_runs (id) ON DELETE SET NULL,
  source_identity_hash text NOT NULL,
  source_identity      jsonb NOT NULL,
  sp_item_id           text,
  detected_by          text NOT NULL CHECK (detected_by IN ('PUSH', 'PULL')),
  policy               text NOT NULL,
  base_values          jsonb,
  postgres_values      jsonb,
  sharepoint_values    jsonb,
  outcome              text NOT NULL,
  resolved_values      jsonb,
  status               text NOT NULL CHECK (status IN ('OPEN', 'RESOLVED')),
  reason               text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  resolved_at          timestamptz,
  resolved_by          text
);
CREATE UNIQUE INDEX sync_conflicts_open ON arcore.sync_conflicts (definition_id, source_identity_hash)
  WHERE status = 'OPEN';

CREATE TABLE arcore.sync_failures (
  id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  definition_id        bigint NOT NULL REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  direction            text NOT NULL CHECK (direction IN ('PUSH', 'PULL')),
  item_key             text NOT NULL,
  source_identity      jsonb,
  sp_item_id           text,
  attempts             integer NOT NULL DEFAULT 1,
  last_error           text NOT NULL,
  status               text NOT NULL DEFAULT 'PARKED' CHECK (status IN ('PARKED', 'RESOLVED', 'DISCARDED')),
  first_failed_at      timestamptz NOT NULL DEFAULT now(),
  last_failed_at       timestamptz NOT NULL DEFAULT now(),
  next_attempt_at      timestamptz NOT NULL DEFAULT now(),
  resolved_at          timestamptz
);
CREATE UNIQUE INDEX sync_failures_parked ON arcore.sync_failures (definition_id, direction, item_key)
  WHERE status = 'PARKED';

CREATE TABLE arcore.graph_subscriptions (
  subscription_id   text PRIMARY KEY,
  definition_id     bigint NOT NULL REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  site_id           text NOT NULL,
  list_id           text NOT NULL,
  resource          text NOT NULL,
  notification_url  text NOT NULL,
  expiration        timestamptz NOT NULL,
  client_state_hash text NOT NULL,
  state             text NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'REAUTHORIZATION_REQUIRED', 'REMOVED')),
  created_at        timestamptz NOT NULL DEFAULT now(),
  renewed_at        timestamptz
);
CREATE INDEX graph_subscriptions_definition ON arcore.graph_subscriptions (definition_id);

-- One row per definition with a pull waiting to run: many notifications collapse into it (I11).
CREATE TABLE arcore.pending_pulls (
  definition_id bigint PRIMARY KEY REFERENCES arcore.sync_definitions (id) ON DELETE CASCADE,
  requested_at  timestamptz NOT NULL DEFAULT now(),
  reason        text NOT NULL
);

-- A 429 seen by one worker makes every worker of the same app and tenant wait (I10).
CREATE TABLE arcore.graph_throttle (
  app_key       text PRIMARY KEY,
  blocked_until timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
`;

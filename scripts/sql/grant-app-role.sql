-- Grants the app's role what it needs in the application database. Idempotent.
-- Run on the application database by a Microsoft Entra administrator, with
-- PGOPTIONS="-c arcore.app_role=…" (see create-app-role.sql), and optionally "-c arcore.cdc_tables=s.t,s.u":
-- the tables of LSN (change data capture) definitions, handed to the app role (see below).
DO $$
DECLARE
  app_role text := current_setting('arcore.app_role');
  cdc_tables text := coalesce(current_setting('arcore.cdc_tables', true), '');
  qualified text;
  fn text;
  not_granted text[] := ARRAY[]::text[];
BEGIN
  EXECUTE format('GRANT CONNECT, TEMPORARY, CREATE ON DATABASE %I TO %I', current_database(), app_role);
  -- The app creates and migrates its metadata tables in public (PostgreSQL 15+ no longer lets everyone create there).
  EXECUTE format('GRANT USAGE, CREATE ON SCHEMA public TO %I', app_role);
  EXECUTE format(
    'GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public TO %I',
    app_role);
  EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO %I', app_role);
  -- Tables this administrator creates later (`arcore-sync apply` run from a workstation) are the app's too.
  EXECUTE format(
    'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLES TO %I',
    app_role);
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO %I', app_role);
  -- Change data capture: the app creates one publication per LSN definition (CREATE on the database, above),
  -- and only a table's owner may add it to a publication. The tables named in arcore.cdc_tables become the
  -- app role's; this administrator keeps full use of them through its membership of the app role (below).
  FOREACH qualified IN ARRAY string_to_array(regexp_replace(cdc_tables, '\s', '', 'g'), ',') LOOP
    CONTINUE WHEN qualified = '';
    IF qualified !~ '^[a-z_][a-z0-9_$]*\.[a-z_][a-z0-9_$]*$' THEN
      RAISE EXCEPTION 'arcore.cdc_tables entry "%" must be schema.table in lower case', qualified;
    END IF;
    EXECUTE format('ALTER TABLE %I.%I OWNER TO %I', split_part(qualified, '.', 1), split_part(qualified, '.', 2),
      app_role);
    RAISE NOTICE 'table % is now owned by % (it may add it to its publication)', qualified, app_role;
  END LOOP;
  -- Pulls mark their transactions with a replication origin so that capture skips them; the origin functions
  -- are superuser-only until granted. Where this administrator may not grant them (a non-superuser, as on
  -- Azure), capture keeps pulls out by the ledger's echo check alone.
  FOREACH fn IN ARRAY ARRAY['pg_replication_origin_create(text)', 'pg_replication_origin_drop(text)',
      'pg_replication_origin_oid(text)', 'pg_replication_origin_session_setup(text)',
      'pg_replication_origin_session_reset()', 'pg_replication_origin_xact_setup(pg_lsn, timestamp with time zone)']
  LOOP
    BEGIN
      EXECUTE format('GRANT EXECUTE ON FUNCTION pg_catalog.%s TO %I', fn, app_role);
    EXCEPTION WHEN insufficient_privilege OR undefined_function THEN
      not_granted := not_granted || fn;
    END;
  END LOOP;
  IF cardinality(not_granted) > 0 THEN
    RAISE WARNING 'could not grant % EXECUTE on the replication origin functions % (only needed to keep pulls out of change data capture before the ledger sees them)',
      app_role, array_to_string(not_granted, ', ');
  END IF;
  -- And the administrator may act on tables the app creates: an inheriting membership (since PostgreSQL 16 the
  -- CREATEROLE administrator holds only ADMIN OPTION on roles it creates, which confers no privileges).
  IF NOT pg_catalog.pg_has_role(current_user, app_role, 'USAGE') THEN
    BEGIN
      EXECUTE format('GRANT %I TO CURRENT_USER', app_role);
    EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN
      RAISE WARNING 'could not make % a member of % (tables the app creates stay the app''s): %',
        current_user, app_role, SQLERRM;
    END;
  END IF;
END
$$;

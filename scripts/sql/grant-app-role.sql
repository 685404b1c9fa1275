-- Grants the app's role what it needs in the application database. Idempotent.
-- Run on the application database by a Microsoft Entra administrator, with
-- PGOPTIONS="-c arcore.app_role=…" (see create-app-role.sql).
DO $$
DECLARE
  app_role text := current_setting('arcore.app_role');
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

-- Creates the Postgres role the app logs in as, mapped to its Entra identity by object id. Idempotent.
-- Run on the `postgres` database by a Microsoft Entra administrator of the server.
-- Inputs are server settings passed at connection time (PGOPTIONS="-c arcore.app_role=… -c arcore.app_object_id=…"),
-- so that this file is plain SQL that any client can run.
DO $$
DECLARE
  app_role text := current_setting('arcore.app_role');
  app_object_id text := current_setting('arcore.app_object_id');
BEGIN
  IF app_role !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
    RAISE EXCEPTION 'arcore.app_role "%" must be a lower-case identifier', app_role;
  END IF;
  IF app_object_id !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    RAISE EXCEPTION 'arcore.app_object_id "%" is not an Entra object id', app_object_id;
  END IF;

  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = app_role) THEN
    RAISE NOTICE 'role % already exists', app_role;
  ELSE
    -- 'service' covers managed identities and app registrations; not an admin, no MFA (it is a daemon).
    PERFORM pgaadauth_create_principal_with_oid(app_role, app_object_id, 'service', false, false);
    RAISE NOTICE 'created role % for Entra object %', app_role, app_object_id;
  END IF;

  -- Change data capture (LSN definitions) needs REPLICATION to create and read slots. Since PostgreSQL 16 only
  -- a role holding REPLICATION may grant it; Azure lets the Entra administrator give it to itself.
  BEGIN
    EXECUTE 'ALTER ROLE CURRENT_USER WITH REPLICATION';
    EXECUTE format('ALTER ROLE %I WITH REPLICATION', app_role);
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'could not give % the REPLICATION attribute (only needed for change data capture): %',
      app_role, SQLERRM;
  END;
END
$$;

#!/usr/bin/env bash
# Creates the app's Postgres role (mapped to its Entra identity), grants it the application database, and
# restarts the server if wal_level=logical is stored but not yet in effect. Idempotent.
#
# Runs psql from this machine as the Entra administrator of the server (the deployer by default), with an
# access token from `az account get-access-token --resource-type oss-rdbms` as the password. The server's
# firewall must let this machine in: the script adds a rule for this machine's public address and removes
# it on exit (POSTGRES_CLIENT_IP overrides the detected address; KEEP_POSTGRES_CLIENT_RULE=1 keeps the rule;
# SKIP_POSTGRES_CLIENT_RULE=1 adds none, e.g. when POSTGRES_ALLOWED_IP_RANGES already covers this machine).
# POSTGRES_CDC_TABLES (comma-separated schema.table) names the tables of LSN definitions: they are handed to the
# app role, because only a table's owner may add it to the publication change data capture reads.
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

SQL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/sql" && pwd)"
readonly SQL_DIR
readonly CLIENT_RULE=postprovision-client

require_cmd az "install the Azure CLI and run az login"
require_cmd psql "install the PostgreSQL client (psql), e.g. apt-get install postgresql-client"
load_azd_env
require_env AZURE_RESOURCE_GROUP POSTGRES_SERVER_NAME POSTGRES_HOST POSTGRES_DATABASE POSTGRES_APP_ROLE

admin_user=${POSTGRES_ADMIN_USER:-${POSTGRES_ADMIN_NAME:-}}
[[ -n "$admin_user" ]] || admin_user=$(az ad signed-in-user show --query userPrincipalName --output tsv 2>/dev/null || true)
[[ -n "$admin_user" ]] || die "set POSTGRES_ADMIN_USER to the name of a Microsoft Entra administrator of $POSTGRES_SERVER_NAME"

app_object_id=$(app_principal_object_id)
[[ -n "$app_object_id" ]] || die "the app's service principal was not found"
[[ "${POSTGRES_CDC_TABLES:-}" =~ ^[a-z0-9_.,$]*$ ]] ||
  die "POSTGRES_CDC_TABLES '$POSTGRES_CDC_TABLES' must be comma-separated schema.table names in lower case, no spaces"

open_firewall_for_this_machine() {
  [[ "${SKIP_POSTGRES_CLIENT_RULE:-0}" == "1" ]] && return
  local ip=${POSTGRES_CLIENT_IP:-}
  if [[ -z "$ip" ]]; then
    require_cmd curl "needed to find this machine's public address (or set POSTGRES_CLIENT_IP)"
    ip=$(curl --fail --silent --show-error --max-time 10 https://api.ipify.org) ||
      die "could not detect this machine's public IP address; set POSTGRES_CLIENT_IP"
  fi
  [[ "$ip" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || die "POSTGRES_CLIENT_IP '$ip' is not an IPv4 address"
  log "allowing $ip through the firewall of $POSTGRES_SERVER_NAME (rule $CLIENT_RULE)"
  az postgres flexible-server firewall-rule create --resource-group "$AZURE_RESOURCE_GROUP" \
    --name "$POSTGRES_SERVER_NAME" --rule-name "$CLIENT_RULE" \
    --start-ip-address "$ip" --end-ip-address "$ip" --output none
  if [[ "${KEEP_POSTGRES_CLIENT_RULE:-0}" != "1" ]]; then
    trap close_firewall_for_this_machine EXIT
  fi
}

close_firewall_for_this_machine() {
  az postgres flexible-server firewall-rule delete --resource-group "$AZURE_RESOURCE_GROUP" \
    --name "$POSTGRES_SERVER_NAME" --rule-name "$CLIENT_RULE" --yes --output none ||
    warn "could not remove firewall rule $CLIENT_RULE; remove it by hand"
}

# psql_as_admin <database> <psql arguments…>: a fresh token per call (tokens last about an hour).
psql_as_admin() {
  local database=$1
  shift
  local token
  token=$(az account get-access-token --resource-type oss-rdbms --query accessToken --output tsv)
  # Connection details go through libpq's environment, so names with spaces (groups) need no quoting.
  PGHOST="$POSTGRES_HOST" PGPORT=5432 PGDATABASE="$database" PGUSER="$admin_user" PGPASSWORD="$token" \
    PGSSLMODE=require PGCONNECT_TIMEOUT=20 \
    PGOPTIONS="-c arcore.app_role=$POSTGRES_APP_ROLE -c arcore.app_object_id=$app_object_id${POSTGRES_CDC_TABLES:+ -c arcore.cdc_tables=$POSTGRES_CDC_TABLES}" \
    psql --no-psqlrc --set ON_ERROR_STOP=1 --quiet "$@"
}

wal_level_in_effect() {
  psql_as_admin postgres --tuples-only --no-align --command 'SHOW wal_level'
}

open_firewall_for_this_machine

# The first login right after the administrator was added (or the rule created) can be refused for a while.
retry 6 10 psql_as_admin postgres --command 'SELECT 1' >/dev/null ||
  die "cannot log in to $POSTGRES_HOST as $admin_user. Is that identity a Microsoft Entra administrator of the server (principalName/principalType parameters), and is this machine allowed through the firewall?"

if [[ "$(wal_level_in_effect)" != "logical" ]]; then
  log "wal_level=logical is configured but not yet in effect: restarting $POSTGRES_SERVER_NAME"
  az postgres flexible-server restart --resource-group "$AZURE_RESOURCE_GROUP" --name "$POSTGRES_SERVER_NAME" --output none
  retry 12 10 psql_as_admin postgres --command 'SELECT 1' >/dev/null || die "$POSTGRES_SERVER_NAME did not come back after the restart"
  [[ "$(wal_level_in_effect)" == "logical" ]] || warn "wal_level is still not logical; check the server parameters"
fi

psql_as_admin postgres --file "$SQL_DIR/create-app-role.sql"
psql_as_admin "$POSTGRES_DATABASE" --file "$SQL_DIR/grant-app-role.sql"
log "Postgres role $POSTGRES_APP_ROLE is mapped to Entra object $app_object_id and may use database $POSTGRES_DATABASE"

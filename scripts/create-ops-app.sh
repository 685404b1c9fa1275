#!/usr/bin/env bash
# azd preprovision hook (fallback of infra/app/entra.bicep): creates the app registration that guards the
# ops API when OPS_AUTH_MODE=entra (the default), no OPS_AUTH_CLIENT_ID is set and the Graph Bicep
# extension is not used (ENTRA_IN_BICEP != true). It defines the app roles Ops.Read (GET) and Ops.Write
# (GET and POST), requires an assignment for every caller, makes the deployer an operator, and stores the
# client id with `azd env set OPS_AUTH_CLIENT_ID`. Idempotent (looked up by its unique display name).
# The console's sign-in redirect URI (https://<app>/.auth/login/aad/callback) needs the app's host name, so the
# postprovision hook adds it (scripts/register-console-sign-in.sh).
#
# Creating an app registration needs the right to register applications (default for members unless the
# tenant disabled it, or Application Developer). Without it: warn and continue; the template then leaves
# the ops API on the master key (OPS_AUTH=key), never unauthenticated.
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

require_azd_version
require_cmd az "install the Azure CLI and run az login"
load_azd_env

if [[ "${OPS_AUTH_MODE:-entra}" != "entra" ]]; then
  log "OPS_AUTH_MODE=${OPS_AUTH_MODE}: the ops API uses the master key; no app registration needed"
  exit 0
fi
if [[ -n "${OPS_AUTH_CLIENT_ID:-}" ]]; then
  log "ops API app registration: $OPS_AUTH_CLIENT_ID (OPS_AUTH_CLIENT_ID)"
  exit 0
fi
if [[ "${ENTRA_IN_BICEP:-false}" == "true" ]]; then
  log "ENTRA_IN_BICEP=true: the template creates the ops API app registration"
  exit 0
fi
require_env AZURE_ENV_NAME

display_name="ArcoreSyncBridge ops API (${AZURE_ENV_NAME})"
roles_file=$(mktemp)
trap 'rm -f "$roles_file"' EXIT
cat >"$roles_file" <<JSON
[
  {"allowedMemberTypes": ["User", "Application"], "value": "Ops.Read", "isEnabled": true,
   "displayName": "ArcoreSyncBridge reader",
   "description": "Read definitions, runs, conflicts and failures through the ops API."},
  {"allowedMemberTypes": ["User", "Application"], "value": "Ops.Write", "isEnabled": true,
   "displayName": "ArcoreSyncBridge operator",
   "description": "Run pushes and pulls, reset cursors, resolve conflicts, retry or discard failures."}
]
JSON

app_id=$(az ad app list --display-name "$display_name" --query '[0].appId' --output tsv 2>/dev/null || true)
if [[ -z "$app_id" ]]; then
  if ! app_id=$(az ad app create --display-name "$display_name" --sign-in-audience AzureADMyOrg \
    --app-roles "@$roles_file" --query appId --output tsv); then
    warn "could not create the ops API app registration (no right to register applications?)."
    warn "The ops API stays on the master key. Ask an administrator to run this script, or set OPS_AUTH_CLIENT_ID."
    exit 0
  fi
  log "created the ops API app registration $app_id"
fi
# v2 access tokens: their audience is the client id, which App Service Authentication accepts.
retry 6 10 az ad app update --id "$app_id" --set api.requestedAccessTokenVersion=2 ||
  die "could not configure the app registration $app_id"

sp_id=$(az ad sp show --id "$app_id" --query id --output tsv 2>/dev/null || true)
if [[ -z "$sp_id" ]]; then
  retry 6 10 az ad sp create --id "$app_id" --output none || die "could not create the service principal of $app_id"
  sp_id=$(az ad sp show --id "$app_id" --query id --output tsv)
fi
retry 6 10 az ad sp update --id "$sp_id" --set appRoleAssignmentRequired=true ||
  die "could not require role assignments on $sp_id"

# The deployer becomes an operator, so the first `curl` after `azd up` works.
deployer_id=${AZURE_PRINCIPAL_ID:-$(az ad signed-in-user show --query id --output tsv 2>/dev/null || true)}
write_role=$(az ad sp show --id "$sp_id" --query "appRoles[?value=='Ops.Write'].id | [0]" --output tsv)
if [[ -n "$deployer_id" && -n "$write_role" ]]; then
  assigned=$(az rest --method GET \
    --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$sp_id/appRoleAssignedTo" \
    --query "length(value[?principalId=='$deployer_id' && appRoleId=='$write_role'])" --output tsv)
  if [[ "$assigned" == "0" ]]; then
    retry 6 10 az rest --method POST \
      --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$sp_id/appRoleAssignedTo" \
      --headers 'Content-Type=application/json' \
      --body "{\"principalId\":\"$deployer_id\",\"resourceId\":\"$sp_id\",\"appRoleId\":\"$write_role\"}" \
      --output none || warn "could not make $deployer_id an operator; assign Ops.Write in Entra (Enterprise applications)"
  fi
fi

azd env set OPS_AUTH_CLIENT_ID "$app_id"
log "OPS_AUTH_CLIENT_ID=$app_id; assign Ops.Read or Ops.Write to users in Entra (Enterprise applications → $display_name)"

#!/usr/bin/env bash
# Grants the app's identity its Microsoft Graph application permission. Idempotent.
#
#   default:          Sites.ReadWrite.All (items, delta, list subscriptions in every site).
#   SITES_SELECTED=1: Sites.Selected, plus a per-site grant on each site in SHAREPOINT_SITES
#                     (comma-separated site ids or URLs like https://contoso.sharepoint.com/sites/ops),
#                     with the role SITES_SELECTED_ROLE (read | write | manage | fullcontrol; default write).
#
# Who can run it: an app-role assignment needs Privileged Role Administrator or Cloud Application
# Administrator (AppRoleAssignment.ReadWrite.All); a per-site grant needs Sites.FullControl.All, i.e.
# a SharePoint administrator.
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

require_cmd az "install the Azure CLI and run az login"
load_azd_env

graph_sp_id=$(az ad sp show --id "$GRAPH_RESOURCE_APP_ID" --query id --output tsv)
[[ -n "$graph_sp_id" ]] || die "Microsoft Graph's service principal was not found in this tenant"

principal_id=$(app_principal_object_id)
[[ -n "$principal_id" ]] || die "the app's service principal was not found"

graph_app_role_id() {
  az ad sp show --id "$GRAPH_RESOURCE_APP_ID" \
    --query "appRoles[?value=='$1' && contains(allowedMemberTypes, 'Application')].id | [0]" --output tsv
}

has_app_role() {
  local count
  count=$(az rest --method GET \
    --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$principal_id/appRoleAssignments" \
    --query "length(value[?appRoleId=='$1' && resourceId=='$graph_sp_id'])" --output tsv)
  [[ "$count" != "0" ]]
}

post_app_role_assignment() {
  az rest --method POST \
    --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$principal_id/appRoleAssignments" \
    --headers 'Content-Type=application/json' \
    --body "{\"principalId\":\"$principal_id\",\"resourceId\":\"$graph_sp_id\",\"appRoleId\":\"$1\"}" \
    --output none
}

assign_graph_permission() {
  local permission=$1 role_id
  role_id=$(graph_app_role_id "$permission")
  [[ -n "$role_id" ]] || die "Graph has no application permission named $permission"
  if has_app_role "$role_id"; then
    log "the app identity already holds Graph $permission"
    return
  fi
  # A service principal created minutes ago may not have replicated through Entra yet.
  retry 6 10 post_app_role_assignment "$role_id" ||
    die "could not grant Graph $permission to $principal_id (needs Privileged Role Administrator or Cloud Application Administrator)"
  log "granted Graph $permission to the app identity"
}

# Site id from a site id ("host,guid,guid") or a site URL (https://host/sites/name, or https://host for the root).
resolve_site_id() {
  local site=$1
  if [[ "$site" != https://* ]]; then
    printf '%s\n' "$site"
    return
  fi
  local without_scheme=${site#https://}
  local host=${without_scheme%%/*}
  local path=''
  if [[ "$without_scheme" == */* ]]; then
    path=/${without_scheme#*/}
    path=${path%/}
  fi
  local uri="https://graph.microsoft.com/v1.0/sites/$host"
  [[ -z "$path" ]] || uri="$uri:$path"
  az rest --method GET --uri "$uri" --query id --output tsv
}

grant_site() {
  local site_id=$1 role=$2 client_id=$3 existing
  existing=$(az rest --method GET --uri "https://graph.microsoft.com/v1.0/sites/$site_id/permissions" \
    --query "length(value[?grantedToIdentitiesV2[?application.id=='$client_id'] || grantedToIdentities[?application.id=='$client_id']])" \
    --output tsv)
  if [[ "$existing" != "0" ]]; then
    log "site $site_id already grants the app identity access"
    return
  fi
  if ! az rest --method POST --uri "https://graph.microsoft.com/v1.0/sites/$site_id/permissions" \
    --headers 'Content-Type=application/json' \
    --body "{\"roles\":[\"$role\"],\"grantedToIdentities\":[{\"application\":{\"id\":\"$client_id\",\"displayName\":\"arcore-sync-bridge\"}}]}" \
    --output none; then
    die "could not grant $role on site $site_id. This call needs Sites.FullControl.All: run it as a SharePoint administrator, or grant it with PnP PowerShell (Grant-PnPAzureADAppSitePermission -AppId $client_id -Site <url> -Permissions Write)"
  fi
  log "granted $role on site $site_id to the app identity"
}

if [[ "${SITES_SELECTED:-0}" == "1" ]]; then
  require_env SHAREPOINT_SITES
  role=${SITES_SELECTED_ROLE:-write}
  [[ "$role" =~ ^(read|write|manage|fullcontrol)$ ]] || die "SITES_SELECTED_ROLE must be read, write, manage or fullcontrol"
  warn "Sites.Selected: Microsoft does not document list change notifications under it; webhooks may be refused (the safety pull still runs)."
  assign_graph_permission Sites.Selected
  client_id=$(app_client_id)
  IFS=',' read -r -a sites <<<"$SHAREPOINT_SITES"
  for site in "${sites[@]}"; do
    site=$(printf '%s' "$site" | tr -d '[:space:]')
    [[ -n "$site" ]] || continue
    site_id=$(resolve_site_id "$site")
    [[ -n "$site_id" ]] || die "site $site was not found"
    grant_site "$site_id" "$role" "$client_id"
  done
  readwrite_id=$(graph_app_role_id Sites.ReadWrite.All)
  if has_app_role "$readwrite_id"; then
    warn "the app identity still holds Sites.ReadWrite.All from an earlier run; remove that assignment for least privilege"
  fi
else
  assign_graph_permission Sites.ReadWrite.All
fi

#!/usr/bin/env bash
# Sets WEBHOOK_NOTIFICATION_URL and WEBHOOK_LIFECYCLE_URL, the URLs Graph posts change and lifecycle
# notifications to. They embed a function key, which exists only once the Function App is running, so
# Bicep cannot set them. Idempotent: the key is a dedicated host key (`graphwebhook`), created once and
# then reused, so re-running never changes the URLs existing Graph subscriptions point at.
#
# WEBHOOK_BEST_EFFORT=1 (postprovision): if no key can be had yet (first `azd up`, code not deployed),
# say so and succeed; the postdeploy hook runs this again.
# Rotating: `az functionapp keys set … --key-name graphwebhook`, run this script, then renew subscriptions.
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

readonly KEY_NAME=graphwebhook

require_cmd az "install the Azure CLI and run az login"
load_azd_env
require_env AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME SERVICE_API_URI

app_args=(--resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME")

read_key() {
  az functionapp keys list "${app_args[@]}" --query "functionKeys.$KEY_NAME" --output tsv 2>/dev/null
}

key=$(read_key || true)
if [[ -z "$key" ]]; then
  # Without --key-value the service generates a random key.
  az functionapp keys set "${app_args[@]}" --key-type functionKeys --key-name "$KEY_NAME" --output none 2>/dev/null || true
  key=$(read_key || true)
fi
if [[ -z "$key" ]]; then
  if [[ "${WEBHOOK_BEST_EFFORT:-0}" == "1" ]]; then
    log "the Function App has no host keys yet (not deployed?); WEBHOOK_* URLs will be set after deploy"
    exit 0
  fi
  die "could not read or create the host key $KEY_NAME of $AZURE_FUNCTION_APP_NAME"
fi

notification_url="$SERVICE_API_URI/api/graph/notifications?code=$key"
lifecycle_url="$SERVICE_API_URI/api/graph/lifecycle?code=$key"

current_notification=$(az functionapp config appsettings list "${app_args[@]}" \
  --query "[?name=='WEBHOOK_NOTIFICATION_URL'].value | [0]" --output tsv)
current_lifecycle=$(az functionapp config appsettings list "${app_args[@]}" \
  --query "[?name=='WEBHOOK_LIFECYCLE_URL'].value | [0]" --output tsv)

# The URLs carry the key: log only where they point.
if [[ "$current_notification" == "$notification_url" && "$current_lifecycle" == "$lifecycle_url" ]]; then
  log "WEBHOOK_NOTIFICATION_URL and WEBHOOK_LIFECYCLE_URL already point at $SERVICE_API_URI/api/graph/…"
  exit 0
fi
az functionapp config appsettings set "${app_args[@]}" \
  --settings "WEBHOOK_NOTIFICATION_URL=$notification_url" "WEBHOOK_LIFECYCLE_URL=$lifecycle_url" \
  --output none
log "set WEBHOOK_NOTIFICATION_URL and WEBHOOK_LIFECYCLE_URL to $SERVICE_API_URI/api/graph/{notifications,lifecycle}"

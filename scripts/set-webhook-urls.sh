#!/usr/bin/env bash
# Checks that Graph can reach the webhook endpoints, and removes the legacy `graphwebhook` host key.
#
# WEBHOOK_NOTIFICATION_URL and WEBHOOK_LIFECYCLE_URL are set by the template (infra/app/functionapp.bicep):
# the two functions are anonymous and authenticate Graph by clientState, so the URLs carry no key. Earlier
# versions put a *host* key in them, which also opened the ops API; that key is deleted here (existing
# subscriptions keep working: an anonymous function ignores `?code=`, and the subscription timer
# recreates subscriptions whose URL changed).
#
# The check answers Graph's validation handshake the way Graph will (GET ?validationToken=…, 200
# text/plain echo within 10 s). A Function App that was just published may take a minute to start, so it
# is retried with a bound (WEBHOOK_CHECK_ATTEMPTS × 10 s, default 18 = 3 minutes).
# WEBHOOK_BEST_EFFORT=1 (postprovision, before the code is deployed): report and succeed.
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

readonly LEGACY_KEY_NAME=graphwebhook

require_cmd az "install the Azure CLI and run az login"
require_cmd curl "install curl"
load_azd_env
require_env AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME SERVICE_API_URI

app_args=(--resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME")

legacy=$(az functionapp keys list "${app_args[@]}" --query "functionKeys.$LEGACY_KEY_NAME" --output tsv 2>/dev/null || true)
if [[ -n "$legacy" ]]; then
  retry 3 10 az functionapp keys delete "${app_args[@]}" --key-type functionKeys --key-name "$LEGACY_KEY_NAME" ||
    warn "could not delete the legacy host key $LEGACY_KEY_NAME; delete it: it opens every function-level endpoint"
  log "deleted the legacy host key $LEGACY_KEY_NAME (it also opened the ops API)"
fi

answers_validation() {
  local url=$1 token echoed
  token="arcore-check-$RANDOM$RANDOM"
  echoed=$(curl --silent --show-error --max-time 10 "$url?validationToken=$token" 2>/dev/null) || return 1
  [[ "$echoed" == "$token" ]]
}

attempts=${WEBHOOK_CHECK_ATTEMPTS:-18}
[[ "${WEBHOOK_BEST_EFFORT:-0}" == "1" ]] && attempts=1
for path in notifications lifecycle; do
  url="$SERVICE_API_URI/api/graph/$path"
  if retry "$attempts" 10 answers_validation "$url"; then
    log "$url answers Graph's validation handshake"
  elif [[ "${WEBHOOK_BEST_EFFORT:-0}" == "1" ]]; then
    log "$url does not answer yet (code not deployed?); the postdeploy hook checks again"
  else
    die "$url did not answer Graph's validation within $((attempts * 10)) s: check the Function App's logs (az functionapp log tail, or Application Insights), then run ./scripts/postdeploy.sh again"
  fi
done

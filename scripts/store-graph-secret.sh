#!/usr/bin/env bash
# clientSecret mode only: stores the app registration's secret in Key Vault, where the Function App's
# GRAPH_CLIENT_SECRET setting (a Key Vault reference) reads it. Idempotent.
#
# The secret is taken from GRAPH_CLIENT_SECRET in this shell (never from the azd environment file, which is
# plain text) and written through a private temporary file, so it appears in no command line.
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

load_azd_env
[[ "${GRAPH_AUTH_MODE:-default}" == "clientSecret" ]] || exit 0

require_cmd az "install the Azure CLI and run az login"
require_env AZURE_KEY_VAULT_NAME GRAPH_CLIENT_SECRET_NAME GRAPH_APP_CLIENT_ID AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME

secret_exists() {
  az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$GRAPH_CLIENT_SECRET_NAME" \
    --query id --output tsv >/dev/null 2>&1
}

if [[ -z "${GRAPH_CLIENT_SECRET:-}" ]]; then
  if secret_exists; then
    log "Key Vault $AZURE_KEY_VAULT_NAME already holds $GRAPH_CLIENT_SECRET_NAME"
  else
    warn "GRAPH_AUTH_MODE=clientSecret but Key Vault $AZURE_KEY_VAULT_NAME has no secret $GRAPH_CLIENT_SECRET_NAME yet. Store it with: GRAPH_CLIENT_SECRET='<secret>' ./scripts/store-graph-secret.sh"
  fi
  exit 0
fi

secret_file=$(umask 077 && mktemp)
trap 'rm -f "$secret_file"' EXIT
printf '%s' "$GRAPH_CLIENT_SECRET" >"$secret_file"

# The deployer's Key Vault Secrets Officer assignment can take a minute to apply after provisioning.
retry 6 10 az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name "$GRAPH_CLIENT_SECRET_NAME" \
  --file "$secret_file" --encoding utf-8 --output none ||
  die "could not write $GRAPH_CLIENT_SECRET_NAME to $AZURE_KEY_VAULT_NAME (the deployer needs Key Vault Secrets Officer)"
log "stored $GRAPH_CLIENT_SECRET_NAME in $AZURE_KEY_VAULT_NAME"

# Key Vault references are resolved when the app starts (and then about once a day): restart to pick it up.
az functionapp restart --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" --output none
log "restarted $AZURE_FUNCTION_APP_NAME so that GRAPH_CLIENT_SECRET resolves to the new secret"

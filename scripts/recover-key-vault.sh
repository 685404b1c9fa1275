#!/usr/bin/env bash
# azd preprovision step: lets `azd up` succeed after `azd down` without `--purge`.
#
# The vault's name is fixed per environment (infra/main.bicep: kv-<token>). `azd down` without --purge
# leaves it soft-deleted for 7 days, during which creating a vault with that name fails ("already exists
# in deleted state"). When the environment already knows its vault (AZURE_KEY_VAULT_NAME, an output of the
# previous provision) and that vault is soft-deleted, this recovers it, with its secrets, into a recreated
# resource group; the template then updates it in place. First provision of an environment: nothing to do.
# Alternatives: `azd down --purge`, or `az keyvault purge --name <vault>` by hand.
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

require_cmd az "install the Azure CLI and run az login"
load_azd_env

vault=${AZURE_KEY_VAULT_NAME:-}
if [[ -z "$vault" ]]; then
  log "Key Vault: first provision of this environment, nothing to recover"
  exit 0
fi
deleted=$(az keyvault list-deleted --resource-type vault --query "[?name=='$vault'].name | [0]" --output tsv 2>/dev/null || true)
if [[ -z "$deleted" ]]; then
  log "Key Vault $vault is not soft-deleted"
  exit 0
fi
require_env AZURE_RESOURCE_GROUP AZURE_LOCATION
# Recovery puts the vault back into its original resource group, which `azd down` deleted.
az group create --name "$AZURE_RESOURCE_GROUP" --location "$AZURE_LOCATION" --tags "azd-env-name=${AZURE_ENV_NAME:-}" --output none
retry 6 20 az keyvault recover --name "$vault" --output none ||
  die "could not recover the soft-deleted Key Vault $vault. Purge it (az keyvault purge --name $vault) or wait for its retention to end, then azd provision again"
log "recovered the soft-deleted Key Vault $vault (its role assignments are recreated by the template)"

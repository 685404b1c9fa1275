#!/usr/bin/env bash
# Shared helpers for the azd hook scripts. Sourced, not run.
# shellcheck shell=bash

set -euo pipefail

# Microsoft Graph's application id: the same in every tenant. Used by the scripts that source this file.
# shellcheck disable=SC2034
readonly GRAPH_RESOURCE_APP_ID='00000003-0000-0000-c000-000000000000'

# The oldest azd that deploys these templates: main.bicep calls deployer().userPrincipalName, which needs
# Bicep 0.36.1, the Bicep azd pins from 1.17.0 on (also the minimum of the Microsoft Graph Bicep
# extension). Stated in azure.yaml (requiredVersions) and docs/deploy.md as well.
readonly AZD_MIN_VERSION='1.17.0'

log() { printf '[arcore] %s\n' "$*" >&2; }
warn() { printf '[arcore] WARNING: %s\n' "$*" >&2; }
die() {
  printf '[arcore] ERROR: %s\n' "$*" >&2
  exit 1
}

require_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed: $2"
}

require_env() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "$name is not set. Run through azd (azd provision / azd up), or export the azd environment first: set -a; source <(azd env get-values); set +a"
  done
}

# azd passes its environment to hooks; when a script is run by hand, load it from azd if possible.
load_azd_env() {
  if [[ -z "${AZURE_RESOURCE_GROUP:-}" ]] && command -v azd >/dev/null 2>&1; then
    set -a
    # shellcheck disable=SC1090
    source <(azd env get-values)
    set +a
  fi
}

# retry <attempts> <seconds between> <command…>: Entra replication and server restarts take a while.
retry() {
  local attempts=$1 pause=$2 n=1
  shift 2
  until "$@"; do
    if ((n >= attempts)); then
      return 1
    fi
    log "retrying in ${pause}s ($n/$attempts): $1"
    sleep "$pause"
    n=$((n + 1))
  done
}

# Object id of the service principal the app runs as: the managed identity, or the app registration's
# service principal when Graph uses a client secret (then it is also the app's Postgres identity).
app_principal_object_id() {
  if [[ "${GRAPH_AUTH_MODE:-default}" == "clientSecret" ]]; then
    require_env GRAPH_APP_CLIENT_ID
    az ad sp show --id "$GRAPH_APP_CLIENT_ID" --query id --output tsv
  else
    require_env AZURE_MANAGED_IDENTITY_PRINCIPAL_ID
    printf '%s\n' "$AZURE_MANAGED_IDENTITY_PRINCIPAL_ID"
  fi
}

# Client (application) id of the same principal.
app_client_id() {
  if [[ "${GRAPH_AUTH_MODE:-default}" == "clientSecret" ]]; then
    require_env GRAPH_APP_CLIENT_ID
    printf '%s\n' "$GRAPH_APP_CLIENT_ID"
  else
    require_env AZURE_MANAGED_IDENTITY_CLIENT_ID
    printf '%s\n' "$AZURE_MANAGED_IDENTITY_CLIENT_ID"
  fi
}

# Refuses to run under an azd older than AZD_MIN_VERSION (azd reports its version as "azd version X.Y.Z …").
require_azd_version() {
  if ! command -v azd >/dev/null 2>&1; then
    return 0 # run by hand with the environment exported: azd is not involved
  fi
  local version
  version=$(azd version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1)
  if [[ -z "$version" ]]; then
    warn "could not read the azd version; azd $AZD_MIN_VERSION or later is required"
    return 0
  fi
  if [[ "$(printf '%s\n%s\n' "$AZD_MIN_VERSION" "$version" | sort -V | head -n 1)" != "$AZD_MIN_VERSION" ]]; then
    die "azd $version is too old: these templates need azd $AZD_MIN_VERSION or later (Bicep 0.36.1 for deployer()). Update azd: https://aka.ms/azd-install"
  fi
}

#!/usr/bin/env bash
# Shared helpers for the azd hook scripts. Sourced, not run.
# shellcheck shell=bash

set -euo pipefail

# Microsoft Graph's application id: the same in every tenant. Used by the scripts that source this file.
# shellcheck disable=SC2034
readonly GRAPH_RESOURCE_APP_ID='00000003-0000-0000-c000-000000000000'

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

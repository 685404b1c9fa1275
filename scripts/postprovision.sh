#!/usr/bin/env bash
# azd postprovision hook: everything Bicep cannot do cleanly. Each step is idempotent; re-run it by hand
# with ./scripts/postprovision.sh (it loads the azd environment).
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
load_azd_env

if [[ "${GRAPH_AUTH_MODE:-default}" == "clientSecret" && -z "${GRAPH_APP_CLIENT_ID:-}" ]]; then
  die "GRAPH_AUTH_MODE=clientSecret needs GRAPH_APP_CLIENT_ID (azd env set GRAPH_APP_CLIENT_ID <client id>; azd provision)"
fi

log "1/4 Microsoft Graph application permission"
"$here/grant-graph-permissions.sh"

log "2/4 Graph client secret (clientSecret mode only)"
"$here/store-graph-secret.sh"

log "3/4 Postgres role for the app identity, database grants, wal_level"
"$here/create-postgres-role.sh"

log "4/4 webhook URLs (completed by the postdeploy hook on a first deployment)"
WEBHOOK_BEST_EFFORT=1 "$here/set-webhook-urls.sh"

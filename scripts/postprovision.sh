#!/usr/bin/env bash
# azd postprovision hook: everything Bicep cannot do cleanly. Each step is idempotent; re-run it by hand
# with ./scripts/postprovision.sh (it loads the azd environment).
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
require_azd_version
load_azd_env

if [[ "${GRAPH_AUTH_MODE:-default}" == "clientSecret" && -z "${GRAPH_APP_CLIENT_ID:-}" ]]; then
  die "GRAPH_AUTH_MODE=clientSecret needs GRAPH_APP_CLIENT_ID (azd env set GRAPH_APP_CLIENT_ID <client id>; azd provision)"
fi

log "1/5 Microsoft Graph application permission"
# With ENTRA_IN_BICEP=true the template granted it (infra/app/entra.bicep); the script only confirms.
"$here/grant-graph-permissions.sh"
if [[ "${OPS_AUTH_MODE:-entra}" == "entra" && "${OPS_AUTH_EFFECTIVE:-}" == "key" ]]; then
  warn "OPS_AUTH_MODE=entra but no ops API app registration exists: the ops API accepts only the master key."
  warn "Run ./scripts/create-ops-app.sh (needs the right to register applications), then azd provision."
fi

log "2/5 console sign-in (OPS_AUTH=entra): the app's /.auth/login/aad/callback on the ops app registration"
"$here/register-console-sign-in.sh"

log "3/5 Graph client secret (clientSecret mode only)"
"$here/store-graph-secret.sh"

log "4/5 Postgres role for the app identity, database grants, wal_level"
"$here/create-postgres-role.sh"

log "5/5 webhook endpoints (checked again by the postdeploy hook on a first deployment)"
WEBHOOK_BEST_EFFORT=1 "$here/set-webhook-urls.sh"

#!/usr/bin/env bash
# azd postprovision step: lets operators sign in to the web console (https://<app>/api/console/) when the ops
# API uses Microsoft Entra (OPS_AUTH_EFFECTIVE=entra). App Service Authentication signs a browser in through the
# ops app registration, and Microsoft Entra answers at https://<app>/.auth/login/aad/callback, which must be a
# web redirect URI of that registration (otherwise the sign-in fails with AADSTS50011). Without a client
# secret Easy Auth uses the implicit flow and receives an ID token, so the registration must issue ID tokens
# (https://learn.microsoft.com/azure/app-service/configure-authentication-provider-aad).
#
# The app's host name is known only once it exists, hence postprovision (infra/app/entra.bicep does the same
# when ENTRA_IN_BICEP=true). Covers registrations made by scripts/create-ops-app.sh and given through
# OPS_AUTH_CLIENT_ID alike. Idempotent: the registration's other redirect URIs are kept.
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

load_azd_env

if [[ "${OPS_AUTH_EFFECTIVE:-}" != "entra" ]]; then
  log "the ops API uses the master key (OPS_AUTH_EFFECTIVE=${OPS_AUTH_EFFECTIVE:-unset}): no console sign-in to register"
  exit 0
fi
require_cmd az "install the Azure CLI and run az login"
require_env OPS_AUTH_CLIENT_ID SERVICE_API_URI

callback="${SERVICE_API_URI%/}/.auth/login/aad/callback"
mapfile -t uris < <(az ad app show --id "$OPS_AUTH_CLIENT_ID" --query 'web.redirectUris[]' --output tsv)
issuing=$(az ad app show --id "$OPS_AUTH_CLIENT_ID" \
  --query 'web.implicitGrantSettings.enableIdTokenIssuance' --output tsv)
present=false
for uri in "${uris[@]}"; do
  [[ "$uri" == "$callback" ]] && present=true
done
if [[ "$present" == "true" && "$issuing" == "true" ]]; then
  log "console sign-in: $callback is registered on $OPS_AUTH_CLIENT_ID"
  exit 0
fi
[[ "$present" == "true" ]] || uris+=("$callback")
if ! retry 6 10 az ad app update --id "$OPS_AUTH_CLIENT_ID" --web-redirect-uris "${uris[@]}" \
  --enable-id-token-issuance true; then
  warn "could not register $callback on the app registration $OPS_AUTH_CLIENT_ID (not an owner of it?)."
  warn "Until an owner adds it as a Web redirect URI and enables ID tokens (Entra admin center → App registrations"
  warn "→ Authentication), the console cannot sign in; scripts with a bearer token still reach the ops API."
  exit 0
fi
log "console sign-in: registered $callback (ID tokens on) on $OPS_AUTH_CLIENT_ID"

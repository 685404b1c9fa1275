#!/usr/bin/env bash
# azd preprovision hook: checks azd's version, recovers a soft-deleted Key Vault of this environment, and
# creates the ops API's app registration when the Graph Bicep extension is not used. Idempotent.
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
require_azd_version

log "1/2 Key Vault left soft-deleted by an earlier azd down"
"$here/recover-key-vault.sh"

log "2/2 ops API app registration"
"$here/create-ops-app.sh"

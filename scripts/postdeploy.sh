#!/usr/bin/env bash
# azd postdeploy hook: the functions now exist; check that Graph can reach them (bounded retries while the
# freshly published host starts) and remove the legacy host key.
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
require_azd_version
"$here/set-webhook-urls.sh"

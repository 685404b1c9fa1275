#!/usr/bin/env bash
# azd postdeploy hook: the functions now exist, so the webhook key can be read and the URLs set.
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/set-webhook-urls.sh"

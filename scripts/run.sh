#!/usr/bin/env bash
# Builds pktd if needed and starts it in the foreground with the default configuration.
# Extra arguments go to pktd (see `build/bin/pktd -h`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default >/dev/null
exec build/bin/pktd -f "$@"

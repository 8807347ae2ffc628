#!/usr/bin/env bash
# Builds pktd if needed and starts it in the foreground. With no arguments it attaches a TAP
# interface (tap0, Linux device pktd-tap0); arguments replace that (see `build/bin/pktd -h`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default >/dev/null
if [ $# -eq 0 ]; then
  set -- -d tap,dev=pktd-tap0
  echo "pktd: tap0 is attached to the Linux TAP device pktd-tap0;" \
       "see it with: build/bin/pkt ifconfig  (Ctrl-C stops pktd)" >&2
fi
exec build/bin/pktd -f "$@"

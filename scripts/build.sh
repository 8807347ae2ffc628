#!/usr/bin/env bash
# Configures and builds one CMake preset (default: "default", into build/).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
cmake --preset "$preset" >/dev/null
dir=$(case "$preset" in default|ci) echo build ;; *) echo "build-$preset" ;; esac)
cmake --build "$dir" -j "$(nproc)"

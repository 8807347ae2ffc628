#!/usr/bin/env bash
# Installs the Debian packages pktd needs to build, test and benchmark. Idempotent: installs only
# what is missing, and runs apt-get update only then.
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ clang-14 libclang-rt-14-dev
  libgtest-dev libgmock-dev libbenchmark-dev libboost-context-dev nlohmann-json3-dev
  iproute2 procps python3 pkgconf
  iputils-ping socat tshark tcpdump python3-scapy netcat-openbsd
  iperf3 iptables ethtool curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

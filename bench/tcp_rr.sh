#!/usr/bin/env bash
# TCP through `pkt run`: Python clients and servers (bench/tcp_rr.py is both ends) on pktd's
# sockets talking to Linux in a namespace over a TAP, each figure beside the same Python program
# on Linux's sockets over a veth pair between two namespaces, in the same run:
#  - request/response: COUNT round trips of 1 byte on one connection (TCP_NODELAY); median and
#    99th percentile, microseconds; pktd as the client and as the server;
#  - connection rate: SECONDS of connections one after another (connect, 1 byte each way, the
#    server closes, the client closes); connections per second; pktd as the client and as the
#    server.
# pktd runs in a namespace of its own with the TAP's Linux end (Linux at .1, pktd at .2); programs
# under `pkt run` run in another namespace that has only lo. PKTD_TCP_PEER=linux checks the script
# itself before pktd has TCP: that namespace's own kernel stands in for pktd, over a veth pair.
# Root; makes four namespaces and removes them, and everything else it started.
# Usage: bench/tcp_rr.sh [BUILD_DIR] [COUNT] [SECONDS]
set -euo pipefail
BUILD=${1:-build}
COUNT=${2:-10000}
SECONDS_RUN=${3:-3}
PEER=${PKTD_TCP_PEER:-pktd}
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH="python3 $HERE/tcp_rr.py"
PKTD_NET=198.18.208 LINUX_NET=198.18.209
PORT=7
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_sides.sh"

wait_listening() {  # output file, PID of a server: returns once it says "listening"
  for _ in $(seq 1 400); do
    grep -q listening "$1" 2>/dev/null && return
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  echo "tcp_rr: $1: never listening:" >&2
  cat "$1" >&2
  exit 1
}

start_side
start_veth
background "$RUNDIR/serve-side" "${ON_SIDE[@]}" $BENCH serve $PORT  # pktd the server
wait_listening "$RUNDIR/serve-side" "${PIDS[-1]}"
background "$RUNDIR/serve-linux" ip netns exec $NS_PKTD $BENCH serve $PORT  # Linux over TAP
wait_listening "$RUNDIR/serve-linux" "${PIDS[-1]}"
background "$RUNDIR/serve-veth" ip netns exec $NS_B $BENCH serve $PORT  # Linux over veth
wait_listening "$RUNDIR/serve-veth" "${PIDS[-1]}"

read -r client_median client_p99 < <("${ON_SIDE[@]}" $BENCH rr $PKTD_NET.1 $PORT "$COUNT")
read -r server_median server_p99 < <(ip netns exec $NS_PKTD $BENCH rr $PKTD_NET.2 $PORT "$COUNT")
read -r veth_median veth_p99 < <(ip netns exec $NS_A $BENCH rr $LINUX_NET.2 $PORT "$COUNT")

read -r _ client_cps < <("${ON_SIDE[@]}" $BENCH crr $PKTD_NET.1 $PORT "$SECONDS_RUN")
read -r _ server_cps < <(ip netns exec $NS_PKTD $BENCH crr $PKTD_NET.2 $PORT "$SECONDS_RUN")
read -r _ veth_cps < <(ip netns exec $NS_A $BENCH crr $LINUX_NET.2 $PORT "$SECONDS_RUN")

side="pktd"
[ "$PEER" = linux ] && side="Linux standing in for pktd over veth"
printf '%-52s %12s %12s\n' "TCP 1-byte request/response, $COUNT round trips" "median (us)" \
  "p99 (us)"
printf '%-52s %12s %12s\n' "pkt run python -> Linux over TAP" "$client_median" "$client_p99"
printf '%-52s %12s %12s\n' "Linux python -> pkt run python over TAP" "$server_median" "$server_p99"
printf '%-52s %12s %12s\n' "Linux python -> Linux over veth (same run)" "$veth_median" "$veth_p99"
echo
printf '%-52s %12s\n' "TCP connections for $SECONDS_RUN s, one at a time" "per second"
printf '%-52s %12s\n' "pkt run python -> Linux over TAP" "$client_cps"
printf '%-52s %12s\n' "Linux python -> pkt run python over TAP" "$server_cps"
printf '%-52s %12s\n' "Linux python -> Linux over veth (same run)" "$veth_cps"
echo "side under test: $side"

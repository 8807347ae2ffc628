#!/usr/bin/env bash
# TCP bulk throughput with iperf3 (JSON, -t SECONDS): Linux -> pktd and pktd -> Linux over a TAP,
# iperf3's server under `pkt run`, beside Linux -> Linux over a veth pair measured in the same run.
# Each figure is the median of RUNS runs of what the receiver got, in Gbit/s.
#
# pktd runs in a namespace of its own with the TAP's Linux end (Linux at .1, pktd at .2); the
# program under `pkt run` runs in another namespace that has only lo, so nothing it does can
# leave the bench's namespaces. PKTD_TCP_PEER=linux checks the script itself before pktd has TCP:
# that namespace's own kernel stands in for pktd, over a veth pair instead of the TAP, and iperf3
# runs there without `pkt run`.
# Root; makes four namespaces and removes them, and everything else it started.
# Usage: bench/tcp_bulk.sh [BUILD_DIR] [RUNS] [SECONDS]
set -euo pipefail
BUILD=${1:-build}
RUNS=${2:-3}
SECONDS_RUN=${3:-10}
PEER=${PKTD_TCP_PEER:-pktd}
PKTD_NET=198.18.206 LINUX_NET=198.18.207
PORT=5201
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_sides.sh"

# The receiver's Gbit/s from iperf3 -J on stdin; fails on an "error" in it.
gbits() {
  python3 -c '
import json, sys
r = json.load(sys.stdin)
if "error" in r:
    sys.exit("tcp_bulk: iperf3: " + r["error"])
print("%.2f" % (r["end"]["sum_received"]["bits_per_second"] / 1e9))'
}

median() {
  python3 -c 'import statistics, sys; print("%.2f" % statistics.median(map(float, sys.argv[1:])))' "$@"
}

# iperf3 -c ARGS... in a namespace, once the server answers (retried for up to 10 s): Gbit/s.
client() {
  local ns=$1
  shift
  for _ in $(seq 1 100); do
    # iperf3 -J may exit 0 with an "error" in its JSON: a server not up yet is retried.
    ip netns exec "$ns" iperf3 -J --connect-timeout 2000 -c "$@" >"$RUNDIR/client.json" 2>&1 || true
    if ! grep -q "unable to connect" "$RUNDIR/client.json"; then
      gbits <"$RUNDIR/client.json"
      return
    fi
    sleep 0.1
  done
  echo "tcp_bulk: iperf3 -c $*:" >&2
  cat "$RUNDIR/client.json" >&2
  for f in server-side server-veth; do echo "$f:"; tail -n 5 "$RUNDIR/$f"; done >&2
  exit 1
}

# RUNS runs: the median Gbit/s. $1: namespace, the rest: iperf3 -c's arguments.
runs() {
  local results=()
  for _ in $(seq 1 "$RUNS"); do results+=("$(client "$@" -t "$SECONDS_RUN")"); done
  median "${results[@]}"
}

start_side
start_veth
background "$RUNDIR/server-side" "${ON_SIDE[@]}" iperf3 -s -B $PKTD_NET.2 -p $PORT
background "$RUNDIR/server-veth" ip netns exec $NS_B iperf3 -s -B $LINUX_NET.2 -p $PORT
client $NS_PKTD $PKTD_NET.2 -p $PORT -t 1 >/dev/null  # the servers are up; warm
client $NS_A $LINUX_NET.2 -p $PORT -t 1 >/dev/null

to_pktd=$(runs $NS_PKTD $PKTD_NET.2 -p $PORT)
from_pktd=$(runs $NS_PKTD $PKTD_NET.2 -p $PORT -R)
veth=$(runs $NS_A $LINUX_NET.2 -p $PORT)

side="pktd"
[ "$PEER" = linux ] && side="Linux standing in for pktd over veth"
cc=$(ip netns exec $NS_A sysctl -n net.ipv4.tcp_congestion_control)
printf '%-52s %12s\n' "iperf3 -t $SECONDS_RUN, median of $RUNS" "Gbit/s"
printf '%-52s %12s\n' "Linux -> pkt run iperf3 -s over TAP" "$to_pktd"
printf '%-52s %12s\n' "pkt run iperf3 -s -> Linux over TAP (-R)" "$from_pktd"
printf '%-52s %12s\n' "Linux -> Linux over veth (same run)" "$veth"
echo "side under test: $side; Linux's congestion control: $cc"

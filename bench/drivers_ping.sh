#!/usr/bin/env bash
# ICMP echo round trip between two pktd instances over the wire driver (shared memory) and over
# the nointr driver (Unix datagram sockets and a receive thread), beside Linux pinging Linux over
# a veth pair, in the same run. pkt ping's and ping(8)'s own avg and spread. Root; makes two
# namespaces for the Linux pair and removes everything it made.
# Usage: bench/drivers_ping.sh [BUILD_DIR] [COUNT]
set -euo pipefail
BUILD=${1:-build}
COUNT=${2:-500}
ID=$$
NS_A=pktd-bench-a$ID NS_B=pktd-bench-b$ID
RUNDIR=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  for ns in $NS_A $NS_B; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$RUNDIR"
}
trap cleanup EXIT

pkt() { PKTD_RUNDIR=$RUNDIR "$BUILD/bin/pkt" "$@"; }

start_pktd() {  # instance, driver option string
  PKTD_RUNDIR=$RUNDIR "$BUILD/bin/pktd" -f -i "$1" -d "$2" >"$RUNDIR/$1.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do pkt -i "$1" ifconfig >/dev/null 2>&1 && return; sleep 0.05; done
  echo "pktd $1 did not start" >&2
  exit 1
}

# Two instances joined by a driver; prints "avg spread" in microseconds for a to ping b.
pktd_pair_rtt() {  # name, interface, options of a, options of b, subnet
  local a=$1a$ID b=$1b$ID
  start_pktd "$a" "$3"
  start_pktd "$b" "$4"
  pkt -i "$a" ifconfig "$2" "$5.1/24" up >/dev/null
  pkt -i "$b" ifconfig "$2" "$5.2/24" up >/dev/null
  pkt -i "$a" ping -c 3 -W 2 "$5.2" >/dev/null  # ARP both ways, warm
  pkt -i "$a" ping -c "$COUNT" -i 0.01 "$5.2" |
    awk -F'[/ ]' '/^round-trip/ {printf "%.1f %.1f\n", $8 * 1000, $10 * 1000}'
}

read -r wire_avg wire_sd < <(pktd_pair_rtt w wire0 "wire,link=bench$ID" "wire,link=bench$ID" 198.18.202)
read -r nointr_avg nointr_sd < <(pktd_pair_rtt n nointr0 \
  "nointr,path=$RUNDIR/na.sock,peer=$RUNDIR/nb.sock" \
  "nointr,path=$RUNDIR/nb.sock,peer=$RUNDIR/na.sock" 198.18.203)

ip netns add $NS_A
ip netns add $NS_B
ip link add va$ID netns $NS_A type veth peer name vb$ID netns $NS_B
ip netns exec $NS_A ip addr add 198.18.201.1/24 dev va$ID
ip netns exec $NS_B ip addr add 198.18.201.2/24 dev vb$ID
ip netns exec $NS_A ip link set va$ID up
ip netns exec $NS_B ip link set vb$ID up
ip netns exec $NS_A ping -c 3 -W 2 -q 198.18.201.2 >/dev/null
read -r linux_avg linux_mdev < <(ip netns exec $NS_A ping -c "$COUNT" -i 0.01 -q 198.18.201.2 |
  awk -F'[/ ]' '/^rtt/ {printf "%.1f %.1f\n", $8 * 1000, $10 * 1000}')

printf '%-48s %10s %12s\n' "echo round trip, $COUNT pings at 10 ms" "avg (us)" "spread (us)"
printf '%-48s %10s %12s\n' "pktd -> pktd over wire (stddev)" "$wire_avg" "$wire_sd"
printf '%-48s %10s %12s\n' "pktd -> pktd over nointr (stddev)" "$nointr_avg" "$nointr_sd"
printf '%-48s %10s %12s\n' "Linux -> Linux over veth, same run (mdev)" "$linux_avg" "$linux_mdev"

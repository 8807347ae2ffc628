#!/usr/bin/env bash
# ICMP echo round trip: Linux pinging pktd over a TAP, beside Linux pinging Linux over a veth
# pair, measured in the same run (ping(8)'s own avg and mdev). Root; makes two namespaces and
# removes them. Usage: bench/ipv4_ping.sh [BUILD_DIR] [COUNT]
set -euo pipefail
BUILD=${1:-build}
COUNT=${2:-1000}
ID=$$
NS_PKTD=pktd-bench-p$ID NS_A=pktd-bench-a$ID NS_B=pktd-bench-b$ID
RUNDIR=$(mktemp -d)
cleanup() {
  [ -n "${PKTD_PID:-}" ] && kill -TERM "$PKTD_PID" 2>/dev/null && wait "$PKTD_PID" 2>/dev/null || true
  for ns in $NS_PKTD $NS_A $NS_B; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$RUNDIR"
}
trap cleanup EXIT

rtt() {  # the "rtt min/avg/max/mdev" line of ping -q, as "avg mdev" in microseconds
  awk -F'[/ ]' '/^rtt/ {printf "%.1f %.1f\n", $8 * 1000, $10 * 1000}'
}

# pktd behind a TAP in its own namespace; Linux on the other end of the TAP.
ip netns add $NS_PKTD
ip netns exec $NS_PKTD ip link set lo up
PKTD_RUNDIR=$RUNDIR ip netns exec $NS_PKTD "$BUILD/bin/pktd" -f -i bench$ID -d tap,dev=bt$ID \
  >"$RUNDIR/log" 2>&1 &
PKTD_PID=$!
for _ in $(seq 1 200); do
  PKTD_RUNDIR=$RUNDIR "$BUILD/bin/pkt" -i bench$ID ifconfig tap0 >/dev/null 2>&1 && break
  sleep 0.05
done
PKTD_RUNDIR=$RUNDIR "$BUILD/bin/pkt" -i bench$ID ifconfig tap0 198.18.200.2/24 up >/dev/null
ip netns exec $NS_PKTD ip addr add 198.18.200.1/24 dev bt$ID
ip netns exec $NS_PKTD ip link set bt$ID up
ip netns exec $NS_PKTD ping -c 3 -W 2 -q 198.18.200.2 >/dev/null  # ARP both ways, warm
read -r pktd_avg pktd_mdev < <(ip netns exec $NS_PKTD ping -c "$COUNT" -i 0.002 -q 198.18.200.2 | rtt)

# Linux to Linux over a veth pair.
ip netns add $NS_A
ip netns add $NS_B
ip link add va$ID netns $NS_A type veth peer name vb$ID netns $NS_B
ip netns exec $NS_A ip addr add 198.18.201.1/24 dev va$ID
ip netns exec $NS_B ip addr add 198.18.201.2/24 dev vb$ID
ip netns exec $NS_A ip link set va$ID up
ip netns exec $NS_B ip link set vb$ID up
ip netns exec $NS_A ping -c 3 -W 2 -q 198.18.201.2 >/dev/null
read -r linux_avg linux_mdev < <(ip netns exec $NS_A ping -c "$COUNT" -i 0.002 -q 198.18.201.2 | rtt)

printf '%-44s %10s %10s\n' "echo round trip, $COUNT pings at 2 ms" "avg (us)" "mdev (us)"
printf '%-44s %10s %10s\n' "Linux -> pktd over TAP" "$pktd_avg" "$pktd_mdev"
printf '%-44s %10s %10s\n' "Linux -> Linux over veth (same run)" "$linux_avg" "$linux_mdev"

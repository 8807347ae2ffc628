#!/usr/bin/env bash
# UDP through `pkt run`: a Python client on pktd's sockets (LD_PRELOAD=libpkt-preload.so) talking
# to Linux in a namespace over a TAP, beside the same Python program on Linux's sockets over a
# veth pair between two namespaces, in the same run (bench/udp_rr.py is both ends):
#  - request/response: COUNT echoes of SIZE bytes, one at a time; median and mean round trip;
#  - message rate: SECONDS of SIZE-byte datagrams sent as fast as one sender can, each way
#    through pktd; what the sender sent and what the receiver counted, per second.
# Root; makes three namespaces and removes them, and everything else it started.
# Usage: bench/udp_rr.sh [BUILD_DIR] [COUNT] [SIZE] [SECONDS]
set -euo pipefail
BUILD=${1:-build}
COUNT=${2:-10000}
SIZE=${3:-64}
SECONDS_BLAST=${4:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH="python3 $HERE/udp_rr.py"
PKTD_NET=198.18.204 LINUX_NET=198.18.205
ECHO_PORT=7 SINK_PORT=9
source "$(dirname "$0")/lib.sh"
TAP=bu$ID
on_pktd() { "$BUILD/bin/pkt" run -- "$@"; }  # a program on pktd's sockets

wait_bound() {  # output file of an echo or a sink: returns once it says "bound"
  for _ in $(seq 1 400); do grep -q bound "$1" 2>/dev/null && return; sleep 0.05; done
  echo "udp_rr: $1: never bound" >&2
  exit 1
}

# "sent/s received/s": a sink started by $1..., a blaster by the rest after "--".
message_rate() {
  local sink=() blaster=()
  while [ "$1" != "--" ]; do sink+=("$1"); shift; done
  shift
  blaster=("$@")
  local out=$RUNDIR/sink.$RANDOM
  "${sink[@]}" >"$out" 2>&1 &
  local sink_pid=$!
  PIDS+=("$sink_pid")
  wait_bound "$out"
  read -r _ sent_rate < <("${blaster[@]}")
  wait "$sink_pid"
  read -r _ received_rate < <(tail -n 1 "$out")
  echo "$sent_rate $received_rate"
}

# What Linux could not hand to the TAP (pktd reads it too slowly).
tap_tx_dropped() {
  ip netns exec $NS_PKTD ip -j -s link show dev $TAP |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])'
}

# Datagrams Linux's sockets in pktd's namespace dropped for a full receive buffer.
linux_rcvbuf_errors() {
  ip netns exec $NS_PKTD awk '/^Udp:/ && ++n == 1 {for (i = 1; i <= NF; i++) col[$i] = i}
    /^Udp:/ && n == 2 {print $col["RcvbufErrors"]; exit}' /proc/net/snmp
}

pktd_counter() {  # group, name: one of pkt netstat -s's counters
  pkt --json netstat -s | python3 -c "import json, sys; print(json.load(sys.stdin)['$1']['$2'])"
}

new_netns $NS_PKTD
start_pktd $NS_PKTD $TAP $PKTD_NET
start_veth
background "$RUNDIR/echo-tap" ip netns exec $NS_PKTD $BENCH echo $ECHO_PORT
background "$RUNDIR/echo-veth" ip netns exec $NS_B $BENCH echo $ECHO_PORT
wait_bound "$RUNDIR/echo-tap"
wait_bound "$RUNDIR/echo-veth"

read -r pktd_median pktd_avg < <(on_pktd $BENCH rr $PKTD_NET.1 $ECHO_PORT "$COUNT" "$SIZE")
read -r linux_median linux_avg < <(ip netns exec $NS_A $BENCH rr $LINUX_NET.2 $ECHO_PORT "$COUNT" "$SIZE")

rcvbuf_before=$(linux_rcvbuf_errors)
read -r out_sent out_received < <(message_rate \
  ip netns exec $NS_PKTD $BENCH sink $SINK_PORT 1 -- \
  on_pktd $BENCH blast $PKTD_NET.1 $SINK_PORT "$SECONDS_BLAST" "$SIZE")
rcvbuf_dropped=$(($(linux_rcvbuf_errors) - rcvbuf_before))
tap_dropped_before=$(tap_tx_dropped)
read -r in_sent in_received < <(message_rate \
  on_pktd $BENCH sink $SINK_PORT 1 -- \
  ip netns exec $NS_PKTD $BENCH blast $PKTD_NET.2 $SINK_PORT "$SECONDS_BLAST" "$SIZE")
tap_dropped=$(($(tap_tx_dropped) - tap_dropped_before))
socket_full=$(pktd_counter sockets receive_buffer_full)
read -r veth_sent veth_received < <(message_rate \
  ip netns exec $NS_B $BENCH sink $SINK_PORT 1 -- \
  ip netns exec $NS_A $BENCH blast $LINUX_NET.2 $SINK_PORT "$SECONDS_BLAST" "$SIZE")

printf '%-52s %12s %12s\n' "UDP echo, $COUNT requests of $SIZE bytes" "median (us)" "mean (us)"
printf '%-52s %12s %12s\n' "pkt run python -> Linux over TAP" "$pktd_median" "$pktd_avg"
printf '%-52s %12s %12s\n' "Linux python -> Linux over veth (same run)" "$linux_median" "$linux_avg"
echo
printf '%-52s %12s %12s\n' "$SIZE-byte datagrams for $SECONDS_BLAST s, one sender" "sent/s" "received/s"
printf '%-52s %12s %12s\n' "pkt run python -> Linux over TAP" "$out_sent" "$out_received"
printf '%-52s %12s %12s\n' "Linux python -> pkt run python over TAP" "$in_sent" "$in_received"
printf '%-52s %12s %12s\n' "Linux python -> Linux over veth (same run)" "$veth_sent" "$veth_received"
echo "pkt run -> Linux, lost at the Linux receiver's socket: $rcvbuf_dropped (Udp RcvbufErrors)"
echo "Linux -> pkt run, lost on the way: $tap_dropped at the TAP (Linux's tx_dropped)," \
  "$socket_full at the application's socket (pktd's sockets.receive_buffer_full)"

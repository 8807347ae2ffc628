# What the benchmarks through `pkt run` share (sourced by tcp_bulk.sh, tcp_rr.sh and udp_rr.sh
# once they have set BUILD): names unique to this run, a run directory of their own, a cleanup
# that ends every program they started and removes every namespace they made, pktd behind a TAP,
# and Linux over a veth pair. PKTD_ARGS: more arguments for pktd (e.g. "-t 1 -p tcpip,poll_us=0").
ID=$$
NS_PKTD=pktd-bench-p$ID NS_APP=pktd-bench-s$ID NS_A=pktd-bench-a$ID NS_B=pktd-bench-b$ID
RUNDIR=$(mktemp -d)
chmod 755 "$RUNDIR"  # other users may reach pktd's socket in it
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  [ -n "${PKTD_PID:-}" ] && kill -TERM "$PKTD_PID" 2>/dev/null && wait "$PKTD_PID" 2>/dev/null || true
  # Every name, made or not: one the script never made is an error, ignored.
  for ns in $NS_PKTD $NS_APP $NS_A $NS_B; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$RUNDIR"
}
trap cleanup EXIT

export PKTD_RUNDIR=$RUNDIR PKTD_INSTANCE=bench$ID
pkt() { "$BUILD/bin/pkt" "$@"; }

background() {  # output file, command...: runs it until cleanup
  local out=$1
  shift
  "$@" >"$out" 2>&1 &
  PIDS+=($!)
}

new_netns() {  # name: a namespace with lo up
  ip netns add "$1"
  ip netns exec "$1" ip link set lo up
}

# Two namespaces joined by a veth pair: $1 at .1, $2 at .2 of $3; $4 tells its devices apart.
veth_pair() {
  ip link add v1$4$ID netns "$1" type veth peer name v2$4$ID netns "$2"
  ip netns exec "$1" ip addr add "$3.1/24" dev v1$4$ID
  ip netns exec "$2" ip addr add "$3.2/24" dev v2$4$ID
  ip netns exec "$1" ip link set v1$4$ID up
  ip netns exec "$2" ip link set v2$4$ID up
}

# pktd in the namespace $1 (made before) behind the TAP $2: pktd at .2 of $3, Linux at .1 on the
# TAP's end. Returns once they reach each other (link up, ARP both ways).
start_pktd() {
  # shellcheck disable=SC2086 # PKTD_ARGS is words
  ip netns exec "$1" "$BUILD/bin/pktd" -f ${PKTD_ARGS:-} -i "$PKTD_INSTANCE" -d tap,dev="$2" \
    >"$RUNDIR/pktd.log" 2>&1 &
  PKTD_PID=$!
  for _ in $(seq 1 200); do pkt ifconfig tap0 >/dev/null 2>&1 && break; sleep 0.05; done
  pkt ifconfig tap0 "$3.2/24" up >/dev/null
  ip netns exec "$1" ip addr add "$3.1/24" dev "$2"
  ip netns exec "$1" ip link set "$2" up
  ip netns exec "$1" ping -c 3 -W 2 -q "$3.2" >/dev/null
}

# Linux beside pktd, for comparison: NS_A at .1 and NS_B at .2 of LINUX_NET over a veth pair.
start_veth() {
  ip netns add $NS_A
  ip netns add $NS_B
  veth_pair $NS_A $NS_B $LINUX_NET r
  ip netns exec $NS_A ping -c 3 -W 2 -q $LINUX_NET.2 >/dev/null
}

# The namespaces the TCP benchmarks share (sourced by tcp_bulk.sh and tcp_rr.sh, which set BUILD,
# PEER, ID, NS_PKTD, NS_APP, NS_A, NS_B, PKTD_NET, LINUX_NET, RUNDIR, PIDS and pkt first).

background() {  # output file, command...: runs it until cleanup
  local out=$1
  shift
  "$@" >"$out" 2>&1 &
  PIDS+=($!)
}

# Two namespaces joined by a veth pair: $1 at .1, $2 at .2 of $3.
veth_pair() {
  ip link add v1$4$ID netns "$1" type veth peer name v2$4$ID netns "$2"
  ip netns exec "$1" ip addr add "$3.1/24" dev v1$4$ID
  ip netns exec "$2" ip addr add "$3.2/24" dev v2$4$ID
  ip netns exec "$1" ip link set v1$4$ID up
  ip netns exec "$2" ip link set v2$4$ID up
}

# The side under test: pktd behind a TAP in NS_PKTD (Linux at .1), or NS_APP's kernel over veth.
start_side() {
  ip netns add $NS_PKTD
  ip netns add $NS_APP
  ip netns exec $NS_PKTD ip link set lo up
  ip netns exec $NS_APP ip link set lo up
  if [ "$PEER" = linux ]; then
    veth_pair $NS_PKTD $NS_APP $PKTD_NET s
  else
    ip netns exec $NS_PKTD "$BUILD/bin/pktd" -f -i "$PKTD_INSTANCE" -d tap,dev=bt$ID \
      >"$RUNDIR/pktd.log" 2>&1 &
    PKTD_PID=$!
    for _ in $(seq 1 200); do pkt ifconfig tap0 >/dev/null 2>&1 && break; sleep 0.05; done
    pkt ifconfig tap0 $PKTD_NET.2/24 up >/dev/null
    ip netns exec $NS_PKTD ip addr add $PKTD_NET.1/24 dev bt$ID
    ip netns exec $NS_PKTD ip link set bt$ID up
  fi
  ip netns exec $NS_PKTD ping -c 3 -W 2 -q $PKTD_NET.2 >/dev/null  # link up, ARP both ways
}

start_veth() {
  ip netns add $NS_A
  ip netns add $NS_B
  veth_pair $NS_A $NS_B $LINUX_NET r
  ip netns exec $NS_A ping -c 3 -W 2 -q $LINUX_NET.2 >/dev/null
}

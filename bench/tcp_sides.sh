# What the TCP benchmarks share beside lib.sh (sourced after it by tcp_bulk.sh and tcp_rr.sh,
# which set PEER, PKTD_NET and LINUX_NET first): the side under test and how to run a program on
# its sockets.

# The prefix of a program on pktd's sockets (PKTD_TCP_PEER=linux: its stand-in's). An array, not a
# function, so that a program started in the background is the background job itself (ip netns
# exec and pkt run exec it) and cleanup's kill reaches it.
ON_SIDE=(ip netns exec $NS_APP "$BUILD/bin/pkt" run --)
[ "$PEER" = linux ] && ON_SIDE=(ip netns exec $NS_APP)

# The side under test: pktd behind a TAP in NS_PKTD (Linux at .1), or NS_APP's kernel over veth.
# Programs on it run in NS_APP, which has only lo.
start_side() {
  new_netns $NS_PKTD
  new_netns $NS_APP
  if [ "$PEER" = linux ]; then
    veth_pair $NS_PKTD $NS_APP $PKTD_NET s
    ip netns exec $NS_PKTD ping -c 3 -W 2 -q $PKTD_NET.2 >/dev/null  # link up, ARP both ways
  else
    start_pktd $NS_PKTD bt$ID $PKTD_NET
  fi
}

#!/usr/bin/env bash
# Builds pktd if needed and starts it in the foreground. With no arguments it attaches a TAP
# interface (tap0 on the Linux device pktd-tap0), gives it 198.18.0.1/24, gives the Linux side
# 198.18.0.2/24, and prints how to reach it. Arguments replace that default (`build/bin/pktd -h`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default >/dev/null
if [ $# -ne 0 ]; then
  exec build/bin/pktd -f "$@"
fi

PKTD_ADDR=198.18.0.1
LINUX_ADDR=198.18.0.2
DEV=pktd-tap0
build/bin/pktd -f -d tap,dev=$DEV &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' INT TERM
# Ready when the control socket answers (pkt exits 1 until then).
for _ in $(seq 1 200); do
  build/bin/pkt ifconfig tap0 >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { wait $pid; exit 1; }
  sleep 0.05
done
build/bin/pkt ifconfig tap0 inet $PKTD_ADDR/24 up
ip link set $DEV up
ip addr replace $LINUX_ADDR/24 dev $DEV
# A TCP echo service (RFC 862) on pktd's own sockets, so that Linux can reach pktd over TCP at
# once: an unmodified socat under pkt run, one child per connection.
build/bin/pkt run -- socat TCP4-LISTEN:7,bind=$PKTD_ADDR,reuseaddr,fork EXEC:cat &
echo_pid=$!
trap 'kill -TERM $echo_pid $pid 2>/dev/null || true' INT TERM
cat >&2 <<MSG
pktd is running (pid $pid): tap0 has $PKTD_ADDR/24 on the Linux TAP device $DEV ($LINUX_ADDR/24).
  ping $PKTD_ADDR                      # Linux -> pktd
  build/bin/pkt ping -c 3 $LINUX_ADDR  # pktd -> Linux
  build/bin/pkt ifconfig; build/bin/pkt netstat -s; build/bin/pkt arp -a
  echo hello | socat - TCP4:$PKTD_ADDR:7  # Linux -> the TCP echo service on pktd's sockets
  socat UDP4-RECV:9000 - &  build/bin/pkt run -- socat - UDP4-SENDTO:$LINUX_ADDR:9000
                                       # a program on pktd's UDP sockets -> Linux
  build/bin/pkt run -- curl http://$LINUX_ADDR:8000/  # with python3 -m http.server 8000 on Linux
  build/bin/pkt netstat -an            # connections, listeners, queues
Ctrl-C stops pktd.
MSG
wait $pid || true
wait $pid 2>/dev/null || true
kill -TERM $echo_pid 2>/dev/null || true

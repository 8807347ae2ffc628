#!/usr/bin/env python3
"""UDP request/response and message rate with plain Python sockets, for bench/udp_rr.sh. The same
program runs on Linux's sockets and under `pkt run` (pktd's), so the two differ only in the stack.

  udp_rr.py echo PORT                      echo every datagram back, forever
  udp_rr.py rr HOST PORT COUNT SIZE        COUNT round trips of SIZE bytes: "median_us avg_us"
  udp_rr.py blast HOST PORT SECONDS SIZE   send SIZE-byte datagrams for SECONDS: "sent per_second"
  udp_rr.py sink PORT IDLE                 count datagrams until IDLE s pass without one after the
                                           first: "received per_second" (first to last)

echo and sink print "bound" once their socket is, so a script knows when to start the peer.
"""
import socket
import statistics
import sys
import time

WARMUP = 100  # round trips before timing: ARP, caches and the stack's first allocations
REPLY_TIMEOUT_S = 5.0


def udp():
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def bound(port):
    s = udp()
    s.bind(("", port))
    print("bound", flush=True)
    return s


def echo(port):
    s = bound(port)
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)


def round_trips(host, port, count, size):
    s = udp()
    s.connect((host, port))
    s.settimeout(REPLY_TIMEOUT_S)  # a lost datagram fails the run instead of hanging it
    request = b"r" * size
    times_ns = []
    for i in range(WARMUP + count):
        start = time.perf_counter_ns()
        s.send(request)
        if s.recv(65535) != request:
            sys.exit("udp_rr: a reply that is not the request")
        if i >= WARMUP:
            times_ns.append(time.perf_counter_ns() - start)
    print(f"{statistics.median(times_ns) / 1000:.1f} {statistics.fmean(times_ns) / 1000:.1f}")


def blast(host, port, seconds, size):
    s = udp()
    s.connect((host, port))
    data = b"b" * size
    sent, deadline = 0, time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < deadline:
        for _ in range(100):  # read the clock once per hundred sends
            s.send(data)
        sent += 100
    elapsed = time.monotonic() - start
    print(f"{sent} {sent / elapsed:.0f}")


def sink(port, idle):
    s = bound(port)
    s.recv(65535)
    first = last = time.monotonic()
    received = 1
    s.settimeout(idle)
    try:
        while True:
            s.recv(65535)
            last = time.monotonic()
            received += 1
    except socket.timeout:
        pass
    print(f"{received} {received / max(last - first, 1e-9):.0f}")


def main(argv):
    mode, args = argv[1], argv[2:]
    if mode == "echo":
        echo(int(args[0]))
    elif mode == "rr":
        round_trips(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif mode == "blast":
        blast(args[0], int(args[1]), float(args[2]), int(args[3]))
    elif mode == "sink":
        sink(int(args[0]), float(args[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

#!/usr/bin/env python3
"""TCP request/response and connection rate with plain Python sockets, for bench/tcp_rr.sh. The same
program runs on Linux's sockets and under `pkt run` (pktd's), so the two differ only in the stack.

  tcp_rr.py serve PORT                  serve both kinds of client below, forever (one thread,
                                        selectors): prints "listening" once it does
  tcp_rr.py rr HOST PORT COUNT          one connection (TCP_NODELAY), COUNT round trips of 1 byte:
                                        "median_us p99_us"
  tcp_rr.py crr HOST PORT SECONDS       for SECONDS, connections one after another, each: connect,
                                        1 byte each way, the server's close, close:
                                        "connections per_second"

In crr the server closes first, as an HTTP/1.0 server does, so TIME_WAIT stays on the server
and the client's ephemeral ports are not used up by a run of many thousand connections.
"""
import selectors
import socket
import statistics
import sys
import time

WARMUP = 200  # round trips before timing: ARP, caches and the stack's first allocations
TIMEOUT_S = 10.0


def serve(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("", port))
    ls.listen(1024)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    print("listening", flush=True)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is ls:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    continue
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                try:
                    s.send(data)  # a byte at a time: the send buffer has room
                except OSError:
                    data = b""
            if not data or data.endswith(b"c"):  # end of file, or a crr client: close first
                sel.unregister(s)
                s.close()


def connect(host, port):
    s = socket.create_connection((host, port), timeout=TIMEOUT_S)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def round_trips(host, port, count):
    s = connect(host, port)
    times_ns = []
    for i in range(WARMUP + count):
        start = time.perf_counter_ns()
        s.send(b"r")
        if s.recv(1) != b"r":
            sys.exit("tcp_rr: a reply that is not the request")
        if i >= WARMUP:
            times_ns.append(time.perf_counter_ns() - start)
    s.close()
    times_ns.sort()
    p99 = times_ns[min(len(times_ns) - 1, int(len(times_ns) * 0.99))]
    print(f"{statistics.median(times_ns) / 1000:.1f} {p99 / 1000:.1f}")


def connections(host, port, seconds):
    done, deadline = 0, time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < deadline:
        s = connect(host, port)
        s.send(b"c")
        if s.recv(1) != b"c" or s.recv(1) != b"":
            sys.exit("tcp_rr: the server did not answer and close")
        s.close()
        done += 1
    print(f"{done} {done / (time.monotonic() - start):.0f}")


def main(argv):
    mode, args = argv[1], argv[2:]
    if mode == "serve":
        serve(int(args[0]))
    elif mode == "rr":
        round_trips(args[0], int(args[1]), int(args[2]))
    elif mode == "crr":
        connections(args[0], int(args[1]), float(args[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

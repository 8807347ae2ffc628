"""The socket service as unmodified Linux programs see it: socat, nc and python3 run under
`pkt run` (LD_PRELOAD=libpkt-preload.so) and get their AF_INET datagram sockets from pktd, which
reaches the Linux kernel over a TAP whose other end is in a namespace the test makes.

pktd runs in that namespace (its TAP and the kernel's address are there); programs under pkt run
run in the test's own namespace, where no interface has the subnet's addresses, so a socket that
slipped past pktd to Linux could not reach the peer and could not bind pktd's address.

Where a behaviour is Linux's (an errno, a timeout, FIONREAD), the same python snippet also runs
on Linux sockets in the namespace, and both must give the same answer: the test compares with the
kernel rather than with what its author believes the kernel does."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pktdtest import BUILD, PKT, Background, eventually, kill_group  # noqa: E402
from test_ipv4 import WAIT, TapHost  # noqa: E402

# An LD_PRELOAD of a sanitizer-built library into python3 or socat does not work (the sanitizer's
# runtime must come first in the process), so every test here needs a normal build.
SANITIZED = bool(os.environ.get("PKTD_SANITIZE"))
NEEDS_PRELOAD = unittest.skipIf(
    SANITIZED, "PKTD_SANITIZE is set: a sanitizer-built libpkt-preload.so cannot be preloaded "
               "into python3 or socat")
PRELOAD = os.path.join(BUILD, "lib", "libpkt-preload.so")

ECHO_PORT = 7007
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

# Linux's side: a UDP echo server; "bound" once its socket is.
LINUX_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sys.argv[1])))
print("bound", flush=True)
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(data, peer)
"""

# Linux's side: every datagram to a port (broadcasts too) until one says b"end", which is
# answered b"got end"; then all of them, as a JSON list of [text, address, port].
LINUX_COLLECT = """
import json, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("", int(sys.argv[1])))
s.settimeout(float(sys.argv[2]))
print("bound", flush=True)
got = []
while True:
    data, peer = s.recvfrom(65535)
    got.append([data.decode(), peer[0], peer[1]])
    if data == b"end":
        s.sendto(b"got end", peer)
        break
print(json.dumps(got), flush=True)
"""

# Linux's side: COUNT requests to HOST PORT, at most WINDOW unanswered at once; an answer is the
# request, perhaps after a prefix ending in ":" (a forking server's "PID:"). JSON: how many were
# answered, which were not, and the prefixes seen.
LINUX_REQUESTS = """
import json, socket, sys
host, port, count, window, wait = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \\
    int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((host, port))
s.settimeout(wait)
pending, answered, prefixes, sent = set(), set(), set(), 0
try:
    while len(answered) < count:
        while sent < count and len(pending) < window:
            s.send(b"request %d" % sent)
            pending.add(sent)
            sent += 1
        reply = s.recv(65535)
        prefix, _, request = reply.rpartition(b":") if b":" in reply else (b"", b"", reply)
        n = int(request.split()[1])
        pending.discard(n)
        answered.add(n)
        prefixes.add(prefix.decode())
except socket.timeout:
    pass
print(json.dumps({"answered": len(answered),
                  "missing": sorted(set(range(count)) - answered)[:20],
                  "prefixes": sorted(prefixes)}), flush=True)
"""

# The client side of most tests: `python3 -c CLIENT CASE ARGS_JSON` runs one case and prints what
# it observed as JSON. The same text runs under pkt run (pktd's sockets) and on Linux in the
# namespace. ARGS: local (this stack's own address), peer (Linux's address), echo (the echo
# server's port), and what the case needs.
CLIENT = r"""
import errno, fcntl, json, os, resource, select, signal, socket, struct, subprocess, sys, \
    termios, time

CASE, A = sys.argv[1], json.loads(sys.argv[2])
signal.alarm(int(A.get("alarm", 60)))  # never hang a test: SIGALRM ends a stuck snippet
ECHO = (A["peer"], A["echo"])


def udp():
    return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def outcome(f):
    # What a call gave: its value, or the name of the errno it raised.
    try:
        value = f()
        return value.decode() if isinstance(value, bytes) else value
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return errname(e)


def on_this_stack():
    # Only the stack that owns A["local"] lets a socket bind it: proof that the snippet's
    # sockets are the ones meant (pktd's under pkt run, Linux's in the namespace).
    s = udp()
    s.bind((A["local"], 0))
    s.close()


def blocking_echo():
    s = udp()
    s.sendto(b"ping", ECHO)
    data, source = s.recvfrom(100)
    return {"data": data.decode(), "from": list(source)}


def nonblocking():
    s = udp()
    s.bind(("", 0))
    s.setblocking(False)
    empty = outcome(lambda: s.recv(100))
    s.sendto(b"x", ECHO)
    readable = select.select([s], [], [], A["wait"])[0] == [s]
    return {"empty": empty, "readable": readable, "data": outcome(lambda: s.recv(100)),
            "empty_again": outcome(lambda: s.recv(100))}


def select_and_poll():
    s = udp()
    s.bind(("", 0))
    before = select.select([s], [s], [], 0)
    s.sendto(b"a", ECHO)
    after = select.select([s], [], [], A["wait"])
    first = s.recv(100)
    p = select.poll()
    p.register(s, select.POLLIN)
    idle = p.poll(0)
    s.sendto(b"b", ECHO)
    events = p.poll(int(A["wait"] * 1000))
    second = s.recv(100)
    return {"select_readable_before": before[0] == [s], "select_writable": before[1] == [s],
            "select_readable_after": after[0] == [s], "first": first.decode(),
            "poll_idle": idle, "poll_events": [e for _, e in events] == [select.POLLIN],
            "second": second.decode()}


def timeout():
    s = udp()
    s.bind(("", 0))
    s.settimeout(0.3)
    start = time.monotonic()
    raised = outcome(lambda: s.recv(100))
    waited = time.monotonic() - start
    return {"raised": raised, "waited_the_timeout": 0.25 <= waited < A["wait"]}


def peek():
    s = udp()
    s.sendto(b"peekaboo", ECHO)
    select.select([s], [], [], A["wait"])
    part = s.recv(4, socket.MSG_PEEK)
    whole, source = s.recvfrom(100, socket.MSG_PEEK)
    data = s.recv(100)
    s.setblocking(False)
    return {"part": part.decode(), "peeked": whole.decode(), "from": list(source),
            "read": data.decode(), "then": outcome(lambda: s.recv(100))}


def fionread():
    def pending():
        return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0" * 4))[0]
    s = udp()
    s.bind(("", 0))
    empty = pending()
    s.sendto(b"12345", ECHO)
    s.sendto(b"1234567", ECHO)
    select.select([s], [], [], A["wait"])
    first = pending()  # Linux: the size of the next datagram's payload, not of all of them
    s.recv(100)
    select.select([s], [], [], A["wait"])
    second = pending()
    s.recv(100)
    return {"empty": empty, "first": first, "second": second}


def ephemeral_ports():
    unbound = udp()
    before = unbound.getsockname()
    a, b = udp(), udp()
    a.bind(("", 0))
    b.bind(("", 0))
    (addr, pa), (_, pb) = a.getsockname(), b.getsockname()
    unbound.sendto(b"autobind", ECHO)  # a send binds an unbound socket to an ephemeral port
    _, pu = unbound.getsockname()
    # Linux binds in the sendto itself: getsockname right after it never says port 0.
    unbound_after_send = []
    for _ in range(20):
        u = udp()
        u.sendto(b"autobind", ECHO)
        unbound_after_send.append(u.getsockname()[1] == 0)
    return {"before_bind": list(before), "address": addr, "ephemeral": 1024 <= pa <= 65535,
            "distinct": len({pa, pb, pu}) == 3, "autobound": pu != 0,
            "port_0_after_a_send": f"{sum(unbound_after_send)} of 20"}


def connected():
    s = udp()
    unconnected_peer = outcome(lambda: s.getpeername())
    s.connect(ECHO)
    s.send(b"hello")
    data = s.recv(100)
    local, port = s.getsockname()
    return {"not_connected": unconnected_peer, "peer": list(s.getpeername()),
            "data": data.decode(), "local_is_mine": local == A["local"], "autobound": port != 0}


def boundaries():
    s = udp()
    sizes = [1, 1000, 3000]  # 3000: fragmented on a 1500-byte link
    for i, n in enumerate(sizes):
        s.sendto(bytes([65 + i]) * n, ECHO)
    got = [s.recv(65535) for _ in sizes]
    return {"sizes": [len(d) for d in got],
            "contents": [len(set(d)) == 1 and d[0] == 65 + i for i, d in enumerate(got)]}


def dup_and_exec():
    # The socket is a real fd: a dup and an exec'd program (fd passed, LD_PRELOAD inherited)
    # use the same socket; python's socket(fileno=) asks getsockname and SO_TYPE of the stack.
    s = udp()
    s.bind(("", 0))
    port = s.getsockname()[1]
    dup = socket.socket(fileno=os.dup(s.fileno()))
    fd = os.dup(s.fileno())
    child = "\n".join([
        "import json, socket, sys",
        "s = socket.socket(fileno=int(sys.argv[1]))",
        "s.sendto(b'from the child', tuple(json.loads(sys.argv[2])))",
        "print(json.dumps({'family': s.family, 'type': s.type, 'port': s.getsockname()[1],",
        "                  'echo': s.recv(100).decode()}))"])
    r = subprocess.run([sys.executable, "-c", child, str(fd), json.dumps(ECHO)], pass_fds=[fd],
                       capture_output=True, text=True, timeout=A["wait"])
    seen = json.loads(r.stdout) if r.returncode == 0 else {"failed": r.stderr.splitlines()[-1:]}
    if seen.get("port") == port:
        seen["port"] = "the parent's"
    return {"dup_same_port": dup.getsockname()[1] == port, "child": seen}


def options():
    s = udp()
    sol = socket.SOL_SOCKET
    s.setsockopt(sol, socket.SO_RCVBUF, 65536)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 9)
    return {"type": s.getsockopt(sol, socket.SO_TYPE),
            "domain": s.getsockopt(sol, socket.SO_DOMAIN),
            "protocol": s.getsockopt(sol, socket.SO_PROTOCOL),
            "error": s.getsockopt(sol, socket.SO_ERROR),
            "rcvbuf": s.getsockopt(sol, socket.SO_RCVBUF),  # Linux doubles what it is given
            "ttl_default": udp().getsockopt(socket.IPPROTO_IP, socket.IP_TTL),
            "ttl": s.getsockopt(socket.IPPROTO_IP, socket.IP_TTL),
            "tcp_option": outcome(lambda: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1))}


def truncation():
    s = udp()
    s.sendto(b"0123456789", ECHO)
    s.sendto(b"next", ECHO)
    data, _, flags, source = s.recvmsg(4)  # the rest of that datagram is dropped, as on Linux
    return {"data": data.decode(), "truncated": bool(flags & socket.MSG_TRUNC),
            "from": list(source), "next": s.recv(100).decode()}


def receive_timeout_option():
    s = udp()
    s.bind(("", 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 300000))
    start = time.monotonic()
    raised = outcome(lambda: s.recv(100))  # a blocking socket (no settimeout): SO_RCVTIMEO ends it
    return {"raised": raised, "waited": 0.25 <= time.monotonic() - start < A["wait"],
            "dontwait": outcome(lambda: s.recv(100, socket.MSG_DONTWAIT))}


def shutdown():
    s = udp()
    unconnected = outcome(lambda: s.shutdown(socket.SHUT_RD))
    s.connect(ECHO)
    read_side = outcome(lambda: s.shutdown(socket.SHUT_RD))
    # Linux after SHUT_RD: readable at once, a blocking recv reads end of file (b""), a
    # non-blocking one EAGAIN while nothing is queued; sending goes on.
    readable = select.select([s], [], [], A["wait"])[0] == [s]
    blocking = outcome(lambda: s.recv(100))
    s.setblocking(False)
    nonblocking = outcome(lambda: s.recv(100))
    s.setblocking(True)
    return {"unconnected": unconnected, "shut_rd": read_side, "readable": readable,
            "blocking_recv": blocking, "nonblocking_recv": nonblocking,
            "send": outcome(lambda: s.send(b"still"))}


def largest_datagram():
    s = udp()
    s.sendto(bytes(range(256)) * 255 + bytes(227), ECHO)  # 65507 bytes, 45 fragments each way
    data = s.recv(65535)
    return {"size": len(data), "intact": data == bytes(range(256)) * 255 + bytes(227)}


def address_in_use():
    a, b = udp(), udp()
    a.bind(("", A["port"]))
    return {"second_bind": outcome(lambda: b.bind(("", A["port"])))}


def address_not_available():
    return {"bind": outcome(lambda: udp().bind((A["foreign"], 0)))}


def connection_refused():
    s = udp()
    s.connect((A["peer"], A["closed"]))
    s.send(b"anyone there?")
    s.settimeout(A["wait"])
    # The kernel's ICMP port unreachable comes back and is the next call's error.
    return {"recv": outcome(lambda: s.recv(100)), "then_send": outcome(lambda: s.send(b"again"))}


def message_too_long():
    s = udp()
    return {"65508": outcome(lambda: s.sendto(b"x" * 65508, ECHO)),
            "65507": outcome(lambda: s.sendto(b"x" * 65507, ECHO))}


def privileged_port():
    return {"uid": os.getuid(), "bind_80": outcome(lambda: udp().bind(("", 80))),
            "bind_1024": outcome(lambda: udp().bind(("", 1024)))}


def unix_alongside():
    a, b = socket.socketpair()
    a.sendall(b"stream pair")
    stream = b.recv(100)
    c, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    c.send(b"datagram pair")
    pair = d.recv(100)
    name = "\0pktd-test-%d" % os.getpid()
    server, client = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM), \
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(name)
    client.sendto(b"named", name)
    named = server.recv(100)
    return {"families": [a.family, c.family, server.family], "stream": stream.decode(),
            "pair": pair.decode(), "named": named.decode(),
            "udp_beside": blocking_echo()["data"]}


def broadcast():
    s = udp()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    option = s.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST)
    with_option = outcome(lambda: s.sendto(b"to everyone", (A["broadcast"], A["port"])))
    q = udp()
    connect_without = outcome(lambda: udp().connect((A["broadcast"], A["port"])))
    without = outcome(lambda: q.sendto(b"without SO_BROADCAST", (A["broadcast"], A["port"])))
    # pktd sends asynchronously: a refusal it reports later would be queued before the answer
    # to b"end", so the next calls show it, if it is reported at all.
    end = outcome(lambda: q.sendto(b"end", (A["peer"], A["port"])))
    q.settimeout(A["wait"])
    first = outcome(lambda: q.recv(100))
    second = outcome(lambda: q.recv(100)) if first != "got end" else None
    return {"option": option, "with_option": with_option, "connect_without_option":
            connect_without, "without_option": without,
            "end": end, "next_recv": first, "recv_after_that": second,
            "port": s.getsockname()[1]}


def bind_port():
    s = udp()
    s.bind(("", A["port"]))
    return {"port": s.getsockname()[1]}


def many_sockets():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    socks = []
    for _ in range(A["count"]):
        s = udp()
        s.bind(("", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    print(json.dumps({"ports": ports}), flush=True)
    sys.stdin.readline()  # the test counts pktd's sockets meanwhile
    for s in socks:
        s.close()
    return {"closed": len(socks)}


def send_forever():
    s = udp()
    s.bind(("", A["port"]))
    print(json.dumps({"pid": os.getpid()}), flush=True)
    while True:
        s.sendto(b"x" * 64, (A["peer"], A["closed"]))


def blocked_when_pktd_stops():
    s = udp()
    s.bind(("", A["port"]))
    print(json.dumps({"waiting": True}), flush=True)
    recv = outcome(lambda: s.recvfrom(100))
    new = outcome(lambda: udp().fileno())
    return {"recv": recv, "new_socket": "created" if isinstance(new, int) else new}


on_this_stack()
print(json.dumps(globals()[CASE]()), flush=True)
"""

# Under pkt run: an asyncio (epoll) UDP echo server on a port.
ASYNCIO_ECHO = """
import asyncio, sys

class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, peer):
        self.transport.sendto(data, peer)

async def main():
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Echo, local_addr=("0.0.0.0", int(sys.argv[1])))
    print("serving", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""

# Under pkt run: the parent binds a port and forks children that share the socket; each answers
# "PID:" + the request.
FORKING_ECHO = """
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sys.argv[1])))
children = []
for _ in range(int(sys.argv[2])):
    pid = os.fork()
    if pid == 0:
        while True:
            data, peer = s.recvfrom(65535)
            s.sendto(b"%d:" % os.getpid() + data, peer)
    children.append(pid)
print(" ".join(map(str, children)), flush=True)
for pid in children:
    os.waitpid(pid, 0)
"""


class Program(Background):
    """A command running while the test goes on, in a session of its own so that close() ends
    what it forked too."""

    def __init__(self, args, env=None, stdin=subprocess.DEVNULL):
        super().__init__(args, env=env, stdin=stdin, own_session=True)

    def json_line(self):
        """The first line it printed, as JSON, once there is one (it must still run)."""
        eventually(lambda: "\n" in self.output() or not self.running(), WAIT, "its first line")
        if "\n" not in self.output():
            raise AssertionError(f"{' '.join(self.args)} ended: {self.errors()}")
        return json.loads(self.output().splitlines()[0])


def run_in_session(args, env=None, input=None, timeout=WAIT + 30):
    """A command to its end: (status, stdout, stderr), bytes if input is bytes. Killed, with what
    it forked, if it outlives timeout."""
    text = not isinstance(input, bytes)
    proc = subprocess.Popen(args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=text, start_new_session=True)
    try:
        out, err = proc.communicate(input, timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        raise AssertionError(f"{' '.join(args)} still ran after {timeout} s:\n{out}{err}") from None
    return proc.returncode, out, err


class ServiceHost(TapHost):
    """pktd on a TAP (test_ipv4.TapHost: Linux at .1, pktd at .2 of a random /24) and the means
    to run programs on its sockets (under pkt run, in the test's namespace) or on the kernel's
    (in pktd's namespace, where the kernel owns .1)."""

    def __init__(self, test):
        super().__init__(test)
        # The Linux halves of the comparisons talk to the kernel's own address: through lo.
        self.ns.ip("link", "set", "lo", "up")
        self.broadcast = str(self.net.broadcast_address)
        self.tmp = tempfile.mkdtemp(prefix="pktd-svc-")
        test.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def under_pkt_run(self, *args, user=None):
        # The instance reaches pkt and the program through the environment (PKTD_INSTANCE,
        # PKTD_RUNDIR), as it would in a shell.
        return [*(NOBODY if user == "nobody" else []), PKT, "run", "--", *args]

    def run_on_pktd(self, *args, input=None, user=None):
        """A program under pkt run, to its end: (status, stdout, stderr)."""
        return run_in_session(self.under_pkt_run(*args, user=user), env=self.d.env, input=input)

    def pktd_program(self, *args, stdin=subprocess.DEVNULL):
        """A program under pkt run while the test goes on (ended at cleanup)."""
        p = Program(self.under_pkt_run(*args), env=self.d.env, stdin=stdin)
        self.test.addCleanup(p.close)
        return p

    def run_on_linux(self, *args, input=None, user=None):
        """A program on Linux's sockets in the namespace, to its end: (status, stdout, stderr)."""
        return run_in_session(["ip", "netns", "exec", self.ns.name,
                               *(NOBODY if user == "nobody" else []), *args], input=input)

    def client_args(self, on_pktd, **extra):
        return json.dumps({"local": self.addr if on_pktd else self.linux, "peer": self.linux,
                           "echo": ECHO_PORT, "wait": WAIT, "alarm": WAIT + 15, **extra})

    def client_on_pktd(self, case, user=None, **extra):
        """CLIENT's case under pkt run: what it observed."""
        status, out, err = self.run_on_pktd("python3", "-c", CLIENT, case,
                                            self.client_args(True, **extra), user=user)
        self.test.assertEqual(status, 0, f"{case} under pkt run: {out}{err}")
        return json.loads(out.splitlines()[-1])

    def client_on_linux(self, case, user=None, **extra):
        """CLIENT's case on Linux's sockets in the namespace: what it observed."""
        status, out, err = self.run_on_linux("python3", "-c", CLIENT, case,
                                             self.client_args(False, **extra), user=user)
        self.test.assertEqual(status, 0, f"{case} on Linux: {out}{err}")
        return json.loads(out.splitlines()[-1])

    def same_as_linux(self, case, user=None, **extra):
        """Runs a case on both stacks; they must observe the same. Returns what they saw."""
        linux = self.client_on_linux(case, user=user, **extra)
        pktd = self.client_on_pktd(case, user=user, **extra)
        self.test.assertEqual(pktd, linux, f"{case}: pktd (first) against Linux (second)")
        return pktd

    def linux_echo(self, port=ECHO_PORT):
        b = self.background("python3", "-c", LINUX_ECHO, str(port))
        eventually(lambda: "bound" in b.output() or not b.running(), WAIT, "Linux echo bound")
        self.test.assertTrue(b.running(), b.errors())
        return b

    def linux_collector(self, port):
        b = self.background("python3", "-c", LINUX_COLLECT, str(port), str(WAIT))
        eventually(lambda: "bound" in b.output() or not b.running(), WAIT, "Linux socket bound")
        self.test.assertTrue(b.running(), b.errors())
        return b

    def linux_bound(self, port):
        """Whether a Linux UDP socket in the namespace is bound to port."""
        return f":{port} " in self.ns.run("ss", "-Hulnp", check=True).stdout

    def wait_pktd_bound(self, port, program):
        eventually(lambda: self.pktd_bound(port) or not program.running(), WAIT,
                   f"a socket on port {port} in pktd")
        self.test.assertTrue(program.running(), program.errors())

    def sockets(self):
        """pktd's sockets: pkt --json netstat -an."""
        return self.d.pkt_json("netstat", "-an")

    def no_sockets_left(self):
        """Neither the listing nor the service's count has a socket."""
        return self.sockets() == [] and self.counters()["sockets"]["sockets_open"] == 0

    def udp_sent(self):
        return self.counters()["udp"]["sent"]


def local_port(entry):
    """The port of a sockets-listing entry's "local" ("*:7", "198.18.0.2:7", "198.18.0.2.7")."""
    m = re.search(r"[.:](\d+)$", entry["local"])
    return int(m.group(1)) if m else None


class Fixture(unittest.TestCase):
    """One pktd per test, with a TAP into a namespace of the test's."""
    maxDiff = None  # a comparison with Linux that fails shows all of both

    def setUp(self):
        self.assertTrue(os.path.exists(PRELOAD), f"{PRELOAD} is not built")
        self.h = ServiceHost(self)


@NEEDS_PRELOAD
class Socat(Fixture):
    def test_socat_sends_through_pktd(self):
        h = self.h
        received = os.path.join(h.tmp, "received")
        linux = h.background("socat", "-u", "UDP4-RECV:4100", f"OPEN:{received},creat,trunc")
        eventually(lambda: h.linux_bound(4100) or not linux.running(), WAIT, "Linux socat bound")
        data = os.urandom(20000)  # socat sends 8192-byte datagrams: fragmented on the TAP
        before = h.udp_sent()
        status, _, err = h.run_on_pktd("socat", "-u", "-", f"UDP4-SENDTO:{h.linux}:4100",
                                       input=data)
        self.assertEqual(status, 0, err)
        eventually(lambda: h.udp_sent() >= before + 3, WAIT, "pktd to send three datagrams")
        eventually(lambda: os.path.getsize(received) >= len(data), WAIT, "all of it at Linux")
        with open(received, "rb") as f:
            self.assertEqual(f.read(), data)

    def test_socat_receives_through_pktd(self):
        h = self.h
        received = os.path.join(h.tmp, "received")
        app = h.pktd_program("socat", "-u", "UDP4-RECV:4101", f"OPEN:{received},creat,trunc")
        h.wait_pktd_bound(4101, app)
        data = os.urandom(20000)
        status, _, err = h.run_on_linux("socat", "-u", "-", f"UDP4-SENDTO:{h.addr}:4101",
                                        input=data)
        self.assertEqual(status, 0, err)
        eventually(lambda: os.path.exists(received) and os.path.getsize(received) >= len(data),
                   WAIT, "all of it under pkt run")
        with open(received, "rb") as f:
            self.assertEqual(f.read(), data)


@NEEDS_PRELOAD
class Netcat(Fixture):
    """OpenBSD nc: the listener peeks (MSG_PEEK) at the first datagram and connects to its
    sender; both ends set SO_REUSEADDR/SO_REUSEPORT and shut the socket down at the end."""
    TEXT = "hello from nc\nsecond line\n"

    def test_nc_sends_through_pktd(self):
        h = self.h
        linux = h.background("nc", "-u", "-4", "-l", "-d", "-W", "1", "4200")
        eventually(lambda: h.linux_bound(4200) or not linux.running(), WAIT, "Linux nc bound")
        before = h.udp_sent()
        status, _, err = h.run_on_pktd("nc", "-u", "-4", "-q", "0", h.linux, "4200",
                                       input=self.TEXT)
        self.assertEqual(status, 0, err)
        self.assertEqual(linux.wait(WAIT), 0, linux.errors())
        self.assertEqual(linux.output(), self.TEXT)
        self.assertGreater(h.udp_sent(), before)  # it went through pktd

    def test_nc_receives_through_pktd(self):
        h = self.h
        app = h.pktd_program("nc", "-u", "-4", "-l", "-d", "-W", "1", "4201")
        h.wait_pktd_bound(4201, app)
        status, _, err = h.run_on_linux("nc", "-u", "-4", "-q", "0", h.addr, "4201",
                                        input=self.TEXT)
        self.assertEqual(status, 0, err)
        self.assertEqual(app.wait(WAIT), 0, app.errors())
        self.assertEqual(app.output(), self.TEXT)


@NEEDS_PRELOAD
class Broadcast(Fixture):
    def test_subnet_broadcast_needs_so_broadcast(self):
        h = self.h
        # Linux first: the same snippet on the kernel's sockets, heard by a collector there.
        got = h.linux_collector(4300)
        linux = h.client_on_linux("broadcast", broadcast=h.broadcast, port=4300)
        self.assertEqual(got.wait(WAIT), 0, got.errors())
        linux_heard = json.loads(got.output().splitlines()[-1])

        got = h.linux_collector(4301)
        pktd = h.client_on_pktd("broadcast", broadcast=h.broadcast, port=4301)
        self.assertEqual(got.wait(WAIT), 0, got.errors())
        heard = json.loads(got.output().splitlines()[-1])
        # What went out: the broadcast sent with SO_BROADCAST, from pktd's address, then "end";
        # never the one without the option.
        self.assertEqual(heard, [["to everyone", h.addr, pktd["port"]],
                                 ["end", h.addr, heard[-1][2]]], pktd)
        self.assertEqual([d[0] for d in linux_heard], ["to everyone", "end"])
        self.assertEqual(h.counters()["sockets"]["send_broadcast_refused"], 1)
        # How the refusal is reported. Linux fails that sendto with EACCES at once. pktd's sends
        # are asynchronous: the sendto returns its length, the refusal is only counted (above),
        # and nothing is pending afterwards (docs/sockets.md, "Departures"). A connect to the
        # broadcast address is refused with EACCES by both.
        self.assertEqual(linux["without_option"], "EACCES", linux)
        self.assertEqual(pktd["without_option"], len("without SO_BROADCAST"), pktd)
        for observed in (linux, pktd):
            del observed["port"], observed["without_option"]
        self.assertEqual(pktd, linux, "pktd (first) against Linux (second)")
        self.assertEqual(pktd["connect_without_option"], "EACCES")


@NEEDS_PRELOAD
class PythonSockets(Fixture):
    """Python's socket module under pkt run against a Linux echo server, each case compared with
    the same code on the kernel's sockets."""

    def setUp(self):
        super().setUp()
        self.h.linux_echo()

    def test_blocking_sendto_recvfrom(self):
        got = self.h.same_as_linux("blocking_echo")
        self.assertEqual(got, {"data": "ping", "from": [self.h.linux, ECHO_PORT]})

    def test_nonblocking(self):
        got = self.h.same_as_linux("nonblocking")
        self.assertEqual(got, {"empty": "EAGAIN", "readable": True, "data": "x",
                               "empty_again": "EAGAIN"})

    def test_select_and_poll_wait_for_a_datagram(self):
        got = self.h.same_as_linux("select_and_poll")
        self.assertTrue(got["select_readable_after"] and got["poll_events"], got)

    def test_settimeout_raises_socket_timeout(self):
        got = self.h.same_as_linux("timeout")
        self.assertEqual(got, {"raised": "timeout", "waited_the_timeout": True})

    def test_msg_peek(self):
        got = self.h.same_as_linux("peek")
        self.assertEqual(got["peeked"], "peekaboo")

    def test_fionread_is_the_next_datagrams_size(self):
        got = self.h.same_as_linux("fionread")
        self.assertEqual(got, {"empty": 0, "first": 5, "second": 7})

    def test_ephemeral_ports(self):
        got = self.h.same_as_linux("ephemeral_ports")
        self.assertEqual(got["before_bind"], ["0.0.0.0", 0])
        self.assertTrue(got["ephemeral"] and got["distinct"] and got["autobound"], got)

    def test_connect_send_recv(self):
        got = self.h.same_as_linux("connected")
        self.assertEqual(got["peer"], [self.h.linux, ECHO_PORT])
        self.assertTrue(got["local_is_mine"], got)

    def test_datagram_boundaries_are_kept(self):
        got = self.h.same_as_linux("boundaries")
        self.assertEqual(got, {"sizes": [1, 1000, 3000], "contents": [True, True, True]})

    def test_dup_and_exec_share_the_socket(self):
        got = self.h.same_as_linux("dup_and_exec")
        self.assertEqual(got, {"dup_same_port": True, "child": {
            "family": 2, "type": 2, "port": "the parent's", "echo": "from the child"}})

    def test_socket_options(self):
        got = self.h.same_as_linux("options")
        self.assertEqual(got["rcvbuf"], 131072)
        self.assertEqual((got["ttl_default"], got["ttl"]), (64, 9))

    def test_a_short_buffer_truncates_the_datagram(self):
        got = self.h.same_as_linux("truncation")
        self.assertEqual(got, {"data": "0123", "truncated": True,
                               "from": [self.h.linux, ECHO_PORT], "next": "next"})

    def test_so_rcvtimeo_and_msg_dontwait(self):
        got = self.h.same_as_linux("receive_timeout_option")
        self.assertEqual(got, {"raised": "EAGAIN", "waited": True, "dontwait": "EAGAIN"})

    def test_shutdown(self):
        got = self.h.same_as_linux("shutdown")
        self.assertEqual(got, {"unconnected": "ENOTCONN", "shut_rd": None, "readable": True,
                               "blocking_recv": "", "nonblocking_recv": "EAGAIN", "send": 5})

    def test_the_largest_datagram(self):
        got = self.h.same_as_linux("largest_datagram")
        self.assertEqual(got, {"size": 65507, "intact": True})

    def test_unix_sockets_beside_udp(self):
        got = self.h.same_as_linux("unix_alongside")
        self.assertEqual(got["udp_beside"], "ping")
        self.assertEqual(got["named"], "named")


@NEEDS_PRELOAD
class Errors(Fixture):
    """Each error as Linux gives it, from the same snippet on the kernel's sockets."""

    def test_address_in_use(self):
        got = self.h.same_as_linux("address_in_use", port=4400)
        self.assertEqual(got, {"second_bind": "EADDRINUSE"})

    def test_address_not_available(self):
        got = self.h.same_as_linux("address_not_available", foreign=self.h.host(77))
        self.assertEqual(got, {"bind": "EADDRNOTAVAIL"})

    def test_connection_refused(self):
        got = self.h.same_as_linux("connection_refused", closed=4401)
        self.assertEqual(got["recv"], "ECONNREFUSED")

    def test_message_too_long(self):
        self.h.linux_echo()
        got = self.h.same_as_linux("message_too_long")
        self.assertEqual(got, {"65508": "EMSGSIZE", "65507": 65507})

    def test_privileged_port_as_nobody(self):
        h = self.h
        # nobody reaches pktd: the run directory is searchable, the service socket mode 0666.
        self.assertEqual(os.stat(h.d.rundir).st_mode & 0o005, 0o005)
        got = h.same_as_linux("privileged_port", user="nobody")
        self.assertEqual(got, {"uid": 65534, "bind_80": "EACCES", "bind_1024": None})


@NEEDS_PRELOAD
class Servers(Fixture):
    def test_asyncio_echo_server(self):
        h = self.h
        app = h.pktd_program("python3", "-c", ASYNCIO_ECHO, "4500")
        h.wait_pktd_bound(4500, app)
        status, out, err = h.run_on_linux("python3", "-c", LINUX_REQUESTS, h.addr, "4500", "200",
                                          "10", str(WAIT))
        self.assertEqual(status, 0, err)
        self.assertEqual(json.loads(out), {"answered": 200, "missing": [], "prefixes": [""]},
                         app.errors())

    def test_forking_server_shares_its_socket(self):
        h = self.h
        app = h.pktd_program("python3", "-c", FORKING_ECHO, "4501", "3")
        eventually(lambda: app.output().strip() or not app.running(), WAIT, "the children")
        children = app.output().split()
        h.wait_pktd_bound(4501, app)
        status, out, err = h.run_on_linux("python3", "-c", LINUX_REQUESTS, h.addr, "4501", "30",
                                          "1", str(WAIT))
        self.assertEqual(status, 0, err)
        got = json.loads(out)
        self.assertEqual(got["answered"], 30, (got, app.errors()))
        self.assertLessEqual(set(got["prefixes"]), set(children))

    def test_socat_forking_server(self):
        # socat's parent peeks at each datagram and forks; the child reads it from the shared
        # socket and answers through it (-T: a child ends once idle).
        h = self.h
        app = h.pktd_program("socat", "-T", "5", "UDP4-RECVFROM:4502,fork", "EXEC:cat")
        h.wait_pktd_bound(4502, app)
        status, out, err = h.run_on_linux("python3", "-c", LINUX_REQUESTS, h.addr, "4502", "10",
                                          "1", str(WAIT))
        self.assertEqual(status, 0, err)
        self.assertEqual(json.loads(out), {"answered": 10, "missing": [], "prefixes": [""]},
                         app.errors())


@NEEDS_PRELOAD
class Lifetimes(Fixture):
    def socket_ports(self):
        return [local_port(s) for s in self.h.sockets()]

    def test_a_client_killed_while_sending(self):
        h = self.h
        h.linux_echo()
        before = h.udp_sent()
        app = h.pktd_program("python3", "-c", CLIENT, "send_forever",
                             h.client_args(True, port=4600, closed=4601))
        pid = app.json_line()["pid"]
        h.wait_pktd_bound(4600, app)
        eventually(lambda: h.udp_sent() > before + 100, WAIT, "pktd sending for it")
        os.kill(pid, signal.SIGKILL)  # python's own PID (pkt run may or may not exec it)
        eventually(lambda: not app.running(), WAIT, "pkt run to end")
        eventually(lambda: 4600 not in self.socket_ports(), WAIT, "its socket to close")
        eventually(h.no_sockets_left, WAIT, "no sockets in pktd")
        self.assertFalse(h.pktd_bound(4600))  # nor in netstat -an's text
        self.assertEqual(h.client_on_pktd("bind_port", port=4600), {"port": 4600})
        self.assertEqual(h.client_on_pktd("blocking_echo")["data"], "ping")  # pktd serves on

    def test_a_thousand_sockets(self):
        h = self.h
        app = h.pktd_program("python3", "-c", CLIENT, "many_sockets",
                             h.client_args(True, count=1000), stdin=subprocess.PIPE)
        ports = app.json_line()["ports"]
        self.assertEqual(len(set(ports)), 1000)
        self.assertTrue(all(1024 <= p <= 65535 for p in ports))
        self.assertLessEqual(set(ports), set(self.socket_ports()))
        # 1000, once pktd has seen the snippet's first probe socket close.
        eventually(lambda: h.counters()["sockets"]["sockets_open"] == 1000, WAIT,
                   "pktd to count 1000 sockets")
        app.proc.stdin.write("close\n")
        app.proc.stdin.flush()
        self.assertEqual(app.wait(WAIT), 0, app.errors())
        self.assertEqual(json.loads(app.output().splitlines()[-1]), {"closed": 1000})
        eventually(h.no_sockets_left, WAIT, "pktd's socket count back to 0")

    def test_pktd_stopping_wakes_a_blocked_reader(self):
        h = self.h
        app = h.pktd_program("python3", "-c", CLIENT, "blocked_when_pktd_stops",
                             h.client_args(True, port=4602))
        app.json_line()
        h.wait_pktd_bound(4602, app)
        self.assertEqual(h.d.stop(), 0, h.d.output()[-4000:])
        self.assertEqual(app.wait(WAIT), 0, app.errors())
        got = json.loads(app.output().splitlines()[-1])
        self.assertEqual(got, {"recv": "ENETDOWN", "new_socket": "ENETDOWN"})  # docs/libpkt.md


if __name__ == "__main__":
    unittest.main(verbosity=2)

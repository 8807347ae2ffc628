"""TCP as unmodified Linux programs see it: curl, python3's http.server, iperf3, socat and python
snippets run on pktd's sockets (`pkt run`) against the Linux kernel, which is the peer over a TAP
in a namespace the test makes (the arrangement of test_sockets.py).

Two namespaces per test, both made here and removed at cleanup:

  peer   the Linux kernel: .1 of a random /24 of 198.18.0.0/15 on the TAP's Linux end. pktd runs
         here (its TAP is here), at .2. Peer programs (curl, servers, iperf3) run here, and the
         loss and blackhole rules (iptables) live here, so they vanish with it.
  app    where the programs under test run, under `pkt run`: only lo, so no interface has the
         subnet's addresses; a socket that slipped past the preload could neither reach the peer
         nor bind pktd's address, and no stray traffic can leave the test's namespaces.

PKTD_TCP_PEER=linux proves the harness before pktd has TCP: the "pktd side" is the kernel of the
app namespace, joined to the peer by a veth pair (.2 on the app's end), and the programs run there
directly instead of under `pkt run`. pktd's observations have Linux stand-ins: `ss -tan` for
`pkt netstat -an`, the namespace's TCP sockets in use (/proc/net/sockstat) for pktd's descriptors
and open sockets. Every case passes in that mode; with pktd (the default) they need TCP in pktd.

PKTD_TCP_BIG_BYTES: the size of each bulk transfer (default 1 GiB; 64 MiB makes a quick run).
PKTD_TCP_LOSSY_BYTES: the size of each transfer with random loss (default: PKTD_TCP_BIG_BYTES).
PKTD_TCP_BIG_TIMEOUT: seconds one bulk transfer may take (default: 120 + 1 s per MiB).
Run: python3 tests/system/test_tcp.py [-k NAME]  (root; PKTD_BUILD_DIR for another build)

What this file assumes of pktd (the lead's names, to adjust here if they differ):
- `pkt --json netstat -an` lists TCP sockets with "protocol" starting "tcp" and "state" a BSD/
  Linux state name (LISTEN, ESTABLISHED, TIME_WAIT...; case, "-" or "_" do not matter), local and
  remote as "A.B.C.D:PORT" (or "*:PORT", or BSD's "A.B.C.D.PORT").
- `pkt --json netstat -s` keeps the group "sockets" with "sockets_open".
- TIME_WAIT belongs to the side that closed first; once an application has closed, its socket
  leaves "sockets_open" and its descriptor in pktd is closed (a TIME_WAIT holds neither).
"""
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pktdtest import (BUILD, PKT, Background, Daemon, NetNs, eventually,  # noqa: E402
                      random_subnet, unique)

PEER_MODE = os.environ.get("PKTD_TCP_PEER") or "pktd"
LINUX_MODE = PEER_MODE == "linux"
if PEER_MODE not in ("pktd", "linux"):
    raise SystemExit(f"PKTD_TCP_PEER={PEER_MODE}: expected pktd or linux")

# An LD_PRELOAD of a sanitizer-built library into python3, curl or iperf3 does not work (the
# sanitizer's runtime must come first in the process): as test_sockets.py, a normal build only.
SANITIZED = bool(os.environ.get("PKTD_SANITIZE"))
NEEDS_PRELOAD = unittest.skipIf(
    SANITIZED and not LINUX_MODE,
    "PKTD_SANITIZE is set: a sanitizer-built libpkt-preload.so cannot be preloaded")
PRELOAD = os.path.join(BUILD, "lib", "libpkt-preload.so")

WAIT = 60  # what one wait may take before the case fails: generous, nothing asserts on it
MIB = 1 << 20
BIG_BYTES = int(os.environ.get("PKTD_TCP_BIG_BYTES", str(1 << 30)))
LOSSY_BYTES = int(os.environ.get("PKTD_TCP_LOSSY_BYTES", str(BIG_BYTES)))
BIG_TIMEOUT = float(os.environ.get("PKTD_TCP_BIG_TIMEOUT", str(120 + BIG_BYTES / MIB)))
STALL = 60  # a bulk transfer whose receiver sees nothing new for this long has failed
# What the kernel counts when pktd sends it something malformed (checked at every cleanup).
PEER_ERRORS = [("Ip", "InHdrErrors"), ("Tcp", "InCsumErrors"), ("Tcp", "InErrs")]

# -------------------------------------------------------------------------------------------
# Programs. Each is python3 -c TEXT ARGS; what it observed is one JSON line on stdout.

# Bulk streams: a deterministic generator (1 MiB of seeded random octets, rotated differently and
# numbered for each MiB, so a lost, repeated or misplaced block changes the hash), its hash, and
# the TCP ends that send or receive it.
#   gen SEED BYTES REPORT            the stream to stdout; {"bytes","sha256"} to REPORT
#   hash REPORT                      stdin hashed; progress lines on stdout; the same to REPORT
#   send HOST PORT SEED BYTES        connects, sends, half-closes, waits for the peer's close
#   recv ADDR PORT                   listens, takes one connection, reads it to its end (progress)
STREAM = r"""
import hashlib, json, random, socket, sys, time

def blocks(seed, total):
    base = random.Random(seed).randbytes(1 << 20)
    done, i = 0, 0
    while done < total:
        k = (i * 7919 * 61) % len(base)
        block = (i.to_bytes(8, "big") + base[k:] + base[:k])[:min(len(base), total - done)]
        done += len(block)
        i += 1
        yield block

def report(path, data):
    text = json.dumps(data)
    if path == "-":
        print(text, flush=True)
    else:
        with open(path, "w") as f:
            f.write(text)

class Counted:
    def __init__(self):
        self.h, self.n, self.next = hashlib.sha256(), 0, 0
        self.start = time.monotonic()
    def add(self, view):
        self.h.update(view)
        self.n += len(view)
        if self.n >= self.next:
            print("progress", self.n, flush=True)
            self.next = self.n + (1 << 20)
    def result(self):
        return {"bytes": self.n, "sha256": self.h.hexdigest(),
                "seconds": round(time.monotonic() - self.start, 3)}

mode, args = sys.argv[1], sys.argv[2:]
if mode == "gen":
    seed, total, path = args[0], int(args[1]), args[2]
    h, n = hashlib.sha256(), 0
    out = sys.stdout.buffer
    for b in blocks(seed, total):
        out.write(b)
        h.update(b)
        n += len(b)
    out.flush()
    report(path, {"bytes": n, "sha256": h.hexdigest()})
elif mode == "hash":
    c, buf = Counted(), bytearray(1 << 20)
    src = sys.stdin.buffer.raw
    while True:
        n = src.readinto(buf)
        if not n:
            break
        c.add(memoryview(buf)[:n])
    report(args[0], c.result())
elif mode == "send":
    host, port, seed, total = args[0], int(args[1]), args[2], int(args[3])
    s = socket.create_connection((host, port), timeout=60)
    s.settimeout(None)
    h, n, start = hashlib.sha256(), 0, time.monotonic()
    for b in blocks(seed, total):
        s.sendall(b)
        h.update(b)
        n += len(b)
    s.shutdown(socket.SHUT_WR)
    rest = s.recv(1)  # the receiver's close: everything arrived
    report("-", {"bytes": n, "sha256": h.hexdigest(), "then": rest.decode(),
                 "seconds": round(time.monotonic() - start, 3)})
elif mode == "recv":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args[0], int(args[1])))
    ls.listen(1)
    print("listening", flush=True)
    s, peer = ls.accept()
    c, buf = Counted(), bytearray(1 << 20)
    while True:
        n = s.recv_into(buf)
        if not n:
            break
        c.add(memoryview(buf)[:n])
    report("-", dict(c.result(), peer=peer[0]))
"""

# An echo server on asyncio (epoll): every connection gets back what it sends, and is closed
# when its peer closes. ADDR PORT; prints "listening".
ECHO_SERVER = r"""
import asyncio, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

async def echo(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(echo, sys.argv[1], int(sys.argv[2]), backlog=4096,
                                        reuse_address=True)
    if not server.sockets:  # asyncio skips a socket() that fails (EPROTONOSUPPORT) in silence
        sys.exit("no listening socket")
    print("listening", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""

# COUNT connections to HOST PORT, all open at once, each sending a token of its own and reading
# it back; then, on a line on stdin, all closed. Prints {"connected","echoed","bad"} then
# {"closed"}.
MANY_CLIENTS = r"""
import json, os, resource, selectors, socket, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
nonce = os.urandom(4).hex()
socks = []
for i in range(count):
    s = socket.create_connection((host, port), timeout=30)
    socks.append(s)
sel = selectors.DefaultSelector()
want, got = {}, {}
for i, s in enumerate(socks):
    token = b"token-%d-%s\n" % (i, nonce.encode())
    s.sendall(token)
    want[s] = token
    got[s] = b""
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
pending = set(socks)
while pending:
    events = sel.select(30)
    if not events:
        break
    for key, _ in events:
        s = key.fileobj
        data = s.recv(4096)
        got[s] += data
        if not data or got[s].endswith(b"\n"):
            sel.unregister(s)
            pending.discard(s)
bad = [i for i, s in enumerate(socks) if got[s] != want[s]]
print(json.dumps({"connected": len(socks), "echoed": count - len(bad), "bad": bad[:10]}),
      flush=True)
sys.stdin.readline()
for s in socks:
    s.close()
print(json.dumps({"closed": len(socks)}), flush=True)
"""

# A server for connect/close cycles: each connection sends one octet, gets it back, and closes;
# the server reads to the end and closes too. ADDR PORT; prints "listening" and runs until
# killed.
CYCLE_SERVER = r"""
import socket, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], int(sys.argv[2])))
ls.listen(4096)
print("listening", flush=True)
while True:
    s, _ = ls.accept()
    try:
        s.settimeout(30)
        data = s.recv(1)
        s.sendall(data)
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
"""

# COUNT cycles of connect, one octet each way, close; the errors by name.
CYCLE_CLIENT = r"""
import errno, json, socket, sys, time
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
errors, done, start = {}, 0, time.monotonic()
for i in range(count):
    s = None
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect((host, port))
        s.sendall(b"c")
        if s.recv(1) != b"c":
            raise OSError(errno.EPROTO, "wrong echo")
        s.close()
        done += 1
    except OSError as e:
        name = errno.errorcode.get(e.errno, str(e.errno)) if e.errno else "timeout"
        errors[name] = errors.get(name, 0) + 1
        if s:
            s.close()
        if sum(errors.values()) > 20:
            break
print(json.dumps({"done": done, "errors": errors,
                  "seconds": round(time.monotonic() - start, 2)}), flush=True)
"""

# A server that greets and closes first, so that its side keeps each connection in TIME_WAIT.
GREET_AND_CLOSE = r"""
import socket, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], int(sys.argv[2])))
ls.listen(16)
print("listening", flush=True)
while True:
    s, _ = ls.accept()
    s.sendall(b"hi")
    s.close()
"""

# COUNT connections to HOST PORT from one local address and port, each read to its end; the
# port is busy for a moment after each (the last ACK of our FIN), so connect is retried then.
SAME_PORT_CLIENT = r"""
import errno, json, socket, sys, time
local, host, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
got, local_port = [], 0
for i in range(count):
    deadline = time.monotonic() + 10
    while True:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(10)
        s.bind((local, local_port))
        try:
            s.connect((host, port))
            break
        except OSError as e:
            s.close()
            if e.errno not in (errno.EADDRNOTAVAIL, errno.EADDRINUSE) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    local_port = s.getsockname()[1]
    data = b""
    while chunk := s.recv(16):
        data += chunk
    s.close()
    got.append(data.decode())
print(json.dumps({"got": got, "port": local_port}), flush=True)
"""

# For the programs below (python3 -c TEXT): a socket read to its end, (octets, sha256 hex).
READ_TO_END = r"""
def read_to_end(s):
    h, n = hashlib.sha256(), 0
    while True:
        data = s.recv(65536)
        if not data:
            return n, h.hexdigest()
        h.update(data)
        n += len(data)
"""

# The peer's end of the error cases: one connection on ADDR PORT, then what MODE says; prints
# "listening", "accepted", then what it saw as JSON.
PEER_SERVER = r"""
import errno, hashlib, json, socket, struct, sys
mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((addr, port))
ls.listen(8)
print("listening", flush=True)
s, _ = ls.accept()
print("accepted", flush=True)
s.settimeout(60)

def outcome(f):
    try:
        v = f()
        return v.decode() if isinstance(v, bytes) else v
    except OSError as e:  # a settimeout expiring has no errno; ETIMEDOUT is TimeoutError too
        return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else "timeout"

""" + READ_TO_END + r"""
def read_line():
    line = b""
    while not line.endswith(b"\n"):
        data = s.recv(1)
        if not data:
            break
        line += data
    return line.decode()

if mode == "hold":              # keeps the connection, says nothing (killed by the test)
    s.recv(1)
elif mode == "reset":           # a line, then an abortive close: RST
    line = read_line()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print(json.dumps({"line": line}), flush=True)
elif mode == "reply_after_eof":  # reads to the end (the peer's FIN), then sends 1 MiB, closes
    n, digest = read_to_end(s)
    s.sendall(bytes(range(256)) * 4096)
    s.close()
    print(json.dumps({"bytes": n, "sha256": digest}), flush=True)
elif mode == "eof_first":       # "hello", our FIN, then reads the peer's data to its end
    s.sendall(b"hello")
    s.shutdown(socket.SHUT_WR)
    n, digest = read_to_end(s)
    print(json.dumps({"bytes": n, "sha256": digest}), flush=True)
elif mode == "expect_reset":    # a line, "ok", then whatever the next read gives
    line = read_line()
    s.sendall(b"ok\n")
    print(json.dumps({"line": line, "next_recv": outcome(lambda: s.recv(100))}), flush=True)
"""

# The error cases on the side under test: `python3 -c ERRORS CASE ARGS_JSON`; the observations
# as JSON. Interactive cases print {"connected": true} and wait for a line on stdin.
ERRORS = r"""
import errno, hashlib, json, select, signal, socket, struct, sys, time
CASE, A = sys.argv[1], json.loads(sys.argv[2])
signal.alarm(int(A["alarm"]))  # never hang a test
PEER = (A["peer"], A["port"])

def name(n):
    return errno.errorcode.get(n, str(n)) if n else None

def outcome(f):
    try:
        v = f()
        return v.decode() if isinstance(v, bytes) else v
    except OSError as e:  # a settimeout expiring has no errno; ETIMEDOUT is TimeoutError too
        return name(e.errno) if e.errno else "timeout"

def tcp():
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)

def so_error(s):
    return name(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))

""" + READ_TO_END + r"""
def refused():
    blocking = outcome(lambda: tcp().connect((A["peer"], A["closed"])))
    s = tcp()
    s.setblocking(False)
    started = name(s.connect_ex((A["peer"], A["closed"])))
    p = select.poll()
    p.register(s, select.POLLOUT)
    events = p.poll(A["wait"] * 1000)
    return {"blocking": blocking, "nonblocking": started, "writable": bool(events),
            "so_error": so_error(s)}

def blackhole():
    s = tcp()
    s.setblocking(False)
    started = name(s.connect_ex((A["nobody"], A["port"])))
    p = select.poll()
    p.register(s, select.POLLOUT)
    t = time.monotonic()
    events = p.poll(1000)
    waited = time.monotonic() - t
    pending = so_error(s)
    s.close()
    b = tcp()
    b.settimeout(1.0)
    blocking = outcome(lambda: b.connect((A["nobody"], A["port"])))
    b.close()
    return {"nonblocking": started, "events": events, "waited_1s": 0.9 <= waited < 5,
            "so_error": pending, "blocking_with_timeout": blocking}

def vanished():
    s = tcp()
    s.connect(PEER)
    if A["how"] == "keepalive":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    else:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 2000)
    print(json.dumps({"connected": True}), flush=True)
    sys.stdin.readline()  # the peer is gone now
    t = time.monotonic()
    if A["how"] == "user_timeout":
        s.sendall(b"u" * 1000)  # unacknowledged data: TCP_USER_TIMEOUT runs
    got = outcome(lambda: s.recv(100))
    return {"recv": got, "seconds": round(time.monotonic() - t, 1)}

def reset_by_peer():
    s = tcp()
    s.connect(PEER)
    s.sendall(b"reset me\n")
    readable = select.select([s], [], [], A["wait"])[0] == [s]
    return {"readable": readable, "recv": outcome(lambda: s.recv(100)),
            "then_send": outcome(lambda: s.send(b"x"))}

def half_close_ours():
    s = tcp()
    s.connect(PEER)
    request = b"request " * 50000
    s.sendall(request)
    s.shutdown(socket.SHUT_WR)
    late = outcome(lambda: s.send(b"late"))
    n, digest = read_to_end(s)
    return {"sent": len(request), "sent_sha256": hashlib.sha256(request).hexdigest(),
            "send_after_shutdown": late, "received": n,
            "received_intact": digest == hashlib.sha256(bytes(range(256)) * 4096).hexdigest()}

def half_close_theirs():
    s = tcp()
    s.connect(PEER)
    first, n = b"", 0
    while True:
        data = s.recv(100)
        if not data:
            break
        first += data
    data = bytes(range(251)) * 4177  # about 1 MiB, after the peer's FIN
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    s.close()
    return {"got": first.decode(), "sent": len(data),
            "sent_sha256": hashlib.sha256(data).hexdigest()}

def abortive_close():
    s = tcp()
    s.connect(PEER)
    local = list(s.getsockname())
    s.sendall(b"bye\n")
    answer = b""
    while not answer.endswith(b"\n"):
        data = s.recv(10)
        if not data:
            break
        answer += data
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    return {"answer": answer.decode(), "local": local}

print(json.dumps(globals()[CASE]()), flush=True)
"""


# -------------------------------------------------------------------------------------------
# Processes

class Program(Background):
    """A command running while the test goes on, in a session of its own (close() ends what it
    forked too), with the waits the cases use."""

    def __init__(self, args, env=None, stdin=subprocess.DEVNULL):
        super().__init__(args, env=env, stdin=stdin, own_session=True)

    def wait(self, timeout=WAIT):
        return super().wait(timeout)

    def wait_for(self, text, timeout=WAIT):
        """Until its output has text (it must not end first)."""
        eventually(lambda: text in self.output() or not self.running(), timeout,
                   f"{text!r} from {shlex.join(self.args)[-200:]}")
        if text not in self.output():
            raise AssertionError(f"ended ({self.proc.poll()}) before {text!r}: "
                                 f"{self.describe()}")

    def json_lines(self):
        return [json.loads(line) for line in self.output().splitlines() if line.startswith("{")]

    def result(self, timeout=WAIT):
        """Its last JSON line, once it has ended with status 0."""
        status = self.wait(timeout)
        if status != 0 or not self.json_lines():
            raise AssertionError(f"status {status}: {self.describe()}")
        return self.json_lines()[-1]


def real_pid(proc, exe):
    """The PID of exe started by proc (`ip netns exec` execs it, but check rather than trust)."""
    pid = proc.pid
    if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == exe:
        return pid
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        for child in f.read().split():
            if os.path.basename(os.readlink(f"/proc/{child}/exe")) == exe:
                return int(child)
    raise AssertionError(f"no {exe} process under {pid}")


# -------------------------------------------------------------------------------------------
# The two stacks

STATE_NAMES = {"ESTAB": "ESTABLISHED", "SYN_RECV": "SYN_RCVD", "SYN_RECEIVED": "SYN_RCVD",
               "FIN_WAIT1": "FIN_WAIT_1", "FIN_WAIT2": "FIN_WAIT_2", "UNCONN": "CLOSED"}


def state_name(state):
    s = state.strip().upper().replace("-", "_").replace(" ", "_")
    return STATE_NAMES.get(s, s)


def split_endpoint(text):
    """("198.18.0.2", 80) from "198.18.0.2:80", "198.18.0.2.80", "*:80", "0.0.0.0:80"."""
    m = re.match(r"^(.*)[.:](\d+|\*)$", text.strip())
    if not m:
        return text, None
    return m.group(1), None if m.group(2) == "*" else int(m.group(2))


class Stacks:
    """The peer (Linux) namespace and the side under test: pktd over a TAP with programs under
    pkt run in the app namespace, or (PKTD_TCP_PEER=linux) the app namespace's own kernel over a
    veth pair. Everything made here is undone at the test's cleanup, failed or not."""

    def __init__(self, test):
        self.test = test
        self.linux_mode = LINUX_MODE
        self.lossy = False  # lose() was called
        self.net = random_subnet()
        self.linux = self.host(1)  # the peer's address
        self.addr = self.host(2)   # the side under test's
        self.nobody = self.host(77)  # in the subnet, owned by no one
        self.tmp = tempfile.mkdtemp(prefix="pktd-tcp-")
        test.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.peer_ns = NetNs()
        test.addCleanup(self.peer_ns.close)
        self.app_ns = NetNs()
        test.addCleanup(self.app_ns.close)
        for ns in (self.peer_ns, self.app_ns):
            ns.ip("link", "set", "lo", "up")
            ns.sysctl("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        if self.linux_mode:
            self.env = dict(os.environ)
            self.peer_dev, self.app_dev = unique("tp")[:15], unique("ta")[:15]
            subprocess.run(["ip", "link", "add", self.peer_dev, "netns", self.peer_ns.name,
                            "type", "veth", "peer", "name", self.app_dev, "netns",
                            self.app_ns.name], check=True)
            self.app_ns.ip("addr", "add", f"{self.addr}/24", "dev", self.app_dev)
            self.app_ns.ip("link", "set", self.app_dev, "up")
            self.d = None
        else:
            self.peer_dev = unique("tt")[:15]
            self.d = Daemon("-t", "2", "-d", f"tap,dev={self.peer_dev}", netns=self.peer_ns.name)
            test.addCleanup(self.d.close)
            self.d.wait_ready()
            self.pid = real_pid(self.d.proc, "pktd")
            self.env = self.d.env
            self.d.pkt("ifconfig", "tap0", f"{self.addr}/24", "up", check=True)
        test.addCleanup(self.finish)  # runs before the namespaces and pktd go
        self.peer_ns.ip("addr", "add", f"{self.linux}/24", "dev", self.peer_dev)
        self.peer_ns.ip("link", "set", self.peer_dev, "up")
        if not self.linux_mode:
            eventually(lambda: "status: active" in self.d.pkt("ifconfig", "tap0").stdout, WAIT,
                       "tap0 link up")
        # Reachable both ways before any case (ARP resolved, links up).
        eventually(lambda: self.peer_ns.run("ping", "-n", "-c", "1", "-W", "1",
                                            self.addr).returncode == 0, WAIT, "ping the side")

    def host(self, n):
        return str(self.net[n])

    # --- programs ---

    def under_test(self, *args):
        """argv running args on the side under test (under pkt run in pktd mode)."""
        wrap = [] if self.linux_mode else [PKT, "run", "--"]
        return ["ip", "netns", "exec", self.app_ns.name, *wrap, *args]

    def shell_word(self, *args):
        """A shell-quoted command for a pipeline in app_shell: args on the side under test."""
        wrap = [] if self.linux_mode else [PKT, "run", "--"]
        return shlex.join([*wrap, *args])

    def local(self, *args, stdin=subprocess.DEVNULL):
        """A program on the side under test while the test goes on (ended at cleanup)."""
        p = Program(self.under_test(*args), env=self.env, stdin=stdin)
        self.test.addCleanup(p.close)
        return p

    def app_shell(self, script, **env):
        """sh -c script in the app namespace (only the words from shell_word use the stack under
        test); env: variables for it, like code for python3 -c."""
        p = Program(["ip", "netns", "exec", self.app_ns.name, "sh", "-c", script],
                    env=dict(self.env, **env))
        self.test.addCleanup(p.close)
        return p

    def peer(self, *args, stdin=subprocess.DEVNULL):
        """A program on the Linux peer while the test goes on (ended at cleanup)."""
        p = Program(["ip", "netns", "exec", self.peer_ns.name, *args], env=dict(os.environ),
                    stdin=stdin)
        self.test.addCleanup(p.close)
        return p

    def peer_iptables(self, *rule):
        self.peer_ns.run("iptables", "-w", *rule, check=True)

    def lose(self, probability):
        """Random loss at the peer, one segment in 1/probability each way, with iptables'
        statistic match in the peer's namespace. Segments from the side under test are dropped
        in INPUT. The peer's own segments cannot be dropped in OUTPUT: netfilter reports that
        drop to the sending socket (EPERM), and Linux's TCP keeps the segment and sends it later,
        so the receiver would never see a gap. They are marked there instead, and the mark routes
        them into a veth pair of the namespace's own that leads nowhere: sent, then lost.
        Both ways one segment per packet: iptables sees a GSO packet (up to 64 KiB of segments)
        as one, and TCP always builds them, segmented later if the device cannot take them:
        gso_max_segs 1 keeps them single segments, and offloads and GRO go off too."""
        self.lossy = True
        p, mark = str(probability), "0x7c"
        for ns, dev in [(self.peer_ns, self.peer_dev)] + \
                ([(self.app_ns, self.app_dev)] if self.linux_mode else []):
            ns.ip("link", "set", "dev", dev, "gso_max_segs", "1")
            ns.run("ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", check=True)
        sink, void = unique("tk")[:15], unique("tv")[:15]
        self.peer_ns.ip("link", "add", sink, "type", "veth", "peer", "name", void)
        for dev in (sink, void):
            self.peer_ns.ip("link", "set", dev, "up")
        self.peer_ns.ip("neigh", "replace", self.addr, "lladdr", "02:00:5e:00:00:7c", "dev", sink,
                        "nud", "permanent")  # a MAC nobody has: the void end drops it at once
        self.peer_ns.ip("route", "add", f"{self.addr}/32", "dev", sink, "table", "124")
        self.peer_ns.ip("rule", "add", "fwmark", mark, "table", "124")
        stat = ["-m", "statistic", "--mode", "random", "--probability", p]
        self.peer_iptables("-A", "INPUT", "-s", self.addr, *stat, "-j", "DROP")
        self.peer_iptables("-t", "mangle", "-A", "OUTPUT", "-d", self.addr, *stat, "-j", "MARK",
                           "--set-mark", mark)

    def dropped(self):
        """Segments lost so far: {"INPUT": dropped, "OUTPUT": sent into the void}."""
        out = {}
        for chain, table, target in (("INPUT", "filter", "DROP"), ("OUTPUT", "mangle", "MARK")):
            text = self.peer_ns.run("iptables", "-w", "-t", table, "-L", chain, "-v", "-n", "-x",
                                    check=True).stdout
            out[chain] = sum(int(line.split()[0]) for line in text.splitlines()
                             if f" {target} " in f" {line} " and line.split()[0].isdigit())
        return out

    def blackhole(self):
        """Everything between the peer and the side under test dropped at the peer."""
        self.peer_iptables("-I", "INPUT", "-s", self.addr, "-j", "DROP")
        self.peer_iptables("-I", "OUTPUT", "-d", self.addr, "-j", "DROP")

    # --- what the side under test has ---

    def connections(self):
        """The side's TCP sockets: [{"state", "local": (addr, port), "remote": (addr, port)}]."""
        out = []
        if self.linux_mode:
            text = self.app_ns.run("ss", "-Htan", check=True).stdout
            for line in text.splitlines():
                f = line.split()
                if len(f) >= 5:
                    out.append({"state": state_name(f[0]), "local": split_endpoint(f[3]),
                                "remote": split_endpoint(f[4])})
        else:
            for e in self.d.pkt_json("netstat", "-an"):
                if str(e.get("protocol", "")).lower().startswith("tcp"):
                    out.append({"state": state_name(str(e.get("state", ""))),
                                "local": split_endpoint(e["local"]),
                                "remote": split_endpoint(e.get("remote", ""))})
        return out

    def listening(self, port):
        return any(c["state"] == "LISTEN" and c["local"][1] == port for c in self.connections())

    def wait_listening(self, port, program):
        eventually(lambda: self.listening(port) or not program.running(), WAIT,
                   f"a listener on port {port}")
        if not program.running():
            raise AssertionError(f"ended ({program.proc.poll()}): {program.describe()}")

    def peer_listening(self, port):
        return f":{port} " in self.peer_ns.run("ss", "-Htln", check=True).stdout

    def wait_peer_listening(self, port, program):
        program.wait_for("listening")
        eventually(lambda: self.peer_listening(port), WAIT, f"the peer listening on {port}")

    def resources(self):
        """What the side holds for applications' sockets: pktd's descriptors and its open
        sockets; in Linux mode the namespace's TCP sockets in use (not TIME_WAIT) twice."""
        if self.linux_mode:
            text = self.app_ns.run("cat", "/proc/net/sockstat", check=True).stdout
            inuse = int(re.search(r"^TCP: inuse (\d+)", text, re.MULTILINE).group(1))
            return {"fds": inuse, "sockets_open": inuse}
        return {"fds": self.pktd_fds(),
                "sockets_open": self.d.counters()["sockets"]["sockets_open"]}

    def pktd_fds(self):
        """pktd's descriptors, less its control connections (pkt's own, which pktd closes a
        moment after pkt has gone: counting them would make every reading differ)."""
        control = os.path.join(self.d.rundir, self.d.instance + ".sock")
        connections = set()
        with open(f"/proc/{self.pid}/net/unix") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if len(fields) >= 8 and fields[7] == control and int(fields[3], 16) & 0x10000 == 0:
                    connections.add(fields[6])  # not the listener (__SO_ACCEPTCON): a client
        count = 0
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                target = os.readlink(f"/proc/{self.pid}/fd/{fd}")
            except FileNotFoundError:
                continue
            m = re.match(r"socket:\[(\d+)\]$", target)
            count += not (m and m.group(1) in connections)
        return count

    def alive(self):
        if self.linux_mode:
            return True
        return self.d.proc.poll() is None

    # --- the end ---

    def peer_counters(self):
        """The peer's /proc/net/snmp and /proc/net/netstat: {group: {name: value}}."""
        out = {}
        for path in ("/proc/net/snmp", "/proc/net/netstat"):
            lines = self.peer_ns.run("cat", path, check=True).stdout.splitlines()
            for names, values in zip(lines[::2], lines[1::2]):
                group, names = names.split(":")
                out[group] = dict(zip(names.split(), map(int, values.split(":")[1].split())))
        return out

    def finish(self):
        """Nothing the side sent was malformed in the kernel's eyes, and pktd stops cleanly."""
        counters = self.peer_counters()
        # Linux counts a SYN on a synchronized connection in InErrs as well as in
        # TCPSYNChallenge (RFC 5961 4): under loss, a SYN-ACK resent because the peer's ACK was
        # lost does that, and is no error of the side's. Without loss nothing may excuse one.
        if self.lossy:
            counters["Tcp"]["InErrs"] = max(0, counters["Tcp"].get("InErrs", 0) -
                                            counters.get("TcpExt", {}).get("TCPSYNChallenge", 0))
        bad = {f"{g}.{n}": counters[g][n] for g, n in PEER_ERRORS if counters[g].get(n)}
        if not self.linux_mode:
            alive = self.d.proc.poll() is None
            status = self.d.stop()
            self.test.assertTrue(alive, f"pktd died during the test:\n{self.d.output()[-6000:]}")
            self.test.assertEqual(status, 0, self.d.output()[-6000:])
        self.test.assertEqual(bad, {}, "the peer's kernel found errors in what the side sent")


class Fixture(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        timed(self)
        if not LINUX_MODE:
            self.assertTrue(os.path.exists(PRELOAD), f"{PRELOAD} is not built")
        self.s = Stacks(self)


def timed(test):
    """PKTD_TCP_TIMES=1: prints how long the case took, set-up and clean-up included."""
    if os.environ.get("PKTD_TCP_TIMES"):
        started = time.monotonic()
        test.addCleanup(lambda: print(f"\n  [{test.id().split('.', 1)[1]}: "
                                      f"{time.monotonic() - started:.1f} s, peer={PEER_MODE}]",
                                      file=sys.stderr, flush=True))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


# -------------------------------------------------------------------------------------------
# The cases

@NEEDS_PRELOAD
class Http(Fixture):
    SIZE = 5 * MIB + 12345  # a few MiB, not a multiple of any buffer

    def site(self):
        site = os.path.join(self.s.tmp, "site")
        os.mkdir(site)
        with open(os.path.join(site, "blob"), "wb") as f:
            f.write(os.urandom(self.SIZE))
        return site, sha256_file(os.path.join(site, "blob"))

    def curl(self, url, out):
        return ["curl", "--noproxy", "*", "-sS", "--fail", "--max-time", str(WAIT), "-o", out, url]

    def test_linux_curl_fetches_from_http_server_on_the_side(self):
        s = self.s
        site, digest = self.site()
        server = s.local("python3", "-m", "http.server", "--bind", s.addr, "--directory", site,
                         "8080")
        s.wait_listening(8080, server)
        out = os.path.join(s.tmp, "fetched")
        curl = s.peer(*self.curl(f"http://{s.addr}:8080/blob", out))
        self.assertEqual(curl.wait(WAIT + 10), 0, curl.errors())
        self.assertEqual(os.path.getsize(out), self.SIZE)
        self.assertEqual(sha256_file(out), digest)
        self.assertTrue(server.running(), server.errors())
        self.assertIn('"GET /blob HTTP/1.1" 200', server.errors())

    def test_curl_on_the_side_fetches_from_linux_http_server(self):
        s = self.s
        site, digest = self.site()
        server = s.peer("python3", "-m", "http.server", "--bind", s.linux, "--directory", site,
                        "8081")
        eventually(lambda: s.peer_listening(8081) or not server.running(), WAIT, "http.server")
        self.assertTrue(server.running(), server.errors())
        out = os.path.join(s.tmp, "fetched")
        curl = s.local(*self.curl(f"http://{s.linux}:8081/blob", out))
        self.assertEqual(curl.wait(WAIT + 10), 0, curl.errors())
        self.assertEqual(os.path.getsize(out), self.SIZE)
        self.assertEqual(sha256_file(out), digest)
        self.assertIn(f'{s.addr} - - ', server.errors())  # it came from the side's address


@NEEDS_PRELOAD
class Iperf(Fixture):
    """iperf3 both ways, each end on either side, with its JSON reports: no error, the sender sent
    exactly what it was told, the receiver got it. iperf3 (3.12) asks getsockopt TCP_INFO,
    TCP_CONGESTION, TCP_MAXSEG, SO_SNDBUF and SO_RCVBUF and sets TCP_NODELAY and SO_REUSEADDR;
    a failing TCP_INFO is an "error" in its JSON.

    A receiving iperf3 server stops counting when the client's TEST_END arrives, so what was still
    in buffers is not in its total: Linux to Linux over veth, 200 MiB, it reports about 4.6 MiB
    less. So the receiver's count must be at most the sender's and within SLACK of it (the data
    itself is checked octet for octet by Bulk); a receiving client counts everything."""
    PORT = 5201
    BYTES = 200 * MIB
    RUN = ["-n", "200M"]  # a byte count: the sender's total is exact
    SLACK = 32 * MIB

    def reports(self, program, who):
        try:
            report = json.loads(program.output())
        except json.JSONDecodeError:
            raise AssertionError(f"{who}: no JSON:\n{program.output()[-1500:]}"
                                 f"{program.errors()[-1500:]}") from None
        self.assertNotIn("error", report, f"{who}: {report.get('error')}")
        return report["end"]

    def run_pair(self, server_on_side, reverse):
        s = self.s
        server_args = ["iperf3", "-s", "-1", "-J", "-p", str(self.PORT),
                       "-B", s.addr if server_on_side else s.linux]
        client_args = ["iperf3", "-c", s.addr if server_on_side else s.linux, "-p",
                       str(self.PORT), "-J", *self.RUN, "--connect-timeout", "10000",
                       *(["-R"] if reverse else [])]
        if server_on_side:
            server = s.local(*server_args)
            s.wait_listening(self.PORT, server)
            client = s.peer(*client_args)
        else:
            server = s.peer(*server_args)
            eventually(lambda: s.peer_listening(self.PORT) or not server.running(), WAIT,
                       "iperf3 -s")
            client = s.local(*client_args)
        # The client first: when it fails (it may exit 0 with an "error" in its JSON), the
        # server would wait for it for ever.
        client_status = client.wait(WAIT * 3)
        c = self.reports(client, "client")
        self.assertEqual(client_status, 0, f"client: {client.output()[-1500:]}{client.errors()}")
        self.assertEqual(server.wait(WAIT), 0, f"server: {server.output()[-1500:]}"
                                                f"{server.errors()}")
        sv = self.reports(server, "server")
        sent, received = c["sum_sent"]["bytes"], c["sum_received"]["bytes"]
        # -n is a floor: the sender may finish the block it is writing (128 KiB).
        self.assertGreaterEqual(sent, self.BYTES)
        self.assertLessEqual(sent, self.BYTES + 2 * 131072)
        if reverse:  # the client received, and counted everything
            self.assertEqual(received, sent)
            self.assertEqual(sv["sum_sent"]["bytes"], sent)
        else:        # the server received: what reached it before TEST_END
            self.assertLessEqual(received, sent)
            self.assertGreaterEqual(received, sent - self.SLACK)
            self.assertEqual(sv["sum_received"]["bytes"], received)
        if os.environ.get("PKTD_TCP_TIMES"):
            seconds = c["sum_received"]["seconds"]
            print(f"\n  [iperf3 {8 * received / seconds / 1e9:.2f} Gbit/s]", file=sys.stderr)

    def test_server_on_the_side(self):
        self.run_pair(server_on_side=True, reverse=False)

    def test_server_on_the_side_reverse(self):
        self.run_pair(server_on_side=True, reverse=True)

    def test_client_on_the_side(self):
        self.run_pair(server_on_side=False, reverse=False)

    def test_client_on_the_side_reverse(self):
        self.run_pair(server_on_side=False, reverse=True)


@NEEDS_PRELOAD
class Bulk(Fixture):
    """PKTD_TCP_BIG_BYTES (1 GiB) each way through socat on the side under test, hashed at both
    ends while streaming (nothing stored), clean and with random loss at the peer."""
    PORT = 6000

    def transfer(self, to_linux, loss=0.0):
        s = self.s
        self.size = LOSSY_BYTES if loss else BIG_BYTES
        self.timeout = BIG_TIMEOUT if self.size == BIG_BYTES else 120 + self.size / MIB
        if loss:
            s.lose(loss)
        seed = uuid.uuid4().hex
        report = os.path.join(s.tmp, "report")
        stream = 'python3 -c "$TCP_STREAM"'
        if to_linux:
            receiver = s.peer("python3", "-c", STREAM, "recv", s.linux, str(self.PORT))
            s.wait_peer_listening(self.PORT, receiver)
            sender = s.app_shell(
                f"{stream} gen {seed} {self.size} {report} | " +
                s.shell_word("socat", "-u", "-b", "262144", "STDIN",
                             f"TCP4:{s.linux}:{self.PORT}"), TCP_STREAM=STREAM)
            progress = receiver
        else:
            receiver = s.app_shell(
                s.shell_word("socat", "-u", "-b", "262144",
                             f"TCP4-LISTEN:{self.PORT},bind={s.addr},reuseaddr", "STDOUT") +
                f" | {stream} hash {report}", TCP_STREAM=STREAM)
            s.wait_listening(self.PORT, receiver)
            sender = s.peer("python3", "-c", STREAM, "send", s.addr, str(self.PORT), seed,
                            str(self.size))
            progress = receiver
        start = time.monotonic()
        self.watch(progress, [sender, receiver], start)
        for p in (sender, receiver):
            self.assertEqual(p.wait(WAIT), 0, f"{shlex.join(p.args)[-200:]}:\n{p.errors()[-3000:]}")
        with open(report) as f:
            local = json.load(f)
        remote = (receiver if to_linux else sender).json_lines()[-1]
        sent, got = (local, remote) if to_linux else (remote, local)
        self.assertEqual(sent["bytes"], self.size)
        self.assertEqual(got["bytes"], self.size, f"received {got['bytes']} of {self.size}")
        self.assertEqual(got["sha256"], sent["sha256"])
        if to_linux:
            self.assertEqual(remote["peer"], s.addr)
        if loss:  # the loss happened, both ways
            dropped = s.dropped()
            self.assertTrue(dropped["INPUT"] > 0 and dropped["OUTPUT"] > 0, dropped)
        if os.environ.get("PKTD_TCP_TIMES"):
            seconds = time.monotonic() - start
            print(f"\n  [{self.size / MIB:.0f} MiB {'to' if to_linux else 'from'} Linux, loss "
                  f"{loss:.0%}: {seconds:.1f} s, {8 * self.size / seconds / 1e9:.2f} Gbit/s, "
                  f"dropped {s.dropped() if loss else 0}]", file=sys.stderr)

    def watch(self, progress, programs, start):
        """Until every program has ended; fails on a stall (the receiver's count standing still
        for STALL s) or after self.timeout."""
        last, since = -1, time.monotonic()

        def received():
            lines = re.findall(r"^progress (\d+)$", progress.output(), re.MULTILINE)
            return int(lines[-1]) if lines else 0

        def done():
            nonlocal last, since
            now = time.monotonic()
            n = received()
            if n > last:
                last, since = n, now
            if now - since > STALL:
                raise AssertionError(f"stalled at {last} of {self.size} octets for {STALL} s")
            if any(p.proc.poll() not in (None, 0) for p in programs):
                return True  # one failed: its status is checked next
            return all(p.proc.poll() is not None for p in programs)

        eventually(done, self.timeout, f"{self.size} octets within {self.timeout:.0f} s")

    def test_to_linux(self):
        self.transfer(to_linux=True)

    def test_from_linux(self):
        self.transfer(to_linux=False)

    def test_to_linux_1_percent_loss(self):
        self.transfer(to_linux=True, loss=0.01)

    def test_from_linux_1_percent_loss(self):
        self.transfer(to_linux=False, loss=0.01)

    def test_to_linux_5_percent_loss(self):
        self.transfer(to_linux=True, loss=0.05)

    def test_from_linux_5_percent_loss(self):
        self.transfer(to_linux=False, loss=0.05)


@NEEDS_PRELOAD
class PathMtu(Fixture):
    PORT = 5301
    SIZE = 16 * MIB
    NARROW = 1280

    def far_side(self):
        """A third namespace behind the peer, which routes to it over a veth pair whose near
        end has MTU NARROW; the far end keeps 1500 and announces its MSS from that, so only
        path MTU discovery can find the narrow hop. Returns the far end's address."""
        s = self.s
        far_net = random_subnet(s.net)
        router, far = str(far_net[1]), str(far_net[2])
        self.far_ns = NetNs()
        self.addCleanup(self.far_ns.close)
        self.far_ns.ip("link", "set", "lo", "up")
        near_dev, far_dev = unique("tr")[:15], unique("tf")[:15]
        subprocess.run(["ip", "link", "add", near_dev, "netns", s.peer_ns.name, "type", "veth",
                        "peer", "name", far_dev, "netns", self.far_ns.name], check=True)
        for ns, dev, addr, mtu in ((s.peer_ns, near_dev, router, self.NARROW),
                                   (self.far_ns, far_dev, far, 1500)):
            ns.ip("addr", "add", f"{addr}/24", "dev", dev)
            ns.ip("link", "set", dev, "mtu", str(mtu), "up")
        self.far_ns.ip("route", "add", "default", "via", router)
        s.peer_ns.sysctl("net.ipv4.ip_forward=1")
        if s.linux_mode:
            s.app_ns.ip("route", "add", str(far_net), "via", s.linux)
        else:
            s.d.pkt("route", "add", "-net", str(far_net), s.linux, check=True)
        return far

    def icmp_frag_needed_sent(self):
        return self.s.peer_counters()["IcmpMsg"].get("OutType3", 0)

    def test_a_narrower_link_behind_the_peer_shrinks_the_segments(self):
        """RFC 1191: the side sends full-sized segments with DF set; the peer, a router here,
        answers those too big for the narrow link with fragmentation needed (Linux does not
        rate-limit those), and the side goes on in smaller segments: every octet arrives."""
        s = self.s
        far = self.far_side()
        receiver = Program(["ip", "netns", "exec", self.far_ns.name, "python3", "-c", STREAM,
                            "recv", far, str(self.PORT)], env=dict(os.environ))
        self.addCleanup(receiver.close)
        receiver.wait_for("listening")
        eventually(lambda: f":{self.PORT} " in self.far_ns.run("ss", "-Htln").stdout, WAIT,
                   "the far end listening")
        seed, report = uuid.uuid4().hex, os.path.join(s.tmp, "report")
        sender = s.app_shell(
            f'python3 -c "$TCP_STREAM" gen {seed} {self.SIZE} {report} | ' +
            s.shell_word("socat", "-u", "-b", "262144", "STDIN", f"TCP4:{far}:{self.PORT}"),
            TCP_STREAM=STREAM)
        for p in (sender, receiver):
            self.assertEqual(p.wait(WAIT * 2), 0, f"{p.describe()}")
        with open(report) as f:
            sent = json.load(f)
        got = receiver.json_lines()[-1]
        self.assertEqual(got["bytes"], self.SIZE)
        self.assertEqual(got["sha256"], sent["sha256"])
        self.assertGreater(self.icmp_frag_needed_sent(), 0, "no segment was too big: no test")
        if not s.linux_mode:
            self.assertGreater(s.d.counters()["tcp"]["pmtu_updates"], 0)


@NEEDS_PRELOAD
class Many(Fixture):
    def test_a_thousand_concurrent_connections(self):
        s = self.s
        port, count = 7000, 1000
        before = s.resources()
        server = s.local("python3", "-c", ECHO_SERVER, s.addr, str(port))
        s.wait_listening(port, server)
        with_server = s.resources()
        clients = s.peer("python3", "-c", MANY_CLIENTS, s.addr, str(port), str(count),
                         stdin=subprocess.PIPE)
        clients.wait_for("echoed", WAIT * 2)
        got = clients.json_lines()[0]
        self.assertEqual(got, {"connected": count, "echoed": count, "bad": []}, clients.errors())

        def established():
            return [c for c in s.connections()
                    if c["local"][1] == port and c["state"] == "ESTABLISHED"]
        self.assertEqual(len(established()), count)
        self.assertEqual({c["remote"][0] for c in established()}, {s.linux})
        clients.say("close")
        self.assertEqual(clients.result(), {"closed": count})

        # All closed by Linux first: nothing of them stays on the side (no TIME_WAIT here).
        def only_the_listener():
            return [c for c in s.connections() if c["local"][1] == port] == \
                [c for c in s.connections() if c["local"][1] == port and c["state"] == "LISTEN"]
        eventually(only_the_listener, WAIT, "the side's connections to close")
        eventually(lambda: s.resources() == with_server, WAIT,
                   f"descriptors and sockets back to {with_server} (are {s.resources()})")
        self.assertTrue(server.running(), server.errors())
        server.close()
        eventually(lambda: s.resources() == before, WAIT,
                   f"descriptors and sockets back to {before} (are {s.resources()})")
        eventually(lambda: s.connections() == [], WAIT, "no TCP sockets at all")

    def test_ten_thousand_connect_close_cycles(self):
        s = self.s
        port, count = 7001, 10000
        server = s.peer("python3", "-c", CYCLE_SERVER, s.linux, str(port))
        s.wait_peer_listening(port, server)
        before = s.resources()
        client = s.local("python3", "-c", CYCLE_CLIENT, s.linux, str(port), str(count))
        got = client.result(WAIT * 10)
        self.assertEqual((got["done"], got["errors"]), (count, {}), got)
        # The side closed first: TIME_WAIT may remain (counted), nothing else.
        eventually(lambda: s.resources() == before, WAIT,
                   f"descriptors and sockets back to {before} (are {s.resources()})")

        def left():
            states = [c["state"] for c in s.connections()]
            return [st for st in states if st != "TIME_WAIT"], states.count("TIME_WAIT")
        eventually(lambda: left()[0] == [], WAIT, "no connection but TIME_WAIT ones")
        others, time_wait = left()
        self.assertLessEqual(time_wait, count)
        if os.environ.get("PKTD_TCP_TIMES"):
            print(f"\n  [{count} cycles in {got['seconds']} s; {time_wait} in TIME_WAIT after]",
                  file=sys.stderr)
        self.assertTrue(server.running(), server.errors())

    def test_a_new_syn_reopens_a_pair_in_time_wait(self):
        """RFC 6191 / RFC 1122 4.2.2.13: the side closes first and holds TIME_WAIT; the Linux
        client connects again from the same port with a higher sequence number, and the side
        accepts it instead of refusing the pair for the 60 s of TIME_WAIT."""
        s = self.s
        port, count = 7002, 3
        server = s.local("python3", "-c", GREET_AND_CLOSE, s.addr, str(port))
        s.wait_listening(port, server)
        client = s.peer("python3", "-c", SAME_PORT_CLIENT, s.linux, s.addr, str(port), str(count))
        got = client.result(WAIT)
        self.assertEqual(got["got"], ["hi"] * count, got)
        if not s.linux_mode:
            self.assertEqual(s.d.counters()["tcp"]["time_wait_recycled"], count - 1)
        self.assertIn("TIME_WAIT", [c["state"] for c in s.connections()
                                    if c["remote"] == (s.linux, got["port"])])


@NEEDS_PRELOAD
class Errors(Fixture):
    """Each error as Linux gives it."""
    PORT = 7100

    def args(self, **extra):
        return json.dumps({"peer": self.s.linux, "port": self.PORT, "wait": 10,
                           "alarm": WAIT, **extra})

    def errors_case(self, case, stdin=subprocess.DEVNULL, **extra):
        return self.s.local("python3", "-c", ERRORS, case, self.args(**extra), stdin=stdin)

    def peer_server(self, mode):
        server = self.s.peer("python3", "-c", PEER_SERVER, mode, self.s.linux, str(self.PORT))
        self.s.wait_peer_listening(self.PORT, server)
        return server

    def test_connection_refused(self):
        got = self.errors_case("refused", closed=7199).result()
        self.assertEqual(got, {"blocking": "ECONNREFUSED", "nonblocking": "EINPROGRESS",
                               "writable": True, "so_error": "ECONNREFUSED"})

    def test_an_address_that_does_not_answer(self):
        got = self.errors_case("blackhole", nobody=self.s.nobody).result()
        self.assertEqual(got, {"nonblocking": "EINPROGRESS", "events": [], "waited_1s": True,
                               "so_error": None, "blocking_with_timeout": "timeout"})
        # Closed while connecting: nothing stays behind.
        eventually(lambda: [c for c in self.s.connections()
                            if c["remote"][0] == self.s.nobody] == [], WAIT,
                   "the connecting sockets to go")

    def vanishing_peer(self, how):
        server = self.peer_server("hold")
        client = self.errors_case("vanished", stdin=subprocess.PIPE, how=how)
        client.wait_for("connected")
        server.wait_for("accepted")
        self.s.blackhole()  # then the peer's process dies: its FIN cannot leave either
        server.close()
        client.say("go")
        got = client.result()
        self.assertEqual(got["recv"], "ETIMEDOUT", got)
        self.assertLess(got["seconds"], 10, got)
        eventually(lambda: [c for c in self.s.connections() if c["remote"][1] == self.PORT]
                   == [], WAIT, "the timed-out connection to go")

    def test_keepalive_times_out_a_vanished_peer(self):
        self.vanishing_peer("keepalive")

    def test_user_timeout_times_out_a_vanished_peer(self):
        self.vanishing_peer("user_timeout")

    def test_reset_by_peer(self):
        server = self.peer_server("reset")
        got = self.errors_case("reset_by_peer").result()
        self.assertEqual(server.result(), {"line": "reset me\n"})
        self.assertEqual(got, {"readable": True, "recv": "ECONNRESET", "then_send": "EPIPE"})

    def test_half_close_we_shut_down_writing_the_peer_still_sends(self):
        server = self.peer_server("reply_after_eof")
        got = self.errors_case("half_close_ours").result()
        heard = server.result()
        self.assertEqual(got["send_after_shutdown"], "EPIPE")
        self.assertEqual((got["received"], got["received_intact"]), (MIB, True))
        self.assertEqual(heard, {"bytes": got["sent"], "sha256": got["sent_sha256"]})

    def test_half_close_the_peer_shuts_down_writing_we_still_send(self):
        server = self.peer_server("eof_first")
        got = self.errors_case("half_close_theirs").result()
        heard = server.result()
        self.assertEqual(got["got"], "hello")
        self.assertEqual(heard, {"bytes": got["sent"], "sha256": got["sent_sha256"]})

    def test_so_linger_zero_resets_the_peer(self):
        server = self.peer_server("expect_reset")
        got = self.errors_case("abortive_close").result()
        self.assertEqual(got["answer"], "ok\n")
        self.assertEqual(server.result(), {"line": "bye\n", "next_recv": "ECONNRESET"})
        # An abortive close leaves no TIME_WAIT (nor anything else) behind.
        eventually(lambda: [c for c in self.s.connections()
                            if c["local"][1] == got["local"][1]] == [], WAIT,
                   "the reset connection to go")


if __name__ == "__main__":
    unittest.main(verbosity=2)

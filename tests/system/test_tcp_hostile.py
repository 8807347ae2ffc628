"""Hostile TCP from the Linux side: segments python3-scapy crafts in the peer namespace and sends
straight at the side under test (pktd, or with PKTD_TCP_PEER=linux the app namespace's kernel;
test_tcp.py describes both), to a listener and into an established connection: bad checksums,
data offsets below 5 and beyond the segment, option lengths that lie, blind RSTs and SYNs
(RFC 5961), segments and ACKs outside the window, and a SYN flood. After every case the
established connection still carries data intact, the side is alive, and its counters show the
drop.

The established connection (the "victim") is a real one: a Linux socket in the peer namespace
connected to an echo server on the side; each case ends with 64 KiB echoed through it, so a
hostile segment that was taken as data shows as a wrong echo. Its sequence numbers come from the
last segment the side sent on it, which the scapy helper (one AF_PACKET socket on the peer's end
of the link, for the whole class) has seen. Handshakes that scapy starts come from SPOOF (.3 of
the subnet), which no one owns: the side's neighbour entry for it is pinned to the peer's MAC,
and the peer's kernel drops what it gets for an address not its own (no RST spoils a flood).

Most cases end their segments with a marker echo request: the side handles input in order, so
once the marker's reply is back, every segment before it has been handled and counted.

Counters: what the side counts for each case is named loosely (COUNTERS below), because pktd's
TCP counters are being written: in pktd mode a case passes when some counter of `pkt netstat -s`'s
group "tcp" whose name contains one of the case's words moved; in Linux mode, when one of the
kernel counters named moved (None: Linux counts nothing for this case, so only the behaviour is
checked there).
"""
import json
import os
import random
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scapytest  # noqa: E402
from pktdtest import eventually  # noqa: E402
from test_tcp import (ECHO_SERVER, LINUX_MODE, NEEDS_PRELOAD, PEER_MODE, PRELOAD,  # noqa: E402
                      Stacks, timed)

HELPER_FLAG = "--segments-helper"
TIMEOUT = 20          # one wait for the side's answer
WAIT = 60
LISTEN_PORT = 8000    # the echo server the victim is connected to
FLOOD_PORT = 8001     # a listener with a backlog of 16, for the SYN flood
FLOOD_SYNS = 3000
ECHO_BYTES = 65536

# The group of `pkt netstat -s` that holds TCP's counters (pktd), and for each case the words
# one of the counters it should move contains (pktd; today's names are in
# transport/tcp/counters.h), or the kernel counters (Linux mode; None: Linux counts nothing for
# this case). Adjust here when names change.
PKTD_GROUP = "tcp"
COUNTERS = {
    "bad_checksum": (["checksum"], ["Tcp.InCsumErrors"]),
    "data_offset_short": (["offset"], ["Tcp.InErrs"]),
    "data_offset_long": (["offset", "truncated"], None),
    "lying_options": (["option"], None),
    "rst_in_window": (["rst_in_window", "challenge_acks"],
                      ["TcpExt.TCPChallengeACK", "TcpExt.TCPACKSkippedChallenge"]),
    "rst_out_of_window": (["rst_out_of_window"], None),
    "syn_on_established": (["syn_in_window"], ["TcpExt.TCPSYNChallenge"]),
    "data_outside_window": (["not_acceptable", "beyond_window", "duplicate_segments"], None),
    "ack_of_unsent_data": (["ack_too_new", "unsent"], None),
    "ack_too_old": (["ack_too_old"],
                    ["TcpExt.TCPChallengeACK", "TcpExt.TCPACKSkippedChallenge"]),
    "syn_flood": (["cookies_sent", "syn_queue_full", "listen_overflows", "listen_drops"],
                  ["TcpExt.SyncookiesSent", "TcpExt.TCPReqQFullDoCookies",
                   "TcpExt.TCPReqQFullDrop", "TcpExt.ListenOverflows", "TcpExt.ListenDrops"]),
}
# Counters of the "tcp" group that count traffic, not trouble: never taken for a case's drop even
# if one of its words matches (a SYN received is counted whether or not it is dropped). Again
# loose, pktd's names being written: totals of segments, octets and flags received or sent,
# opens, and gauges. Not excluded: what names a response to trouble ("challenge_acks_sent",
# "syn_cookies_sent", "dup_acks_sent").
TRAFFIC = re.compile(r"^((received|sent|delivered)|"
                     r"(segments|bytes|octets|packets|data_segments|data_bytes|syns|syn_acks|acks|"
                     r"pure_acks|resets|rsts|fins|retransmits|retransmitted|window_updates)"
                     r"_(received|sent)|(active|passive)_opens|connections_\w+|accepted|"
                     r"established|open|listening|time_wait)$")

# Linux's side: the victim, a connection to the side's echo server. Prints {"port"}; then per
# line N on stdin, N random octets echoed: {"ok", "got", "extra"} (extra: octets beyond the echo,
# which a hostile segment taken as data would leave).
VICTIM = r"""
import json, os, socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print(json.dumps({"port": s.getsockname()[1]}), flush=True)
for line in sys.stdin:
    n = int(line)
    data = os.urandom(n)
    got, error = b"", None
    try:
        s.settimeout(30)
        s.sendall(data)
        while len(got) < n:
            chunk = s.recv(n - len(got))
            if not chunk:
                break
            got += chunk
        s.settimeout(0.05)
        try:
            extra = len(s.recv(65536))
        except socket.timeout:
            extra = 0
    except OSError as e:
        error, extra = str(e), 0
    print(json.dumps({"ok": got == data, "got": len(got), "extra": extra, "error": error}),
          flush=True)
"""

# Linux's side, during the flood: connections to HOST PORT one after another (connect, one octet
# each way, close) until a line on stdin; one JSON line each: {"t" (monotonic start), "ok",
# "error"}.
LOOP_CLIENT = r"""
import json, select, socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
while not select.select([sys.stdin], [], [], 0)[0]:
    t = time.monotonic()
    try:
        s = socket.create_connection((host, port), timeout=10)
        s.settimeout(10)
        s.sendall(b"f")
        ok = s.recv(1) == b"f"
        s.close()
        print(json.dumps({"t": t, "ok": ok, "error": None}), flush=True)
    except OSError as e:
        print(json.dumps({"t": t, "ok": False, "error": str(e)}), flush=True)
"""

# On the side: a threaded echo server with a listen backlog of 16 (the flood's target).
SMALL_BACKLOG_SERVER = r"""
import socketserver, sys

class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)

class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 16

with Server((sys.argv[1], int(sys.argv[2])), Echo) as server:
    print("listening", flush=True)
    server.serve_forever()
"""

# --------------------------------------------------------------------------------------------
# The helper: runs inside the peer namespace under a python3 with scapy.

HELPER_CODE = r'''
def eth():
    return Ether(src=MY_MAC, dst=SIDE_MAC)


def seg(src=None, sport=0, dport=0, flags="A", seq=0, ack=0, window=65535, payload=b"", **tcp):
    """Ether/IP/TCP to the side, sequence numbers taken modulo 2^32."""
    p = eth() / IP(src=src or PEER_IP, dst=SIDE_IP) / TCP(
        sport=sport, dport=dport, flags=flags, seq=seq % 2**32, ack=ack % 2**32,
        window=window, **tcp)
    return p / Raw(payload) if payload else p


def bad_checksum(p):
    good = Ether(bytes(p))[TCP].chksum
    p = p.copy()
    p[TCP].chksum = good ^ 0x5555
    return p


def syn_flood(n, dport):
    """n SYNs from SPOOF_IP, random source ports and sequence numbers, MSS option."""
    template = bytearray(bytes(seg(src=SPOOF_IP, sport=1, dport=dport, flags="S", seq=0,
                                   options=[("MSS", 1460)])))
    pseudo = bytes(template[26:34]) + b"\x00\x06" + (len(template) - 34).to_bytes(2, "big")
    out = []
    for _ in range(n):
        template[34:36] = random.randrange(1024, 65536).to_bytes(2, "big")
        template[38:42] = random.getrandbits(32).to_bytes(4, "big")
        template[50:52] = b"\0\0"
        template[50:52] = checksum16(pseudo + bytes(template[34:])).to_bytes(2, "big")
        out.append(bytes(template))
    return out
'''


def segments_helper(config):
    import scapy.all as scapy
    scapy.conf.verb = 0
    dev = config["dev"]
    env = dict(vars(scapy))
    env.update(SIDE_MAC=config["side_mac"], SIDE_IP=config["side_ip"], PEER_IP=config["peer_ip"],
               SPOOF_IP=config["spoof_ip"], MY_MAC=scapy.get_if_hwaddr(dev), random=random,
               checksum16=scapytest.checksum16)
    exec(HELPER_CODE, env)
    Ether, IP, ICMP, TCP = scapy.Ether, scapy.IP, scapy.ICMP, scapy.TCP
    link = scapytest.Link(dev, config["side_mac"])  # only what the side sends
    flows = {}  # (side port, peer address, peer port) -> the side's last segment on it
    marker_seq = [0]

    def describe(p):
        d = {"summary": p.summary()}
        if IP in p:
            d["ip"] = {"src": p[IP].src, "dst": p[IP].dst}
        if TCP in p:
            t = p[TCP]
            d["tcp"] = {"sport": int(t.sport), "dport": int(t.dport), "seq": int(t.seq),
                        "ack": int(t.ack), "flags": str(t.flags), "window": int(t.window),
                        # from the lengths: a short frame's Ethernet padding is not data
                        "len": int(p[IP].len) - 4 * int(p[IP].ihl) - 4 * int(t.dataofs)}
            flows[(d["tcp"]["sport"], d["ip"]["dst"], d["tcp"]["dport"])] = d["tcp"]
        if ICMP in p:
            d["icmp"] = {"type": int(p[ICMP].type), "id": int(getattr(p[ICMP], "id", 0) or 0),
                         "seq": int(getattr(p[ICMP], "seq", 0) or 0)}
        return d

    def parse(data):
        return describe(Ether(data))

    print(json.dumps({"ready": True, "my_mac": env["MY_MAC"]}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        link.drain(parse)  # the flows learn from what came meanwhile
        if "flow" in cmd:
            print(json.dumps({"last": flows.get(tuple(cmd["flow"]))}), flush=True)
            continue
        frames = scapytest.build_frames(cmd.get("frames", []), env)
        until = cmd.get("until")
        if cmd.get("marker"):
            marker_seq[0] += 1
            frames.append(env["eth"]() / IP(src=config["peer_ip"], dst=config["side_ip"]) /
                          ICMP(type=8, id=0x7463, seq=marker_seq[0]) / scapy.Raw(b"marker"))
            until = (f"d.get('icmp', {{}}).get('type') == 0 and d['icmp']['id'] == 0x7463 and "
                     f"d['icmp']['seq'] == {marker_seq[0]}")
        started = time.monotonic()
        for f in frames:
            link.send(f)
        sent_s = time.monotonic() - started
        got = link.collect(until and (lambda d: eval(until, {"d": d})),  # noqa: S307
                           cmd.get("timeout", 10), parse)
        if cmd.get("summary"):
            kinds = {}
            for d in got["frames"]:
                k = d.get("tcp", {}).get("flags", d["summary"].split("/")[-1].strip())
                kinds[k] = kinds.get(k, 0) + 1
            got["frames"] = [{"counts": kinds}]
        print(json.dumps(dict(got, sent=len(frames), sent_seconds=round(sent_s, 3))), flush=True)


# --------------------------------------------------------------------------------------------
# The test side.

class Segments(scapytest.Helper):
    """The scapy helper in the peer namespace."""

    def __init__(self, python, netns, config):
        super().__init__(python, netns, __file__, HELPER_FLAG, config)

    def run(self, frames=(), *, marker=True, until=None, timeout=TIMEOUT, summary=False):
        """Sends frames (expressions the helper evaluates to frames or lists of them), then waits
        for the marker's reply, or for a frame d for which until (an expression over d) holds.
        Returns {"matched", "match", "frames": what the side sent before it}."""
        got = self.command({"frames": list(frames), "marker": marker, "until": until,
                            "timeout": timeout, "summary": summary}, timeout)
        if marker and not got["matched"]:
            raise AssertionError(f"no marker reply within {timeout} s; the side sent: "
                                 f"{[f.get('summary') for f in got['frames']][:50]}")
        return got

    def last(self, side_port, peer_ip, peer_port):
        """The side's last segment on a flow, as the helper saw it (or None)."""
        return self.command({"flow": [side_port, peer_ip, peer_port]}, TIMEOUT)["last"]


class ClassScope:
    """Lets test_tcp.Stacks, made for one test, serve a whole class: its cleanups become the
    class's; its assertions are a TestCase's."""

    def __init__(self, cls):
        self.cls = cls
        self.asserts = unittest.TestCase()

    def addCleanup(self, function, *args, **kwargs):  # noqa: N802 (unittest's name)
        self.cls.addClassCleanup(function, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.asserts, name)


def flat_linux(ns):
    """The kernel's SNMP and extended TCP counters in a namespace: {"Tcp.InErrs": n, ...}."""
    out = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        lines = ns.run("cat", path, check=True).stdout.splitlines()
        for names, values in zip(lines[::2], lines[1::2]):
            group, names = names.split(":")
            for n, v in zip(names.split(), values.split(":")[1].split()):
                out[f"{group}.{n}"] = int(v)
    return out


def seq_add(a, b):
    return (a + b) % 2**32


@NEEDS_PRELOAD
class HostileSegments(unittest.TestCase):
    """One side, one victim connection and one scapy helper for every case; each case measures
    counter deltas around itself."""
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        python = scapytest.scapy_python()
        if python is None:
            raise AssertionError("no python3 with scapy: scripts/setup.sh installs python3-scapy")
        if not LINUX_MODE and not os.path.exists(PRELOAD):
            raise AssertionError(f"{PRELOAD} is not built")
        scope = ClassScope(cls)
        s = cls.s = Stacks(scope)
        cls.spoof = s.host(3)
        peer_mac = json.loads(s.peer_ns.ip("-j", "link", "show", s.peer_dev))[0]["address"]
        if LINUX_MODE:
            side_mac = json.loads(s.app_ns.ip("-j", "link", "show", s.app_dev))[0]["address"]
            s.app_ns.ip("neigh", "replace", cls.spoof, "lladdr", peer_mac, "dev", s.app_dev,
                        "nud", "permanent")
        else:
            side_mac = s.d.pkt_json("ifconfig", "tap0")["mac"]
            s.d.pkt("arp", "-s", cls.spoof, peer_mac, check=True)

        cls.segments = Segments(python, s.peer_ns.name, {
            "dev": s.peer_dev, "side_mac": side_mac, "side_ip": s.addr, "peer_ip": s.linux,
            "spoof_ip": cls.spoof})
        cls.addClassCleanup(cls.segments.close)
        if cls.segments.ready["my_mac"] != peer_mac:
            raise AssertionError(f"the helper is on another device: {cls.segments.ready}")
        cls.segments.run()  # the path works before anything hostile is sent

        cls.server = s.local("python3", "-c", ECHO_SERVER, s.addr, str(LISTEN_PORT))
        s.wait_listening(LISTEN_PORT, cls.server)
        cls.flood_server = s.local("python3", "-c", SMALL_BACKLOG_SERVER, s.addr, str(FLOOD_PORT))
        s.wait_listening(FLOOD_PORT, cls.flood_server)
        cls.victim = s.peer("python3", "-c", VICTIM, s.addr, str(LISTEN_PORT),
                            stdin=subprocess.PIPE)
        cls.victim.wait_for("port")
        cls.victim_port = cls.victim.json_lines()[0]["port"]
        cls.echoes = 0

    def setUp(self):
        timed(self)
        self.check_victim()  # intact before the case, so that a failure is the case's own

    def tearDown(self):
        s = self.s
        self.assertTrue(s.alive(), f"the side died:\n{s.d.output()[-4000:] if s.d else ''}")
        if not LINUX_MODE:
            s.d.pkt("ifconfig", "tap0", check=True)  # and answers
        self.check_victim()
        established = [c for c in s.connections() if c["local"][1] == LISTEN_PORT and
                       c["remote"] == (s.linux, self.victim_port)]
        self.assertEqual([c["state"] for c in established], ["ESTABLISHED"])
        self.assertTrue(self.server.running() and self.flood_server.running(),
                        self.server.errors() + self.flood_server.errors())

    # --- helpers ---

    @classmethod
    def check_victim(cls):
        cls.victim.say(str(ECHO_BYTES))
        cls.echoes += 1
        eventually(lambda: len(cls.victim.json_lines()) > cls.echoes or not cls.victim.running(),
                   WAIT, "the victim's echo")
        if len(cls.victim.json_lines()) <= cls.echoes:
            raise AssertionError(f"the victim ended: {cls.victim.errors()[-2000:]}")
        got = cls.victim.json_lines()[cls.echoes]
        if got != {"ok": True, "got": ECHO_BYTES, "extra": 0, "error": None}:
            raise AssertionError(f"the established connection no longer echoes intact: {got}")

    def numbers(self):
        """The victim connection as the side sees it: its snd_nxt, rcv_nxt and window."""
        last = self.segments.last(LISTEN_PORT, self.s.linux, self.victim_port)
        self.assertIsNotNone(last, "the helper saw nothing of the victim connection")
        extra = ("S" in last["flags"]) + ("F" in last["flags"])
        return {"snd_nxt": seq_add(last["seq"], last["len"] + extra), "rcv_nxt": last["ack"],
                "window": last["window"]}

    def victim_seg(self, **fields):
        """An expression: a segment on the victim connection, from the peer to the side."""
        args = ", ".join(f"{k}={v!r}" for k, v in fields.items())
        return f"seg(sport={self.victim_port}, dport={LISTEN_PORT}, {args})"

    def counters(self):
        if LINUX_MODE:
            return flat_linux(self.s.app_ns)
        return {f"{PKTD_GROUP}.{k}": v
                for k, v in self.s.d.counters().get(PKTD_GROUP, {}).items()}

    def assert_counted(self, case, before):
        """Some counter the case names moved (see COUNTERS)."""
        after = self.counters()
        delta = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
        words, linux = COUNTERS[case]
        if LINUX_MODE:
            if linux is None:
                return delta
            candidates = linux
        else:
            candidates = [k for k in after
                          if any(w in k.split(".", 1)[1] for w in words) and
                          not TRAFFIC.match(k.split(".", 1)[1])]
        moved = {k: delta[k] for k in candidates if delta.get(k, 0) > 0}
        self.assertTrue(moved, f"{case}: none of {candidates or words} moved; what moved: {delta}")
        return delta

    def hostile(self, case, frames, **kwargs):
        """Sends frames and a marker; checks the counters. Returns what the side sent."""
        before = self.counters()
        got = self.segments.run(frames, **kwargs)
        self.assert_counted(case, before)
        return got["frames"]

    def answers_to_spoof(self, frames, sport):
        return [f for f in frames if f.get("ip", {}).get("dst") == self.spoof and
                f.get("tcp", {}).get("dport") == sport]

    def on_victim(self, frames):
        return [f["tcp"] for f in frames if "tcp" in f and f["tcp"]["sport"] == LISTEN_PORT and
                f["tcp"]["dport"] == self.victim_port]

    def assert_no_reset_or_syn(self, frames):
        bad = [t for t in self.on_victim(frames) if "R" in t["flags"] or "S" in t["flags"]]
        self.assertEqual(bad, [], "the side reset or restarted the victim connection")

    # --- malformed headers ---

    def test_bad_checksum(self):
        n, sport = self.numbers(), random.randrange(20000, 60000)
        frames = self.hostile("bad_checksum", [
            f"bad_checksum(seg(src=SPOOF_IP, sport={sport}, dport={LISTEN_PORT}, flags='S', "
            f"seq=1000))",
            "bad_checksum(" + self.victim_seg(flags="PA", seq=n["rcv_nxt"], ack=n["snd_nxt"],
                                              payload=b"EVIL") + ")"])
        self.assertEqual(self.answers_to_spoof(frames, sport), [], "a SYN-ACK to a bad SYN")

    def test_data_offset_below_five(self):
        n, sport = self.numbers(), random.randrange(20000, 60000)
        frames = self.hostile("data_offset_short", [
            f"seg(src=SPOOF_IP, sport={sport}, dport={LISTEN_PORT}, flags='S', seq=1000, "
            f"dataofs=4)",
            f"seg(src=SPOOF_IP, sport={sport + 1}, dport={LISTEN_PORT}, flags='S', seq=1000, "
            f"dataofs=0)",
            self.victim_seg(flags="PA", seq=n["rcv_nxt"], ack=n["snd_nxt"], dataofs=2,
                            payload=b"EVIL")])
        self.assertEqual(self.answers_to_spoof(frames, sport) +
                         self.answers_to_spoof(frames, sport + 1), [])

    def test_data_offset_beyond_the_segment(self):
        n, sport = self.numbers(), random.randrange(20000, 60000)
        frames = self.hostile("data_offset_long", [
            f"seg(src=SPOOF_IP, sport={sport}, dport={LISTEN_PORT}, flags='S', seq=1000, "
            f"dataofs=15, payload=b'abcd')",  # says 60 octets of header in 24
            self.victim_seg(flags="PA", seq=n["rcv_nxt"], ack=n["snd_nxt"], dataofs=8,
                            payload=b"EVIL"),  # 32 in 24
            self.victim_seg(flags="A", seq=n["rcv_nxt"], ack=n["snd_nxt"], dataofs=15)])
        self.assertEqual(self.answers_to_spoof(frames, sport), [])

    def test_option_lengths_that_lie(self):
        # The options area is the 4 octets after a 20-octet header (data offset 6), with: a known
        # option of length 0, of length 1, one whose length runs past the end, an unknown kind
        # of length 0 (a parser that steps by the length would never move), a MSS of length 3.
        lies = [b"\x02\x00\x05\xb4", b"\x08\x01\x00\x00", b"\x08\x0a\x00\x00", b"\x1e\x00\x00\x00",
                b"\x02\x03\x05\x00", b"\x01\x01\x01\x05"]  # the last: SACK's kind, no length left
        n, sport = self.numbers(), random.randrange(20000, 60000)
        frames = []
        for i, lie in enumerate(lies):
            frames.append(f"seg(src=SPOOF_IP, sport={sport + i}, dport={LISTEN_PORT}, flags='S', "
                          f"seq=1000, dataofs=6, payload={lie!r})")
            # Pure ACKs on the victim: whether the side drops them (pktd: bad_option) or ignores
            # the option (Linux), the stream is not touched.
            frames.append(self.victim_seg(flags="A", seq=n["rcv_nxt"], ack=n["snd_nxt"],
                                          dataofs=6, payload=lie))
        got = self.hostile("lying_options", frames)
        self.assert_no_reset_or_syn(got)

    # --- RFC 5961: blind resets and SYNs ---

    def challenge_ack(self, n):
        """An expression matching the side's challenge ACK on the victim connection."""
        return (f"d.get('tcp', {{}}).get('sport') == {LISTEN_PORT} and "
                f"d['tcp']['dport'] == {self.victim_port} and d['tcp']['flags'] == 'A' and "
                f"d['tcp']['ack'] == {n['rcv_nxt']} and d['tcp']['seq'] == {n['snd_nxt']}")

    def test_blind_rst_in_the_window(self):
        # RFC 5961 3.2: in the window but not exactly RCV.NXT: a challenge ACK may come back;
        # the connection stays.
        n = self.numbers()
        frames = self.hostile("rst_in_window", [
            self.victim_seg(flags="R", seq=seq_add(n["rcv_nxt"], 1), ack=0)])
        self.assert_no_reset_or_syn(frames)

    def test_blind_rst_outside_the_window(self):
        n = self.numbers()
        frames = self.hostile("rst_out_of_window", [
            self.victim_seg(flags="R", seq=seq_add(n["rcv_nxt"], 0x40010000), ack=0),
            self.victim_seg(flags="RA", seq=seq_add(n["rcv_nxt"], -0x40000000), ack=n["snd_nxt"])])
        self.assert_no_reset_or_syn(frames)

    def test_blind_syn_on_the_established_connection(self):
        # RFC 5961 4.2: a SYN on a synchronized connection, whatever its sequence number, gets a
        # challenge ACK, and the connection stays. In the window first (what RFC 5961 adds; a
        # SYN outside it is an unacceptable segment, answered by the same ACK, and pktd counts it
        # so: not_acceptable). Challenge ACKs may be rate limited (Linux: one per 500 ms per
        # connection), so a SYN that got none is followed by another, 3 at most.
        n = self.numbers()
        before = self.counters()
        answered = None
        for attempt in range(3):
            got = self.segments.run(
                [self.victim_seg(flags="S", seq=seq_add(n["rcv_nxt"], 1 + attempt), ack=0)],
                marker=False, until=self.challenge_ack(n), timeout=1.0)
            self.assert_no_reset_or_syn(got["frames"])
            if got["matched"]:
                answered = got["match"]
                break
        self.assertIsNotNone(answered, "no challenge ACK after 3 blind SYNs in the window")
        self.segments.run()  # the marker: all handled
        self.assert_counted("syn_on_established", before)
        # Anywhere in sequence space: still no reset, no SYN-ACK.
        got = self.segments.run([self.victim_seg(flags="S", seq=random.getrandbits(32), ack=0)])
        self.assert_no_reset_or_syn(got["frames"])

    # --- outside the window ---

    def test_data_outside_the_window(self):
        n = self.numbers()
        frames = self.hostile("data_outside_window", [
            self.victim_seg(flags="PA", seq=seq_add(n["rcv_nxt"], 0x40010000), ack=n["snd_nxt"],
                            payload=b"EVIL-AHEAD"),
            self.victim_seg(flags="PA", seq=seq_add(n["rcv_nxt"], -0x40000000), ack=n["snd_nxt"],
                            payload=b"EVIL-BEHIND"),
            self.victim_seg(flags="PA", seq=seq_add(n["rcv_nxt"], -100000), ack=n["snd_nxt"],
                            payload=b"EVIL-OLD")])
        self.assert_no_reset_or_syn(frames)

    def test_ack_of_data_never_sent(self):
        n = self.numbers()
        frames = self.hostile("ack_of_unsent_data", [
            self.victim_seg(flags="A", seq=n["rcv_nxt"], ack=seq_add(n["snd_nxt"], 0x10000000))])
        self.assert_no_reset_or_syn(frames)

    def test_ack_too_old(self):
        # RFC 5961 5.2: an ACK below SND.UNA - MAX.SND.WND: a challenge ACK, the segment dropped.
        n = self.numbers()
        frames = self.hostile("ack_too_old", [
            self.victim_seg(flags="A", seq=n["rcv_nxt"], ack=seq_add(n["snd_nxt"], -0x40000000))])
        self.assert_no_reset_or_syn(frames)

    # --- a SYN flood ---

    def test_syn_flood(self):
        s = self.s
        before = self.counters()
        loop = s.peer("python3", "-c", LOOP_CLIENT, s.addr, str(FLOOD_PORT),
                      stdin=subprocess.PIPE)
        eventually(lambda: loop.json_lines() or not loop.running(), WAIT, "a first connection")
        flood_started = time.monotonic()
        got = self.segments.run([f"syn_flood({FLOOD_SYNS}, {FLOOD_PORT})"], summary=True,
                                timeout=WAIT)
        flood_ended = time.monotonic()
        # Connections go on during and after the flood: one more that began after it ended.
        eventually(lambda: any(r["t"] > flood_ended for r in loop.json_lines())
                   or not loop.running(), WAIT, "a connection after the flood")
        loop.say("stop")
        self.assertEqual(loop.wait(WAIT), 0, loop.errors())
        results = loop.json_lines()
        failed = [r for r in results if not r["ok"]]
        self.assertEqual(failed, [], f"connections failed while flooded ({len(results)} made)")
        self.assertTrue(any(r["t"] >= flood_started for r in results))
        self.assert_counted("syn_flood", before)
        if os.environ.get("PKTD_TCP_TIMES"):
            print(f"\n  [{FLOOD_SYNS} SYNs sent in {got['sent_seconds']} s; the side answered "
                  f"{got['frames'][0]['counts']}; {len(results)} connections meanwhile]",
                  file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == HELPER_FLAG:
        segments_helper(json.loads(sys.argv[2]))
    else:
        print(f"peer: {PEER_MODE}", file=sys.stderr)
        unittest.main(verbosity=2)

"""Hostile input from the Linux side of a TAP: frames python3-scapy crafts in the test's namespace
and sends straight at pktd's MAC. Truncated headers, lengths that lie, bad checksums, overlapping,
missing and endless fragments, ARP nobody asked for, floods of unresolvable destinations. pktd stays
up, its memory stays bounded, and `pkt --json netstat -s` names every drop: each case checks the
counter it should move by exactly how much, and that no other drop counter moved.

Scapy runs in a helper process inside the namespace (this file again, with --frames-helper, under
a python3 that has scapy: Debian's python3-scapy). It holds one packet socket on the TAP's Linux
side for its whole life, so nothing pktd sends is missed, and takes one JSON command a line:
frames to build (a Python expression over scapy) and what reply to wait for. Most cases end their
frames with a marker echo request: pktd handles input in order in one stack context, so once the
marker's reply is on the wire every frame before it has been counted, and every reply to them has
been sent (no fixed sleeps, and "no reply" is a checkable fact).

Addresses: a random /21 in 198.18.0.0/15 (eight /24s: the floods need more unused addresses than
pktd's ARP cache holds). The Linux side of the TAP has .1 of its first /24 (pinned in pktd's ARP
cache, so pktd never has to ask), pktd .2.
"""
import concurrent.futures
import json
import os
import random
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scapytest  # noqa: E402
from pktdtest import Daemon, NetNs, eventually, rss_kib, unique  # noqa: E402

HELPER_FLAG = "--frames-helper"
SANITIZED = bool(os.environ.get("PKTD_SANITIZE"))
SLOW = 6 if SANITIZED else 1  # sanitizer builds run pktd several times slower
TIMEOUT = 20 * SLOW  # what one wait may take before the case fails

IPFRAG_MAX_BYTES = 262144
FRAGMENT_FLOOD = 20000
FLOOD_DESTINATIONS = 300
SPOOFED_SENDERS = 1200
RSS_GROWTH_LIMIT_KIB = 64 * 1024
OTHER_MAC = "02:00:5e:10:00:99"  # a unicast MAC nobody on the TAP has

# Counters that count traffic rather than a drop, and gauges. Every other counter names a drop (or
# an error suppressed): a case must name each one it moves.
TRAFFIC = {
    "ether": {"received", "sent"},
    "arp": {"received", "requests_received", "replies_received", "requests_sent", "replies_sent",
            "gratuitous_sent", "entries", "held_packets"},
    "ip": {"received", "delivered", "sent", "with_options", "fragments_received", "reassembled",
           "fragmented", "fragments_created", "sent_to_self", "reassembly_queues",
           "reassembly_bytes"},
    "icmp": {"received", "echo_requests", "echo_replies_sent", "echo_replies_received",
             "dest_unreachable_received", "time_exceeded_received", "parameter_problem_received",
             "other_received", "errors_sent", "dest_unreachable_sent", "time_exceeded_sent",
             "parameter_problem_sent"},
    "udp": {"received", "delivered", "sent"},
}
# What one marker echo request and its reply add.
MARKER = {"ether.received": 1, "ether.sent": 1, "ip.received": 1, "ip.delivered": 1, "ip.sent": 1,
          "icmp.received": 1, "icmp.echo_requests": 1, "icmp.echo_replies_sent": 1}


# --------------------------------------------------------------------------------------------
# The helper: runs inside the namespace under a python3 with scapy.

HELPER_CODE = r'''
def corrupt_last(p):
    """p's bytes with the last octet inverted: whatever checksum covers it no longer verifies."""
    b = bytearray(bytes(p))
    b[-1] ^= 0xFF
    return bytes(b)


def bad_ip_checksum(p):
    """p (Ether/IP/...) with a wrong IPv4 header checksum."""
    good = Ether(bytes(p))[IP].chksum
    p = p.copy()
    p[IP].chksum = good ^ 0x5555
    return p


def fragments(ip, payload, pieces):
    """IPv4 fragments of ip/payload; pieces: (begin, end, more_fragments) in octets of payload."""
    data = bytes(payload)
    out = []
    for begin, end, more in pieces:
        f = ip.copy()
        f.flags = "MF" if more else 0
        f.frag = begin // 8
        out.append(eth() / f / Raw(data[begin:end]))
    return out


def first_fragments(n, size, first_id=0):
    """n first fragments (offset 0, MF) of n different UDP datagrams, size octets of data each."""
    template = bytearray(bytes(eth() / IP(src=MY_IP, dst=PKTD_IP, proto=17, flags="MF", id=0) /
                               Raw(b"\xa5" * size)))
    out = []
    for i in range(n):
        ident = (first_id + i) & 0xFFFF
        template[18:20] = ident.to_bytes(2, "big")
        template[24:26] = b"\0\0"
        template[24:26] = checksum16(template[14:34]).to_bytes(2, "big")
        out.append(bytes(template))
    return out


def patched(p, offset, value):
    """p's bytes with value (bytes) written at offset."""
    b = bytearray(bytes(p))
    b[offset:offset + len(value)] = value
    return bytes(b)


def arp(op=1, hwsrc=None, psrc=None, hwdst="00:00:00:00:00:00", pdst=None, **fields):
    return ARP(op=op, hwsrc=hwsrc or MY_MAC, psrc=psrc or MY_IP, hwdst=hwdst, pdst=pdst or PKTD_IP,
               **fields)


def eth(src=None, dst=None, type=None):
    e = Ether(src=src or MY_MAC, dst=dst or PKTD_MAC)
    if type is not None:
        e.type = type
    return e


def bcast(src=None):
    return eth(src=src, dst="ff:ff:ff:ff:ff:ff")


def to_pktd(proto=None, **fields):
    """Ether/IP from the Linux side to pktd."""
    ip = IP(src=MY_IP, dst=PKTD_IP, **fields)
    if proto is not None:
        ip.proto = proto
    return eth() / ip
'''


def frames_helper(config):
    import scapy.all as scapy
    scapy.conf.verb = 0
    dev = config["dev"]
    env = dict(vars(scapy))
    env.update(PKTD_MAC=config["pktd_mac"], PKTD_IP=config["pktd_ip"], MY_IP=config["my_ip"],
               BROADCAST_IP=config["broadcast_ip"], MY_MAC=scapy.get_if_hwaddr(dev),
               checksum16=scapytest.checksum16)
    exec(HELPER_CODE, env)
    Ether, IP, ICMP, ARP, IPerror = scapy.Ether, scapy.IP, scapy.ICMP, scapy.ARP, scapy.IPerror
    link = scapytest.Link(dev, config["pktd_mac"])  # only what pktd sends
    marker_id = 0x6d6b
    marker_seq = [0]

    def num(v):
        return None if v is None else int(v)

    def describe(p):
        d = {"summary": p.summary(), "type": num(p.type) if Ether in p else None}
        if ARP in p:
            a = p[ARP]
            d["arp"] = {"op": num(a.op), "hwsrc": a.hwsrc, "psrc": a.psrc, "pdst": a.pdst}
        if IP in p:
            ip = p[IP]
            d["ip"] = {"src": ip.src, "dst": ip.dst, "proto": num(ip.proto), "id": num(ip.id),
                       "ihl": num(ip.ihl), "len": num(ip.len), "offset": num(ip.frag) * 8,
                       "more_fragments": bool(ip.flags.MF)}
            if ICMP in p:
                c = p[ICMP]
                d["icmp"] = {"type": num(c.type), "code": num(c.code),
                             "id": num(getattr(c, "id", None)), "seq": num(getattr(c, "seq", None)),
                             "ptr": num(getattr(c, "ptr", None))}
                if IPerror in p:
                    q = p[IPerror]
                    d["quoted"] = {"src": q.src, "dst": q.dst, "proto": num(q.proto),
                                   "id": num(q.id)}
        return d

    print(json.dumps({"ready": True, "my_mac": env["MY_MAC"]}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("drain", True):
            link.drain()
        frames = scapytest.build_frames(cmd.get("frames", []), env)
        until = eval(cmd["until"], env) if cmd.get("until") else None
        if cmd.get("marker"):
            marker_seq[0] += 1
            seq = marker_seq[0]
            frames.append(env["to_pktd"]() / ICMP(type=8, id=marker_id, seq=seq) /
                          scapy.Raw(b"marker"))

            def until(p, seq=seq):  # noqa: F811 (the marker's reply ends the wait)
                return (ICMP in p and IPerror not in p and p[ICMP].type == 0 and
                        p[ICMP].id == marker_id and p[ICMP].seq == seq)
        for f in frames:
            link.send(f)
        got = link.collect(until, cmd.get("timeout", 10), Ether, describe)
        print(json.dumps(dict(got, sent=len(frames))), flush=True)


# --------------------------------------------------------------------------------------------
# The test side.

def real_pktd_pid(proc):
    """pktd's own PID: `ip netns exec` execs it, but check rather than trust that."""
    pid = proc.pid
    if os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "pktd":
        return pid
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        for child in f.read().split():
            if os.path.basename(os.readlink(f"/proc/{child}/exe")) == "pktd":
                return int(child)
    raise AssertionError(f"no pktd process under {pid}")


class Frames(scapytest.Helper):
    """The scapy helper in the namespace."""

    def __init__(self, python, netns, config):
        super().__init__(python, netns, __file__, HELPER_FLAG, config, slack=60 * SLOW)

    def run(self, frames=(), *, marker=True, until=None, timeout=TIMEOUT, drain=True):
        """Sends frames (an expression the helper evaluates to a frame or a list of them, or a
        list of such expressions: scapy packets or bytes), then waits for the marker's reply,
        or for a frame matching until (a predicate expression). Returns {"matched", "match": that
        frame, "frames": what pktd sent before it}."""
        cmd = {"frames": frames if isinstance(frames, str) else list(frames), "marker": marker,
               "until": until, "timeout": timeout, "drain": drain}
        got = self.command(cmd, timeout)
        if (marker or until) and not got["matched"]:
            raise AssertionError(f"no {'marker reply' if marker else until} from pktd within "
                                 f"{timeout} s; it sent: {[f['summary'] for f in got['frames']]}")
        return got


def flat(stats):
    return {f"{group}.{name}": value
            for group, names in stats.items() for name, value in names.items()}


def icmp_frames(frames, type_, code=None):
    return [f for f in frames if "icmp" in f and f["icmp"]["type"] == type_ and
            (code is None or f["icmp"]["code"] == code)]


class HostileInput(unittest.TestCase):
    """One pktd, one namespace and one scapy helper for every case: each case measures counter
    deltas around itself and leaves pktd settled (no reassembly or ARP state of its own left)."""

    @classmethod
    def setUpClass(cls):
        python = scapytest.scapy_python()
        if python is None:
            raise AssertionError("no python3 with scapy: scripts/setup.sh installs python3-scapy")
        cls.ns = NetNs()
        cls.addClassCleanup(cls.ns.close)
        # No IPv6 on the Linux side: its router solicitations would be unknown ethertypes to pktd.
        subprocess.run(["ip", "netns", "exec", cls.ns.name, "sysctl", "-qw",
                        "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"],
                       check=False)  # fails only where the kernel has no IPv6 at all
        cls.dev = unique("hx")[:15]
        cls.d = Daemon("-t", "2", "-d", f"tap,dev={cls.dev}",
                       "-p", f"tcpip,ipfrag_time=1,ipfrag_max_bytes={IPFRAG_MAX_BYTES}",
                       netns=cls.ns.name)
        cls.addClassCleanup(cls.d.close)
        cls.d.wait_ready()
        cls.pid = real_pktd_pid(cls.d.proc)

        block = random.randrange(0, 512, 8)  # a /21: 198.18.0.0/15 holds 64 of them
        cls.net = [f"198.{18 + (block + i) // 256}.{(block + i) % 256}" for i in range(8)]  # /24s
        first = cls.first = cls.net[0]
        other = (block + 256) % 512  # the same /21 in the other half of 198.18/15: not ours
        cls.elsewhere = f"198.{18 + other // 256}.{other % 256}.9"
        cls.my_ip, cls.pktd_ip, cls.broadcast_ip = f"{first}.1", f"{first}.2", f"{cls.net[7]}.255"
        cls.d.pkt("ifconfig", "tap0", f"{cls.pktd_ip}/21", "up", check=True)
        cls.ns.ip("link", "set", cls.dev, "up")
        cls.ns.ip("addr", "add", f"{cls.my_ip}/21", "dev", cls.dev)
        eventually(lambda: "status: active" in cls.d.pkt("ifconfig", "tap0", check=True).stdout,
                   timeout=TIMEOUT, what="tap0 link up")
        info = json.loads(cls.d.pkt("--json", "ifconfig", "tap0", check=True).stdout)
        cls.pktd_mac = info["mac"]
        cls.my_mac = json.loads(cls.ns.ip("-j", "link", "show", cls.dev))[0]["address"]
        cls.d.pkt("arp", "-s", cls.my_ip, cls.my_mac, check=True)

        cls.frames = Frames(python, cls.ns.name, {
            "dev": cls.dev, "pktd_mac": cls.pktd_mac, "pktd_ip": cls.pktd_ip, "my_ip": cls.my_ip,
            "broadcast_ip": cls.broadcast_ip})
        cls.addClassCleanup(cls.frames.close)
        if cls.frames.ready["my_mac"] != cls.my_mac:
            raise AssertionError(f"the helper is on another device: {cls.frames.ready}")
        cls.frames.run()  # the path works before anything hostile is sent
        cls.rss_before = rss_kib(cls.pid)

    @classmethod
    def tearDownClass(cls):
        # pktd stops cleanly after all that: under the sanitizers, this is where leaks show.
        code = cls.d.stop()
        log = cls.d.output()
        for says in ("AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "runtime error:"):
            if says in log:
                raise AssertionError(f"pktd's log has a sanitizer report:\n{log[-8000:]}")
        if code != 0:
            raise AssertionError(f"pktd exited with {code} on SIGTERM:\n{log[-4000:]}")

    def tearDown(self):
        # After every case: pktd is up and answers.
        self.assertIsNone(self.d.proc.poll(), f"pktd died:\n{self.d.output()[-4000:]}")
        self.d.pkt("ifconfig", "tap0", check=True)

    # --- helpers ---

    def stats(self):
        return flat(json.loads(self.d.pkt("--json", "netstat", "-s", check=True).stdout))

    def assert_counted(self, before, after, expect, *, markers=1, ignore=()):
        """Each counter in expect moved by exactly that much (apart from what the markers added);
        no other drop counter moved."""
        delta = {k: after[k] - before.get(k, 0) for k in after}
        for k, v in MARKER.items():
            delta[k] -= v * markers
        problems = []
        for k, v in expect.items():
            if k not in delta:
                problems.append(f"{k}: no such counter")
            elif delta[k] != v:
                problems.append(f"{k}: moved by {delta[k]}, expected {v}")
        for k, v in delta.items():
            group, name = k.split(".", 1)
            is_drop = name not in TRAFFIC.get(group, ())
            if is_drop and k not in expect and k not in ignore and v != 0:
                problems.append(f"{k}: moved by {v}, expected no change")
        if problems:
            self.fail("counters:\n  " + "\n  ".join(problems))
        return delta

    def counted(self, frames, expect, **kwargs):
        """Sends frames and a marker; checks the counters. Returns what pktd sent before the
        marker's reply."""
        before = self.stats()
        got = self.frames.run(frames)
        self.assert_counted(before, self.stats(), expect, **kwargs)
        return got["frames"]

    def wait_for_counters(self, before, expect):
        eventually(lambda: all(self.stats()[k] - before[k] >= v for k, v in expect.items()),
                   timeout=TIMEOUT, what=f"counters {expect}")

    def settled(self):
        """Waits until pktd holds nothing for a case: no reassembly queue, no ARP entry but the
        pinned one."""
        def idle():
            s = self.stats()
            return s if s["ip.reassembly_queues"] == 0 and s["arp.entries"] == 1 else None
        s = eventually(idle, timeout=TIMEOUT, what="no reassembly queue, only the pinned ARP entry")
        self.assertEqual(s["ip.reassembly_bytes"], 0)
        self.assertEqual(s["arp.held_packets"], 0)

    # --- Ethernet ---

    def test_ethernet_header_cut_short(self):
        # Linux refuses to send a frame under 14 octets from a packet socket (EINVAL), so the
        # shortest hostile frames are 802.1Q ones that end inside their tag: 14 and 16 octets.
        self.counted([r"bytes(eth(type=0x8100))", r"bytes(eth(type=0x8100)) + b'\x00\x05'"],
                     {"ether.truncated": 2, "ether.received": 2})

    def test_8023_length_field_frames_are_llc(self):
        self.counted(["eth(type=0x0026) / LLC() / Raw(b'x' * 24)",
                      "eth(type=1500) / Raw(b'x' * 46)"],
                     {"ether.llc_frames": 2})

    def test_vlan_tagged_frames(self):
        self.counted(["eth() / Dot1Q(vlan=5) / IP(src=MY_IP, dst=PKTD_IP) / ICMP()"],
                     {"ether.vlan_tagged": 1, "ether.vlan_frames_dropped": 1})
        self.counted(["eth() / Dot1Q(vlan=4095) / IP(src=MY_IP, dst=PKTD_IP) / ICMP()"],
                     {"ether.bad_vlan_id": 1})

    def test_unknown_ethertype(self):
        self.counted(["eth(type=0x88B5) / Raw(b'local experimental' * 3)",
                      "eth(type=0x86DD) / Raw(b'x' * 40)"],
                     {"ether.unknown_ethertype": 2})

    def test_frames_for_another_mac_or_from_our_own(self):
        frames = self.counted([f"eth(dst='{OTHER_MAC}') / IP(src=MY_IP, dst=PKTD_IP) / ICMP()",
                               "eth(src=PKTD_MAC) / IP(src=MY_IP, dst=PKTD_IP) / ICMP()"],
                              {"ether.not_for_us": 1, "ether.from_own_address": 1})
        self.assertEqual(icmp_frames(frames, 0), [], "pktd answered an echo it should have dropped")

    # --- IPv4 ---

    def test_ipv4_truncated_header(self):
        self.counted(["eth(type=0x0800) / Raw(bytes(IP(src=MY_IP, dst=PKTD_IP))[:10])",
                      "eth(type=0x0800)",  # nothing after the Ethernet header
                      # IHL 15 (a 60-octet header) in a 40-octet packet
                      r"eth(type=0x0800) / Raw(patched(IP(src=MY_IP, dst=PKTD_IP) / ICMP()"
                      r" / Raw(b'\0' * 12), 0, b'\x4f'))"],
                     {"ip.truncated": 3})

    def test_ipv4_bad_version(self):
        self.counted(["to_pktd(version=6) / ICMP()", "to_pktd(version=0) / ICMP()"],
                     {"ip.bad_version": 2})

    def test_ipv4_header_length_below_five_words(self):
        self.counted(["to_pktd(ihl=4) / ICMP()", "to_pktd(ihl=0) / ICMP()"],
                     {"ip.bad_header_length": 2})

    def test_ipv4_total_length_beyond_the_frame(self):
        self.counted(["to_pktd(len=200) / ICMP() / Raw(b'x' * 20)", "to_pktd(len=65535) / ICMP()"],
                     {"ip.truncated": 2})

    def test_ipv4_total_length_below_the_header(self):
        self.counted(["to_pktd(len=12) / ICMP()", "to_pktd(len=0) / ICMP()",
                      "to_pktd(len=23, options=[IPOption_NOP()] * 4) / ICMP()"],
                     {"ip.bad_total_length": 3})

    def test_ipv4_bad_header_checksum(self):
        frames = self.counted(["bad_ip_checksum(to_pktd() / ICMP(id=7, seq=1))"],
                              {"ip.bad_checksum": 1})
        self.assertEqual(icmp_frames(frames, 0), [])

    def test_ipv4_martian_sources(self):
        sources = ["224.0.0.1", "239.1.2.3", "255.255.255.255", "127.0.0.1", self.broadcast_ip,
                   "240.0.0.1"]
        frames = self.counted([f"eth() / IP(src='{s}', dst=PKTD_IP) / ICMP()" for s in sources],
                              {"ip.bad_source": len(sources)})
        self.assertEqual(frames, [], "pktd answered a martian source")

    def test_ipv4_not_for_us(self):
        # Our MAC, another host's address: a host does not forward (RFC 1122 3.3.1).
        frames = self.counted([f"eth() / IP(src=MY_IP, dst='{self.first}.77') / ICMP()",
                               f"eth() / IP(src=MY_IP, dst='{self.elsewhere}') / UDP(dport=9)"],
                              {"ip.not_for_us": 2})
        self.assertEqual(frames, [])

    def test_ipv4_unknown_protocol_gets_protocol_unreachable(self):
        frames = self.counted(["to_pktd(proto=253, id=0x4242) / Raw(b'experimental')"],
                              {"ip.unknown_protocol": 1, "icmp.errors_sent": 1,
                               "icmp.dest_unreachable_sent": 1})
        unreachable = icmp_frames(frames, 3, 2)
        self.assertEqual(len(unreachable), 1, frames)
        self.assertEqual((unreachable[0]["ip"]["src"], unreachable[0]["ip"]["dst"]),
                         (self.pktd_ip, self.my_ip))
        self.assertEqual(unreachable[0]["quoted"],
                         {"src": self.my_ip, "dst": self.pktd_ip, "proto": 253, "id": 0x4242})

    def test_unknown_protocol_to_the_broadcast_gets_no_error(self):
        # RFC 1122 3.2.2: no ICMP error about a datagram sent to a broadcast address.
        frames = self.counted(["bcast() / IP(src=MY_IP, dst=BROADCAST_IP, proto=253) / Raw(b'x')"],
                              {"ip.unknown_protocol": 1, "icmp.error_suppressed": 1})
        self.assertEqual(frames, [])

    def test_ipv4_options_are_skipped_and_the_echo_answered(self):
        frames = self.counted(["to_pktd(options=[IPOption_Router_Alert()]) / ICMP(id=81, seq=9)",
                               "to_pktd(options=[IPOption_NOP()] * 8) / ICMP(id=81, seq=10)"],
                              {"ip.with_options": 2, "icmp.echo_requests": 2,
                               "icmp.echo_replies_sent": 2})
        replies = icmp_frames(frames, 0)
        self.assertEqual(sorted((r["icmp"]["id"], r["icmp"]["seq"]) for r in replies),
                         [(81, 9), (81, 10)])

    def test_ipv4_options_that_lie_get_a_parameter_problem(self):
        # A timestamp option claiming 255 octets in a 4-octet list: RFC 1122 3.2.2.5, a Parameter
        # Problem pointing at the length octet (offset 21 of the header), and no echo reply.
        frames = self.counted([r"to_pktd(options=IPOption(b'\x44\xff\x05\x00'))"
                               r" / ICMP(id=81, seq=11)"],
                              {"ip.with_options": 1, "ip.bad_options": 1,
                               "icmp.errors_sent": 1, "icmp.parameter_problem_sent": 1})
        self.assertEqual(icmp_frames(frames, 0), [])
        problems = icmp_frames(frames, 12, 0)
        self.assertEqual([p["icmp"]["ptr"] for p in problems], [21])
        self.assertEqual(problems[0]["quoted"]["proto"], 1)  # it quotes the echo request

    def test_bytes_after_the_total_length_are_padding(self):
        # Junk after Total Length is link padding: trimmed, so the echo (its checksum covers only
        # what Total Length says) is answered with the real payload only.
        frames = self.counted(["to_pktd() / ICMP(id=82, seq=1) / Raw(b'payload')"
                               " / Padding(b'J' * 99)"],
                              {"icmp.echo_requests": 1, "icmp.echo_replies_sent": 1})
        replies = icmp_frames(frames, 0)
        self.assertEqual(len(replies), 1, frames)
        self.assertEqual(replies[0]["ip"]["len"], 20 + 8 + len(b"payload"))

    # --- UDP ---

    def test_udp_bad_checksum(self):
        frames = self.counted(["corrupt_last(to_pktd() / UDP(sport=4000, dport=9) / Raw(b'bad'))"],
                              {"udp.bad_checksum": 1})
        self.assertEqual(frames, [], "a datagram with a bad checksum got an answer")

    def test_udp_zero_checksum_is_accepted(self):
        # RFC 768: zero means no checksum; to a closed port it gets a port unreachable.
        frames = self.counted(["to_pktd(id=0x4343) / UDP(sport=4000, dport=9, chksum=0)"],
                              {"udp.no_port": 1, "icmp.errors_sent": 1,
                               "icmp.dest_unreachable_sent": 1})
        unreachable = icmp_frames(frames, 3, 3)
        self.assertEqual(len(unreachable), 1, frames)
        self.assertEqual(unreachable[0]["quoted"]["id"], 0x4343)

    def test_udp_length_below_the_header(self):
        self.counted(["to_pktd() / UDP(sport=4000, dport=9, len=4, chksum=0) / Raw(b'abcd')",
                      "to_pktd() / UDP(sport=4000, dport=9, len=0, chksum=0)"],
                     {"udp.bad_length": 2})

    def test_udp_length_beyond_the_ip_payload(self):
        # wire/udp.cc reports a UDP length beyond what IP carried as truncated, and inet/udp.cc
        # counts that as udp.truncated; so is a UDP header cut short by the IP total length.
        self.counted(["to_pktd() / UDP(sport=4000, dport=9, len=100, chksum=0) / Raw(b'short')",
                      r"to_pktd(proto=17) / Raw(b'\x0f\xa0\x00')"],
                     {"udp.truncated": 2})

    def test_udp_to_a_closed_port_by_broadcast_gets_no_error(self):
        # RFC 1122 4.1.3.1: no port unreachable for a broadcast, IP or link layer.
        frames = self.counted(["bcast() / IP(src=MY_IP, dst=BROADCAST_IP) / UDP(dport=9)",
                               "bcast() / IP(src=MY_IP, dst=PKTD_IP) / UDP(dport=9)"],
                              {"udp.no_port_broadcast": 2})
        self.assertEqual(frames, [])

    # --- ICMP ---

    def test_icmp_bad_checksum(self):
        frames = self.counted(["corrupt_last(to_pktd() / ICMP(id=0x4444, seq=1) / Raw(b'sum'))"],
                              {"icmp.bad_checksum": 1})
        self.assertEqual(icmp_frames(frames, 0), [])

    def test_icmp_truncated(self):
        self.counted([r"to_pktd(proto=1) / Raw(b'\x08\x00\xf7')"], {"icmp.truncated": 1})

    def test_icmp_nobody_waits_for(self):
        # An echo reply no ping waits for, a timestamp request (not answered), a destination
        # unreachable quoting two octets.
        frames = self.counted(["to_pktd() / ICMP(type=0, id=0x5353)", "to_pktd() / ICMP(type=13)",
                               r"to_pktd() / ICMP(type=3, code=1) / Raw(b'\x45\x00')"],
                              {"icmp.echo_replies_unmatched": 1, "icmp.other_received": 1,
                               "icmp.dest_unreachable_received": 1})
        self.assertEqual([f for f in frames if "icmp" in f], [], "pktd answered")

    def test_echo_to_the_subnet_broadcast_is_ignored(self):
        frames = self.counted(["bcast() / IP(src=MY_IP, dst=BROADCAST_IP) / ICMP(id=0x4545)",
                               "bcast() / IP(src=MY_IP, dst='255.255.255.255') / ICMP(id=0x4545)"],
                              {"icmp.broadcast_echo_ignored": 2})
        self.assertEqual(icmp_frames(frames, 0), [], "pktd answered a broadcast echo (smurf)")

    def test_no_icmp_error_about_an_icmp_error(self):
        # The only ICMP errors pktd could send about an ICMP message come from reassembly: fragment
        # zero of an ICMP destination unreachable, whose other half never comes, times out.
        # RFC 1122 3.2.2: no Time Exceeded about it.
        before = self.stats()
        self.frames.run("fragments(IP(src=MY_IP, dst=PKTD_IP, proto=1, id=0x4646),"
                        " ICMP(type=3, code=3) / IP(src=PKTD_IP, dst=MY_IP) / UDP(sport=9, dport=9)"
                        " / Raw(b'x' * 16), [(0, 24, True)])", marker=False)
        self.wait_for_counters(before, {"icmp.error_suppressed": 1})
        frames = self.frames.run(drain=False)["frames"]  # everything pktd sent since
        self.assertEqual(icmp_frames(frames, 11), [], "an ICMP error about an ICMP error")
        self.assert_counted(before, self.stats(), {"ip.fragments_received": 1,
                                                   "ip.reassembly_timeouts": 1,
                                                   "icmp.error_suppressed": 1})
        self.settled()

    # --- fragments ---

    def test_overlapping_fragments_drop_the_datagram(self):
        echo = "ICMP(id=0x4747, seq=1) / Raw(bytes(range(32)))"
        frames = self.counted(f"fragments(IP(src=MY_IP, dst=PKTD_IP, proto=1, id=0x4747), {echo},"
                              f" [(0, 16, True), (8, 40, False)])",
                              {"ip.fragments_received": 2, "ip.reassembly_overlaps": 1})
        self.assertEqual(icmp_frames(frames, 0), [], "pktd answered an overlapping datagram")
        # Teardrop: the second fragment inside the first.
        frames = self.counted(f"fragments(IP(src=MY_IP, dst=PKTD_IP, proto=1, id=0x4748), {echo},"
                              f" [(0, 32, True), (8, 16, True)])",
                              {"ip.fragments_received": 2, "ip.reassembly_overlaps": 1})
        self.assertEqual(icmp_frames(frames, 0), [])
        self.settled()

    def test_fragments_out_of_order_with_a_duplicate_are_reassembled(self):
        echo = "ICMP(id=0x4848, seq=1) / Raw(bytes(range(40)))"
        frames = self.counted(f"fragments(IP(src=MY_IP, dst=PKTD_IP, proto=1, id=0x4848), {echo},"
                              f" [(32, 48, False), (16, 32, True), (16, 32, True), (0, 16, True)])",
                              {"ip.fragments_received": 4, "ip.reassembly_duplicates": 1,
                               "ip.reassembled": 1, "icmp.echo_requests": 1,
                               "icmp.echo_replies_sent": 1})
        self.assertEqual([(f["icmp"]["id"], f["icmp"]["seq"]) for f in icmp_frames(frames, 0)],
                         [(0x4848, 1)])
        self.settled()

    def test_the_largest_datagram_is_reassembled_and_answered(self):
        # 65535 octets in 45 fragments; the echo reply is as large and leaves in 45 fragments.
        data = 65535 - 20 - 8
        frames = self.counted(
            f"fragments(IP(src=MY_IP, dst=PKTD_IP, proto=1, id=0x4e4e),"
            f" ICMP(id=0x4e4e, seq=1) / Raw(bytes(i & 0xFF for i in range({data}))),"
            f" [(at, min(at + 1480, {data + 8}), at + 1480 < {data + 8})"
            f"  for at in range(0, {data + 8}, 1480)])",
            {"ip.fragments_received": 45, "ip.reassembled": 1, "icmp.echo_requests": 1,
             "icmp.echo_replies_sent": 1, "ip.fragmented": 1, "ip.fragments_created": 45})
        reply = sorted((f for f in frames if f.get("ip", {}).get("proto") == 1),
                       key=lambda f: f["ip"]["offset"])
        self.assertEqual(len(reply), 45, [f["summary"] for f in frames])
        self.assertEqual(len({f["ip"]["id"] for f in reply}), 1)
        self.assertEqual([f["ip"]["more_fragments"] for f in reply], [True] * 44 + [False])
        self.assertEqual(reply[-1]["ip"]["offset"] + reply[-1]["ip"]["len"] - 20, data + 8)
        self.settled()

    def test_bad_fragments(self):
        # A non-last fragment whose data is not a multiple of 8; one reaching past 65535 octets.
        self.counted(["to_pktd(proto=17, flags='MF', id=0x4949) / Raw(b'x' * 13)",
                      "to_pktd(proto=17, frag=8189, id=0x494a) / Raw(b'x' * 100)"],
                     {"ip.bad_fragment": 2})

    def test_fragments_that_cannot_make_a_datagram(self):
        # An empty fragment; and a datagram whose fragment zero carries 40 octets of options, so
        # that a last fragment which fits 65535 octets behind a 20-octet header does not fit
        # behind fragment zero's 60 (a ping of death through options).
        self.counted(["to_pktd(proto=17, flags='MF', id=0x4c4c)",
                      "fragments(IP(src=MY_IP, dst=PKTD_IP, proto=17, id=0x4c4d,"
                      " options=[IPOption_NOP()] * 40), Raw(b'z' * 8), [(0, 8, True)])",
                      "to_pktd(proto=17, frag=8189, id=0x4c4d) / Raw(b'end')"],
                     {"ip.fragments_received": 3, "ip.reassembly_bad": 2, "ip.with_options": 1})
        self.settled()

    def test_missing_fragment_times_out_with_time_exceeded(self):
        before = self.stats()
        got = self.frames.run("fragments(IP(src=MY_IP, dst=PKTD_IP, proto=1, id=0x4a4a),"
                              " ICMP(id=0x4a4a, seq=1) / Raw(b'y' * 48), [(0, 32, True)])",
                              marker=False, until="lambda p: ICMP in p and p[ICMP].type == 11")
        # ipfrag_time=1: Time Exceeded, fragment reassembly time exceeded (RFC 792), quoting
        # fragment zero.
        exceeded = got["match"]
        self.assertEqual((exceeded["icmp"]["type"], exceeded["icmp"]["code"]), (11, 1), exceeded)
        self.assertEqual(exceeded["ip"]["dst"], self.my_ip)
        self.assertEqual(exceeded["quoted"],
                         {"src": self.my_ip, "dst": self.pktd_ip, "proto": 1, "id": 0x4a4a})
        self.settled()
        self.assert_counted(before, self.stats(),
                            {"ip.fragments_received": 1, "ip.reassembly_timeouts": 1,
                             "icmp.errors_sent": 1, "icmp.time_exceeded_sent": 1}, markers=0)

    # The reassembler keeps the link-layer broadcast mark of fragment zero (buf::kPktLinkGroup).
    def test_no_time_exceeded_about_a_fragment_sent_as_link_broadcast(self):
        # RFC 1122 3.2.2: no ICMP error about a datagram sent as a link-layer broadcast.
        before = self.stats()
        self.frames.run("bcast() / IP(src=MY_IP, dst=PKTD_IP, proto=17, flags='MF', id=0x4d4d)"
                        " / Raw(b'x' * 16)", marker=False)
        self.wait_for_counters(before, {"ip.reassembly_timeouts": 1})
        frames = self.frames.run(drain=False)["frames"]  # everything pktd sent since
        self.settled()
        self.assertEqual(icmp_frames(frames, 11), [], "Time Exceeded about a link-layer broadcast")
        self.assert_counted(before, self.stats(), {"ip.fragments_received": 1,
                                                   "ip.reassembly_timeouts": 1,
                                                   "icmp.error_suppressed": 1})

    # A datagram is a link-layer broadcast if any of its fragments was, not only the last one.
    def test_no_port_unreachable_for_a_datagram_partly_sent_as_link_broadcast(self):
        frames = self.counted(["bcast() / IP(src=MY_IP, dst=PKTD_IP, proto=17, flags='MF',"
                               " id=0x4f4f) / Raw(bytes(UDP(sport=4000, dport=9, len=24, chksum=0))"
                               " + b'a' * 8)",
                               "to_pktd(proto=17, frag=2, id=0x4f4f) / Raw(b'b' * 8)"],
                              {"ip.fragments_received": 2, "ip.reassembled": 1,
                               "udp.no_port_broadcast": 1})
        self.assertEqual(icmp_frames(frames, 3), [], "port unreachable about a link broadcast")
        self.settled()

    def test_endless_first_fragments_stay_within_ipfrag_max_bytes(self):
        before = self.stats()
        most_bytes = most_queues = 0
        chunk = 1000
        for first_id in range(0, FRAGMENT_FLOOD, chunk):
            self.frames.run(f"first_fragments({chunk}, 1000, {first_id})", timeout=TIMEOUT * 3)
            s = self.stats()
            most_bytes = max(most_bytes, s["ip.reassembly_bytes"])
            most_queues = max(most_queues, s["ip.reassembly_queues"])
            self.assertLessEqual(s["ip.reassembly_bytes"], IPFRAG_MAX_BYTES)
        self.assertGreater(most_bytes, IPFRAG_MAX_BYTES // 2, "the flood never filled reassembly")
        self.assertLessEqual(most_queues, 1024)
        self.settled()  # ipfrag_time=1: every datagram times out
        delta = self.assert_counted(
            before, self.stats(), {"ip.fragments_received": FRAGMENT_FLOOD},
            markers=FRAGMENT_FLOOD // chunk,
            ignore={"ip.reassembly_over_limit", "ip.reassembly_timeouts", "icmp.rate_limited"})
        self.assertGreater(delta["ip.reassembly_over_limit"], 0)
        # Each first fragment was refused for the limit, or held until its datagram timed out.
        self.assertEqual(delta["ip.reassembly_over_limit"] + delta["ip.reassembly_timeouts"],
                         FRAGMENT_FLOOD)
        # A timeout sends Time Exceeded (fragment zero is there) or is rate limited; one that made
        # room for a new datagram sends nothing.
        self.assertLessEqual(delta["icmp.time_exceeded_sent"] + delta["icmp.rate_limited"],
                             delta["ip.reassembly_timeouts"])
        if not SANITIZED:
            grown = rss_kib(self.pid) - self.rss_before
            self.assertLess(grown, RSS_GROWTH_LIMIT_KIB, f"pktd's RSS grew by {grown} KiB")

    # --- ARP ---

    def arp_addresses(self):
        entries = json.loads(self.d.pkt("--json", "arp", "-a", check=True).stdout)
        return {e["address"] for e in entries}

    def test_arp_reply_nobody_asked_for_is_ignored(self):
        stranger, announcer = f"{self.first}.66", f"{self.first}.67"
        self.counted([f"eth() / arp(op=2, hwsrc='{OTHER_MAC}', psrc='{stranger}',"
                      f" hwdst=PKTD_MAC)",
                      f"bcast() / arp(op=2, hwsrc='{OTHER_MAC}', psrc='{announcer}',"
                      f" hwdst='ff:ff:ff:ff:ff:ff', pdst='{announcer}')"],  # gratuitous
                     {"arp.unsolicited_replies": 2, "arp.replies_received": 2})
        self.assertNotIn(stranger, self.arp_addresses())
        self.assertNotIn(announcer, self.arp_addresses())
        self.assertNotIn(OTHER_MAC, self.d.pkt("arp", "-a").stdout)

    def test_arp_with_a_broadcast_or_multicast_sender(self):
        self.counted([f"eth() / arp(hwsrc='ff:ff:ff:ff:ff:ff', psrc='{self.first}.68')",
                      f"eth() / arp(op=2, hwsrc='01:00:5e:00:00:01', psrc='{self.first}.69')",
                      f"eth() / arp(hwsrc='00:00:00:00:00:00', psrc='{self.first}.70')",
                      f"eth() / arp(hwsrc='{OTHER_MAC}', psrc='255.255.255.255')",
                      f"eth() / arp(hwsrc=PKTD_MAC, psrc='{self.first}.71')"],  # our own, reflected
                     {"arp.bad_sender": 5})
        self.assertEqual(self.arp_addresses(), {self.my_ip})

    def test_arp_claiming_our_address(self):
        claim = f"bcast(src='{OTHER_MAC}') / arp(hwsrc='{OTHER_MAC}', psrc=PKTD_IP)"
        frames = self.counted([claim],
                              {"arp.duplicate_address": 1})
        self.assertEqual([f for f in frames if "arp" in f], [], "pktd answered the conflict")
        says = f"duplicate address {self.pktd_ip} in use by {OTHER_MAC}"
        eventually(lambda: says in self.d.output(), timeout=TIMEOUT, what=f"'{says}' in the log")
        self.assertEqual(self.arp_addresses(), {self.my_ip})

    def test_arp_probe_for_our_address_is_answered(self):
        # RFC 5227 2.1.1: a probe (sender address 0.0.0.0) for an address in use gets a reply, and
        # teaches nothing.
        probe = f"bcast(src='{OTHER_MAC}') / arp(hwsrc='{OTHER_MAC}', psrc='0.0.0.0')"
        frames = self.counted([probe], {"arp.requests_received": 1, "arp.replies_sent": 1})
        replies = [f for f in frames if "arp" in f]
        self.assertEqual([(r["arp"]["op"], r["arp"]["psrc"], r["arp"]["pdst"]) for r in replies],
                         [(2, self.pktd_ip, "0.0.0.0")])
        self.assertEqual(self.arp_addresses(), {self.my_ip})

    # ARP refuses the senders IPv4 refuses as sources (loopback, class E, the subnet's broadcast).
    def test_arp_from_a_martian_sender_is_not_learned(self):
        martians = ["127.0.0.1", "240.0.0.1", self.broadcast_ip]
        for m in martians:  # were one learned, it must not spoil the other cases
            self.addCleanup(self.d.pkt, "arp", "-d", m)
        frames = self.counted([f"eth() / arp(hwsrc='{OTHER_MAC}', psrc='{m}')" for m in martians],
                              {"arp.bad_sender": len(martians)})
        self.assertEqual([f for f in frames if "arp" in f], [], "pktd answered a martian")
        self.assertEqual(self.arp_addresses(), {self.my_ip})

    def test_malformed_arp(self):
        self.counted(["eth(type=0x0806) / Raw(bytes(arp())[:6])",
                      "eth(type=0x0806) / Raw(bytes(arp())[:20])",
                      r"eth(type=0x0806) / Raw(patched(arp(), 0, b'\x00\x06'))",  # IEEE 802
                      r"eth(type=0x0806) / Raw(patched(arp(), 2, b'\x86\xdd'))",  # IPv6
                      r"eth(type=0x0806) / Raw(patched(arp(), 4, b'\x08'))",  # 8-octet hardware
                      r"eth(type=0x0806) / Raw(patched(arp(), 6, b'\x00\x09'))"],  # operation 9
                     {"arp.truncated": 2, "arp.unsupported_hardware": 1,
                      "arp.unsupported_protocol": 1, "arp.bad_address_length": 1,
                      "arp.bad_operation": 1})

    def test_arp_request_for_another_host(self):
        frames = self.counted([f"bcast() / arp(psrc='{self.first}.73', pdst='{self.first}.74')"],
                              {"arp.not_for_us": 1, "arp.requests_received": 1})
        self.assertEqual([f for f in frames if "arp" in f], [])
        self.assertEqual(self.arp_addresses(), {self.my_ip})

    # --- floods of unresolvable destinations ---

    def test_flood_of_unresolvable_destinations(self):
        destinations = ([f"{self.first}.{i}" for i in range(100, 255)] +
                        [f"{self.net[1]}.{i}" for i in range(1, 255)])[:FLOOD_DESTINATIONS]
        before = self.stats()

        def send(address):
            self.d.pkt("udp", "send", address, "9", "anyone there?", check=True)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(send, destinations))
        most_entries = 0

        def failed():
            nonlocal most_entries
            s = self.stats()
            most_entries = max(most_entries, s["arp.entries"])
            self.assertLessEqual(s["arp.entries"], 1024)
            self.assertLessEqual(s["arp.held_packets"], 1024)
            self.d.pkt("ifconfig", "tap0", check=True)  # pktd answers while it waits on ARP
            done = s["arp.resolution_failed"] - before["arp.resolution_failed"]
            return done >= FLOOD_DESTINATIONS
        eventually(failed, timeout=TIMEOUT * 2, what="every resolution to fail")
        self.settled()
        delta = self.assert_counted(
            before, self.stats(),
            {"udp.sent": FLOOD_DESTINATIONS, "arp.resolution_failed": FLOOD_DESTINATIONS,
             "ip.unresolved": FLOOD_DESTINATIONS, "arp.requests_sent": 3 * FLOOD_DESTINATIONS},
            markers=0, ignore={"icmp.rate_limited"})
        self.assertGreater(most_entries, 1)
        # Each failure tells the sender (pktd itself, through lo0) the host is unreachable, within
        # the ICMP error rate limit.
        self.assertEqual(delta["icmp.dest_unreachable_sent"] + delta["icmp.rate_limited"],
                         FLOOD_DESTINATIONS)
        self.assertEqual(delta["icmp.dest_unreachable_received"],
                         delta["icmp.dest_unreachable_sent"])

    def test_echo_from_more_senders_than_the_arp_cache_holds(self):
        # Echo requests from 1200 addresses nobody has: each reply waits on ARP for its sender.
        # The cache holds 1024 entries (the pinned one among them); the oldest incomplete entries
        # make room, dropping what they held; the rest fail after three requests.
        senders = [f"{n}.{i}" for n in self.net[2:7] for i in range(1, 255)][:SPOOFED_SENDERS]
        before = self.stats()
        self.frames.run(f"[eth() / IP(src=a, dst=PKTD_IP) / ICMP(id=96) for a in {senders!r}]")
        s = self.stats()
        self.assertLessEqual(s["arp.entries"], 1024)
        self.assertLessEqual(s["arp.held_packets"], 1024)
        self.d.pkt("ifconfig", "tap0", check=True)
        self.settled()  # every entry failed or was evicted
        delta = self.assert_counted(
            before, self.stats(),
            {"icmp.echo_requests": SPOOFED_SENDERS, "icmp.echo_replies_sent": SPOOFED_SENDERS},
            ignore={"arp.held_packets_dropped", "arp.resolution_failed", "ip.unresolved",
                    "icmp.rate_limited"})
        self.assertEqual(delta["arp.resolution_failed"], delta["ip.unresolved"])
        self.assertEqual(delta["arp.held_packets_dropped"] + delta["ip.unresolved"],
                         SPOOFED_SENDERS)
        if not SANITIZED:  # slow enough, the first entries fail before the cache is full
            self.assertEqual(delta["arp.held_packets_dropped"], SPOOFED_SENDERS - 1023)
        self.assertNotIn(senders[0], self.arp_addresses())

    # --- afterwards (unittest runs a class's tests in name order: this one last) ---

    def test_zz_afterwards_pktd_is_alive_answers_and_stayed_small(self):
        self.assertIsNone(self.d.proc.poll())
        out = self.d.pkt("ifconfig", "tap0", check=True).stdout
        self.assertIn(f"inet {self.pktd_ip}", out)
        self.assertIn("status: active", out)
        # A normal ping both ways.
        r = subprocess.run(["ip", "netns", "exec", self.ns.name, "ping", "-c", "1", "-W",
                            str(5 * SLOW), self.pktd_ip], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.d.pkt("ping", "-c", "1", "-W", str(5 * SLOW), self.my_ip)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("1 packets received", r.stdout)
        if not SANITIZED:  # sanitizers keep freed memory in quarantine
            grown = rss_kib(self.pid) - self.rss_before
            self.assertLess(grown, RSS_GROWTH_LIMIT_KIB, f"pktd's RSS grew by {grown} KiB")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == HELPER_FLAG:
        frames_helper(json.loads(sys.argv[2]))
    else:
        unittest.main(verbosity=2)

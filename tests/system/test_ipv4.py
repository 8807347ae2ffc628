"""IPv4 as the Linux kernel sees it: pktd with a TAP in a namespace the test makes, Linux's end of
the TAP addressed in the same namespace, and the two talking ICMP, ARP and UDP through it; routes
through Linux as a gateway; captures read by tshark; addresses added and removed."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pktdtest import Daemon, NetNs, eventually, random_subnet, unique  # noqa: E402

# Generous: sanitizer builds are several times slower, and nothing here asserts on time.
WAIT = 60

# Linux's side: one datagram received on a port, printed as "from A:P: TEXT" (a socket bound
# before "bound" is printed, so the test knows when to send).
RECV_ONE = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if sys.argv[2] == "broadcast":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("", int(sys.argv[1])))
s.settimeout(float(sys.argv[3]))
print("bound", flush=True)
data, peer = s.recvfrom(65535)
print(f"from {peer[0]}:{peer[1]}: {data.decode()}", flush=True)
"""

# Linux's side: one datagram (socat would write a long line in 8 KiB datagrams).
SEND_ONE = """
import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[3].encode(),
                                                        (sys.argv[1], int(sys.argv[2])))
"""

# Linux's side: one datagram to a broadcast address.
BROADCAST_ONE = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
"""

# Linux's side: a connected UDP socket sends to a closed port; the ICMP port unreachable that comes
# back makes recv fail with ECONNREFUSED.
SEND_TO_CLOSED = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], int(sys.argv[2])))
s.settimeout(float(sys.argv[3]))
s.send(b"anyone there?")
try:
    s.recv(100)
    print("answered")
except ConnectionRefusedError:
    print("ECONNREFUSED")
except socket.timeout:
    print("timeout")
"""


# What the kernel counts when pktd sends it something wrong.
# (Not Icmp.InErrors: the kernel counts its own broadcast echo there.)
LINUX_ERRORS = [("Ip", "InHdrErrors"), ("Ip", "ReasmFails"), ("Icmp", "InCsumErrors"),
                ("Udp", "InCsumErrors"), ("Udp", "InErrors")]


class TapHost:
    """pktd in a namespace of its own with tap0 up at .2 of a random /24 of 198.18.0.0/15, and the
    Linux end of the TAP (in the same namespace, so the kernel is pktd's neighbour) up at .1."""

    def __init__(self, test, *pktd_args):
        self.test = test
        self.linux_may_count = set()  # of LINUX_ERRORS, what a test makes on purpose
        self.ns = NetNs()
        test.addCleanup(self.ns.close)
        # No IPv6 chatter (router solicitations, MLD) on the TAP: captures see only the test's.
        self.ns.sysctl("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        self.dev = unique("pt")[:15]
        self.d = Daemon("-t", "2", "-d", f"tap,dev={self.dev}", *pktd_args, netns=self.ns.name)
        test.addCleanup(self.d.close)
        self.d.wait_ready()
        test.addCleanup(self.stop)  # before close, after whatever the test left running
        self.net = random_subnet()
        self.linux = self.host(1)  # the kernel's address on the TAP
        self.addr = self.host(2)   # pktd's
        self.pkt("ifconfig", "tap0", f"{self.addr}/24", "up", check=True)
        self.ns.ip("addr", "add", f"{self.linux}/24", "dev", self.dev)
        self.ns.ip("link", "set", self.dev, "up")
        eventually(lambda: "status: active" in self.pkt("ifconfig", "tap0").stdout, WAIT,
                   "tap0 link up")

    def linux_counters(self):
        """The kernel's SNMP counters in the namespace: {"Ip": {"InHdrErrors": N, ...}, ...}."""
        lines = self.ns.run("cat", "/proc/net/snmp", check=True).stdout.splitlines()
        out = {}
        for names, values in zip(lines[::2], lines[1::2]):
            group, names = names.split(":")
            out[group] = dict(zip(names.split(), map(int, values.split(":")[1].split())))
        return out

    def stop(self):
        """Nothing pktd sent was malformed in the kernel's eyes, and pktd ends cleanly: status 0,
        so no sanitizer report either (leaks are found at exit)."""
        linux = self.linux_counters()
        bad = {f"{g}.{n}": linux[g][n] for g, n in LINUX_ERRORS
               if linux[g][n] != 0 and f"{g}.{n}" not in self.linux_may_count}
        status = self.d.stop()
        self.test.assertEqual(status, 0, self.d.output()[-6000:])
        self.test.assertEqual(bad, {}, "the kernel found errors in what pktd sent")

    def host(self, n):
        return str(self.net[n])

    def pkt(self, *args, check=False):
        return self.d.pkt(*args, check=check)

    def counters(self):
        return self.d.counters()

    def linux_ping(self, addr, *options, count=3, wait=5):
        """ping(8) from the kernel's side: the CompletedProcess. A short wait only where no
        answer is expected."""
        return self.ns.run("ping", "-n", "-c", str(count), "-W", str(wait), "-i", "0.2",
                           *options, addr, timeout=WAIT + 10 * count)

    def linux_mac(self):
        return json.loads(self.ns.ip("-j", "link", "show", self.dev))[0]["address"]

    def pktd_mac(self):
        return self.d.pkt_json("ifconfig", "tap0")["mac"]

    def background(self, *args):
        """A command in the namespace for the rest of the test (killed at cleanup)."""
        b = self.ns.background(*args)
        self.test.addCleanup(b.close)
        return b

    def pkt_background(self, *args):
        b = self.d.pkt_background(*args)
        self.test.addCleanup(b.close)
        return b

    def linux_receiver(self, port, broadcast=False):
        """A Linux UDP socket on port, waiting for one datagram (prints it)."""
        b = self.background("python3", "-c", RECV_ONE, str(port),
                            "broadcast" if broadcast else "unicast", str(WAIT))
        eventually(lambda: "bound" in b.output() or not b.running(), WAIT, "Linux socket bound")
        self.test.assertTrue(b.running(), b.errors())
        return b

    def pktd_bound(self, port):
        """Whether pkt netstat -an lists a socket on port (a udp recv waiting)."""
        out = self.pkt("netstat", "-an", check=True).stdout
        return re.search(rf"^udp.*[.:]{port}\s", out, re.MULTILINE) is not None


def loss_free(r):
    return r.returncode == 0 and " 0% packet loss" in r.stdout


class Ping(unittest.TestCase):
    def setUp(self):
        self.h = TapHost(self)

    def test_linux_pings_pktd_and_pktd_pings_linux(self):
        h = self.h
        r = h.linux_ping(h.addr)
        self.assertTrue(loss_free(r), r.stdout + r.stderr)
        self.assertEqual(r.stdout.count(f"bytes from {h.addr}"), 3)
        self.assertNotIn("wrong data", r.stdout)
        self.assertNotIn("DUP!", r.stdout)
        r = h.pkt("ping", "-c", "3", "-W", "5", h.linux)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.count(f"bytes from {h.linux}: icmp_seq="), 3, r.stdout)
        self.assertIn("3 packets transmitted, 3 packets received, 0.0% packet loss", r.stdout)
        c = h.counters()
        self.assertGreaterEqual(c["icmp"]["echo_requests"], 3)
        self.assertGreaterEqual(c["icmp"]["echo_replies_sent"], 3)
        self.assertGreaterEqual(c["icmp"]["echo_replies_received"], 3)

    def test_pinging_an_unused_address_fails(self):
        h = self.h
        r = h.pkt("ping", "-c", "3", h.host(99))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertTrue("Destination Host Unreachable" in r.stdout or
                        "100.0% packet loss" in r.stdout, r.stdout)
        self.assertNotIn("bytes from", r.stdout)

    def test_pktd_pings_itself_through_lo0(self):
        h = self.h
        for addr in (h.addr, "127.0.0.1"):
            r = h.pkt("ping", "-c", "2", "-W", "5", addr)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("2 packets transmitted, 2 packets received", r.stdout)
        self.assertGreaterEqual(h.counters()["ip"]["sent_to_self"], 8)  # 4 echoes, 4 replies

    def test_broadcast_echoes_are_ignored(self):
        h = self.h
        r = h.linux_ping(str(h.net.broadcast_address), "-b", count=1, wait=2)
        self.assertNotIn(f"bytes from {h.addr}", r.stdout)
        self.assertGreaterEqual(h.counters()["icmp"]["broadcast_echo_ignored"], 1)


class Fragments(unittest.TestCase):
    def test_sixty_thousand_byte_pings_both_ways(self):
        h = TapHost(self)
        r = h.linux_ping(h.addr, "-s", "60000", count=2)
        self.assertTrue(loss_free(r), r.stdout + r.stderr)
        self.assertIn(f"60008 bytes from {h.addr}", r.stdout)
        self.assertNotIn("wrong data", r.stdout)  # ping(8) checks what comes back
        self.assertNotIn("DUP!", r.stdout)
        r = h.pkt("ping", "-c", "2", "-W", "5", "-s", "60000", h.linux)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f"60008 bytes from {h.linux}", r.stdout)
        self.assertIn("2 packets transmitted, 2 packets received, 0.0% packet loss", r.stdout)
        ip = h.counters()["ip"]
        # 60,028 octets in 1500-octet frames: 41 fragments a datagram.
        self.assertGreaterEqual(ip["fragments_received"], 4 * 41, ip)
        self.assertGreaterEqual(ip["reassembled"], 4, ip)
        self.assertGreaterEqual(ip["fragmented"], 4, ip)
        self.assertGreaterEqual(ip["fragments_created"], 4 * 41, ip)
        self.assertEqual(ip["reassembly_queues"], 0, ip)
        self.assertEqual(ip["reassembly_bytes"], 0, ip)


class Arp(unittest.TestCase):
    def arp(self, h):
        return h.d.pkt_json("arp", "-a")

    def entry(self, h, addr):
        return next((e for e in self.arp(h) if e["address"] == addr), None)

    def test_each_side_learns_the_other(self):
        h = TapHost(self)
        r = h.pkt("ping", "-c", "1", "-W", "5", h.linux)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        e = self.entry(h, h.linux)
        self.assertIsNotNone(e, self.arp(h))
        self.assertEqual(e["mac"], h.linux_mac())
        self.assertEqual(e["state"], "reachable")
        self.assertEqual(e["interface"], "tap0")
        self.assertGreater(e["expires_in_s"], 0)
        line = h.pkt("arp", h.linux, check=True).stdout
        self.assertIn(f"? ({h.linux}) at {h.linux_mac()} on tap0 expires in", line)
        neigh = json.loads(h.ns.ip("-j", "neigh", "show", "dev", h.dev))
        linux_sees = {n["dst"]: n for n in neigh}
        self.assertIn(h.addr, linux_sees, neigh)
        self.assertEqual(linux_sees[h.addr].get("lladdr"), h.pktd_mac())
        self.assertNotIn("FAILED", linux_sees[h.addr]["state"])

    def test_entries_expire(self):
        h = TapHost(self, "-p", "tcpip,arp_max_age=2")
        r = h.pkt("ping", "-c", "1", "-W", "5", h.linux)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # While in use, the entry is refreshed before it expires: nothing is lost.
        r = h.pkt("ping", "-c", "8", "-i", "0.5", "-W", "5", h.linux)
        self.assertIn("8 packets transmitted, 8 packets received", r.stdout)
        eventually(lambda: self.entry(h, h.linux) is None, WAIT, "the entry to expire")
        self.assertGreaterEqual(h.counters()["arp"]["entries_expired"], 1)
        # And it is learnt again when needed.
        r = h.pkt("ping", "-c", "1", "-W", "5", h.linux)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_permanent_entries_are_added_and_deleted(self):
        h = TapHost(self)
        other, mac = h.host(77), "02:00:5e:10:20:30"
        h.pkt("arp", "-s", other, mac, check=True)
        e = self.entry(h, other)
        self.assertEqual((e["mac"], e["state"], e["interface"]), (mac, "permanent", "tap0"))
        self.assertIn(f"? ({other}) at {mac} on tap0 permanent [ethernet]",
                      h.pkt("arp", other, check=True).stdout)
        self.assertIn("permanent", h.pkt("arp", "-a", check=True).stdout)
        h.pkt("arp", "-d", other, check=True)
        self.assertIsNone(self.entry(h, other))
        r = h.pkt("arp", other)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no entry", r.stderr)
        r = h.pkt("arp", "-d", other)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(other, r.stderr)
        r = h.pkt("arp", "-s", other, "02:00:5e:10:20")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a MAC address", r.stderr)


class Udp(unittest.TestCase):
    def setUp(self):
        self.h = TapHost(self)

    def test_linux_to_pktd(self):
        h = self.h
        recv = h.pkt_background("udp", "recv", "-c", "1", "-W", "30", "4242")
        eventually(lambda: h.pktd_bound(4242) or not recv.running(), WAIT, "pktd bound to 4242")
        self.assertTrue(recv.running(), recv.errors())
        h.ns.run("socat", "-", f"UDP:{h.addr}:4242", input="hello from linux\n", check=True)
        self.assertEqual(recv.wait(WAIT), 0, recv.errors())
        self.assertRegex(recv.output(), rf"^from {re.escape(h.linux)}:\d+: hello from linux")
        self.assertFalse(h.pktd_bound(4242))  # recv is done: nothing is left bound
        udp = h.counters()["udp"]
        self.assertGreaterEqual(udp["delivered"], 1)

    def test_pktd_to_linux(self):
        h = self.h
        got = h.linux_receiver(4343)
        h.pkt("udp", "send", "-p", "5353", h.linux, "4343", "hello from pktd", check=True)
        self.assertEqual(got.wait(WAIT + 30), 0, got.errors())
        self.assertIn(f"from {h.addr}:5353: hello from pktd", got.output())
        self.assertGreaterEqual(h.counters()["udp"]["sent"], 1)

    def test_pktd_to_linux_with_socat(self):
        h = self.h
        got = h.background("socat", "-u", "UDP-RECV:4344", "-")
        eventually(lambda: ":4344 " in h.ns.run("ss", "-Hlun").stdout or not got.running(),
                   WAIT, "socat bound")
        h.pkt("udp", "send", h.linux, "4344", "to socat", check=True)
        eventually(lambda: "to socat" in got.output(), WAIT, "socat to print the datagram")

    def test_datagrams_larger_than_the_mtu_both_ways(self):
        h = self.h
        text = "".join(chr(ord("a") + i % 26) for i in range(30000))
        # Linux's MAC first: ARP holds 16 packets per unresolved address, and this datagram
        # leaves in 21 fragments.
        self.assertEqual(h.pkt("ping", "-c", "1", "-W", "5", h.linux).returncode, 0)
        got = h.linux_receiver(4747)
        h.pkt("udp", "send", "-p", "5757", h.linux, "4747", text, check=True)
        self.assertEqual(got.wait(WAIT + 30), 0, got.errors())
        self.assertEqual(got.output().splitlines()[-1], f"from {h.addr}:5757: {text}")
        recv = h.pkt_background("udp", "recv", "-c", "1", "-W", "30", "4848")
        eventually(lambda: h.pktd_bound(4848) or not recv.running(), WAIT, "pktd bound to 4848")
        h.ns.run("python3", "-c", SEND_ONE, h.addr, "4848", text, check=True)
        self.assertEqual(recv.wait(WAIT), 0, recv.errors())
        self.assertRegex(recv.output(), rf"^from {re.escape(h.linux)}:\d+: {text}\n$")
        ip = h.counters()["ip"]
        self.assertGreaterEqual(ip["fragmented"], 1, ip)
        self.assertGreaterEqual(ip["reassembled"], 1, ip)

    def test_subnet_broadcast_from_linux(self):
        h = self.h
        recv = h.pkt_background("udp", "recv", "-c", "1", "-W", "30", "4949")
        eventually(lambda: h.pktd_bound(4949) or not recv.running(), WAIT, "pktd bound to 4949")
        h.ns.run("python3", "-c", BROADCAST_ONE, str(h.net.broadcast_address), "4949",
                 "hello everyone", check=True)
        self.assertEqual(recv.wait(WAIT), 0, recv.errors())
        self.assertRegex(recv.output(), rf"^from {re.escape(h.linux)}:\d+: hello everyone")

    def test_subnet_broadcast_to_linux(self):
        h = self.h
        got = h.linux_receiver(4545, broadcast=True)
        broadcast = str(h.net.broadcast_address)
        h.pkt("udp", "send", "-p", "5454", broadcast, "4545", "hello everyone", check=True)
        self.assertEqual(got.wait(WAIT + 30), 0, got.errors())
        self.assertIn(f"from {h.addr}:5454: hello everyone", got.output())


class PortUnreachable(unittest.TestCase):
    def test_a_closed_port_is_refused(self):
        h = TapHost(self)
        before = h.counters()
        r = h.ns.run("python3", "-c", SEND_TO_CLOSED, h.addr, "4646", str(WAIT), timeout=WAIT + 30)
        self.assertEqual(r.stdout.strip(), "ECONNREFUSED", r.stdout + r.stderr)
        after = h.counters()
        self.assertGreater(after["udp"]["no_port"], before["udp"]["no_port"])
        self.assertGreater(after["icmp"]["dest_unreachable_sent"],
                           before["icmp"]["dest_unreachable_sent"])
        self.assertGreater(after["icmp"]["errors_sent"], before["icmp"]["errors_sent"])
        # Not for a broadcast: counted, and no ICMP error.
        h.ns.run("python3", "-c", BROADCAST_ONE, str(h.net.broadcast_address), "4646", "all?",
                 check=True)
        eventually(lambda: h.counters()["udp"]["no_port_broadcast"] > 0, WAIT,
                   "udp.no_port_broadcast")
        last = h.counters()
        self.assertEqual(last["icmp"]["dest_unreachable_sent"],
                         after["icmp"]["dest_unreachable_sent"])
        self.assertEqual(last["udp"]["no_port"], after["udp"]["no_port"])


class Routing(unittest.TestCase):
    """pktd reaches a second namespace ("far") through Linux on the TAP, which forwards."""

    def setUp(self):
        h = self.h = TapHost(self)
        self.far_net = far = random_subnet(h.net)
        self.far = NetNs()
        self.addCleanup(self.far.close)
        self.far_addr, near_addr = str(far[2]), str(far[1])
        near_dev, far_dev = unique("va")[:15], unique("vb")[:15]
        h.ns.ip("link", "add", near_dev, "type", "veth", "peer", "name", far_dev,
                "netns", self.far.name)
        h.ns.ip("addr", "add", f"{near_addr}/24", "dev", near_dev)
        h.ns.ip("link", "set", near_dev, "up")
        self.far.ip("addr", "add", f"{self.far_addr}/24", "dev", far_dev)
        self.far.ip("link", "set", far_dev, "up")
        self.far.ip("route", "add", str(h.net), "via", near_addr)
        h.ns.sysctl("net.ipv4.ip_forward=1")

    def ping_far(self, count=2):
        return self.h.pkt("ping", "-c", str(count), "-W", "5", self.far_addr)

    def routes(self):
        return self.h.d.pkt_json("netstat", "-rn")

    def test_a_route_through_a_gateway(self):
        h, net = self.h, str(self.far_net)
        r = self.ping_far(1)  # no route yet
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertNotIn("bytes from", r.stdout)
        h.pkt("route", "add", net, h.linux, check=True)
        r = self.ping_far()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("2 packets transmitted, 2 packets received, 0.0% packet loss", r.stdout)
        self.assertIn(f"bytes from {self.far_addr}", r.stdout)
        got = h.pkt("route", "get", self.far_addr, check=True).stdout
        self.assertIn(f"gateway: {h.linux}", got)
        self.assertIn("interface: tap0", got)
        self.assertIn("GATEWAY", got)
        table = h.pkt("netstat", "-rn", check=True).stdout
        self.assertRegex(table, rf"(?m)^{re.escape(net)}\s+{re.escape(h.linux)}\s+\S*G\S*\s.*tap0$")
        route = next(r for r in self.routes() if r["destination"] == net)
        self.assertEqual(route["gateway"], h.linux)
        self.assertIn("G", route["flags"])
        h.pkt("route", "delete", net, check=True)
        self.assertFalse(any(r["destination"] == net for r in self.routes()))
        r = self.ping_far(1)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertNotIn("bytes from", r.stdout)
        r = h.pkt("route", "delete", net)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)

    def test_icmp_errors_from_the_gateway_reach_ping(self):
        h = self.h
        h.pkt("route", "add", "default", h.linux, check=True)
        h.linux_may_count.add("Ip.InHdrErrors")  # where Linux counts a TTL that runs out
        r = h.pkt("ping", "-c", "1", "-W", "5", "-t", "1", self.far_addr)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"From {h.linux} icmp_seq=0 Time to live exceeded", r.stdout)
        nowhere = random_subnet(h.net, self.far_net)  # Linux has no route there
        r = h.pkt("ping", "-c", "1", "-W", "5", str(nowhere[7]))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"From {h.linux} icmp_seq=0 Destination Net Unreachable", r.stdout)
        icmp = h.counters()["icmp"]
        self.assertGreaterEqual(icmp["time_exceeded_received"], 1)
        self.assertGreaterEqual(icmp["dest_unreachable_received"], 1)

    def test_a_default_route(self):
        h = self.h
        h.pkt("route", "add", "default", h.linux, check=True)
        r = self.ping_far()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("2 packets received", r.stdout)
        got = h.pkt("route", "get", self.far_addr, check=True).stdout
        self.assertIn("destination: default", got)
        self.assertIn(f"gateway: {h.linux}", got)
        self.assertRegex(h.pkt("netstat", "-rn", check=True).stdout,
                         rf"(?m)^default\s+{re.escape(h.linux)}\s+\S*G\S*\s.*tap0$")
        h.pkt("route", "delete", "default", check=True)
        r = self.ping_far(1)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)


def tshark(*args):
    r = subprocess.run(["tshark", *args], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"tshark {' '.join(args)}: {r.returncode}: {r.stderr}")
    return r.stdout


class Capture(unittest.TestCase):
    def setUp(self):
        self.h = TapHost(self)
        d = tempfile.mkdtemp(prefix="pktd-cap-")
        self.addCleanup(os.rmdir, d)
        self.file = os.path.join(d, "ping.pcap")
        self.addCleanup(lambda: os.path.exists(self.file) and os.unlink(self.file))

    def test_a_pcap_file_tshark_reads(self):
        h = self.h
        r = h.linux_ping(h.addr, count=1)  # ARP is done before the capture: only ICMP is seen
        self.assertTrue(loss_free(r), r.stdout + r.stderr)
        cap = h.pkt_background("capture", "tap0", "-w", self.file, "-c", "6")
        # pkt writes the file header after its first read: the capture is on.
        eventually(lambda: os.path.exists(self.file) and os.path.getsize(self.file) >= 24
                   or not cap.running(), WAIT, "the capture to start")
        self.assertTrue(cap.running(), cap.errors())
        r = h.linux_ping(h.addr)
        self.assertTrue(loss_free(r), r.stdout + r.stderr)
        self.assertEqual(cap.wait(WAIT), 0, cap.errors())
        self.assertIn("6 frames captured, 0 dropped", cap.errors())
        with open(self.file, "rb") as f:
            self.assertIn(f.read(4), (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"))  # nanoseconds
        detail = tshark("-r", self.file, "-V")
        for bad in ("Malformed", "malformed", "Expert Info (Error"):
            self.assertNotIn(bad, detail)
        frames = tshark("-r", self.file, "-T", "fields", "-e", "frame.protocols").splitlines()
        self.assertEqual(len(frames), 6, frames)
        types = tshark("-r", self.file, "-T", "fields", "-e", "icmp.type").split()
        self.assertIn("8", types)
        self.assertIn("0", types)
        sources = set(tshark("-r", self.file, "-T", "fields", "-e", "ip.src").split())
        self.assertLessEqual(sources, {h.addr, h.linux})

    def test_text_lines_without_a_file(self):
        h = self.h
        cap = h.pkt_background("capture", "tap0", "-c", "2")

        def pinged_and_captured():  # pings until the capture has seen two frames
            h.linux_ping(h.addr, count=1)
            return not cap.running()
        eventually(pinged_and_captured, WAIT, "two frames captured")
        self.assertEqual(cap.wait(WAIT), 0, cap.errors())
        lines = cap.output().splitlines()
        self.assertEqual(len(lines), 2, lines)
        for line in lines:
            self.assertTrue("ICMP" in line or "ARP" in line, line)
            self.assertNotIn("malformed", line)

    def test_lo0_sees_each_packet_once_and_sigint_ends_the_capture(self):
        h = self.h
        cap = h.pkt_background("capture", "lo0", "-w", self.file)
        eventually(lambda: os.path.exists(self.file) and os.path.getsize(self.file) >= 24
                   or not cap.running(), WAIT, "the capture to start")
        r = h.pkt("ping", "-c", "2", "-W", "5", h.addr)  # through lo0
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        cap.proc.send_signal(signal.SIGINT)
        self.assertEqual(cap.wait(WAIT), 0, cap.errors())
        self.assertIn("frames captured", cap.errors())
        detail = tshark("-r", self.file, "-V")
        self.assertNotIn("alformed", detail)
        # BSD's and Linux's lo show a looped-back packet once, not on the way out and again in.
        types = tshark("-r", self.file, "-T", "fields", "-e", "icmp.type").split()
        self.assertEqual(types, ["8", "0", "8", "0"], tshark("-r", self.file))


class Addresses(unittest.TestCase):
    def setUp(self):
        self.h = TapHost(self)

    def inet(self):
        return {a["address"]: a for a in self.h.d.pkt_json("ifconfig", "tap0")["inet"]}

    def answers(self, addr):
        return loss_free(self.h.linux_ping(addr, count=1))

    def silent(self, addr):
        r = self.h.linux_ping(addr, count=1, wait=2)
        return r.returncode != 0 and "bytes from" not in r.stdout

    def test_aliases_answer_and_are_removed(self):
        h = self.h
        second, third = h.host(3), h.host(4)
        h.pkt("ifconfig", "tap0", f"{second}/24", "alias", check=True)
        h.pkt("ifconfig", "tap0", "inet", third, "netmask", "255.255.255.0", "alias", check=True)
        self.assertEqual(set(self.inet()), {h.addr, second, third})
        shown = h.pkt("ifconfig", "tap0", check=True).stdout
        for a in (h.addr, second, third):
            self.assertIn(f"\tinet {a} netmask 0xffffff00 broadcast {h.net.broadcast_address}",
                          shown)
        for a in (h.addr, second, third):
            self.assertTrue(self.answers(a), a)
        h.pkt("ifconfig", "tap0", second, "-alias", check=True)
        self.assertEqual(set(self.inet()), {h.addr, third})
        self.assertTrue(self.silent(second))
        self.assertTrue(self.answers(h.addr))
        r = h.pkt("ifconfig", "tap0", second, "-alias")  # not there any more
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(second, r.stderr)

    def test_an_address_without_alias_replaces_the_primary(self):
        h = self.h
        new = h.host(5)
        h.pkt("ifconfig", "tap0", new, "netmask", "0xffffff00", check=True)
        self.assertEqual(set(self.inet()), {new})
        self.assertTrue(self.answers(new))
        self.assertTrue(self.silent(h.addr))
        r = h.pkt("ping", "-c", "1", "-W", "5", h.linux)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)  # from the new address

    def test_the_primary_address_may_be_given_again(self):
        # BSD's ifconfig IF A/LEN replaces the primary address even when it is A itself: how the
        # netmask of an address is changed, and why running a configuration twice is harmless.
        h = self.h
        r = h.pkt("ifconfig", "tap0", f"{h.addr}/24", "up")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(set(self.inet()), {h.addr})
        r = h.pkt("ifconfig", "tap0", f"{h.addr}/25")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.inet()[h.addr]["prefix_len"], 25)
        table = h.pkt("netstat", "-rn", check=True).stdout
        self.assertRegex(table, rf"(?m)^{re.escape(str(h.net[0]))}/25\s.*tap0$")
        self.assertNotIn(str(h.net), table)
        self.assertTrue(self.answers(h.addr))

    def test_connected_routes_follow_the_addresses(self):
        h = self.h
        other = random_subnet(h.net)
        table = h.pkt("netstat", "-rn", check=True).stdout
        self.assertRegex(table, rf"(?m)^{re.escape(str(h.net))}\s+link#\d+\s+\S*C\S*\s.*tap0$")
        self.assertRegex(table, rf"(?m)^{re.escape(h.addr)}\s.*lo0$")
        h.pkt("ifconfig", "tap0", f"{other[9]}/24", "alias", check=True)
        table = h.pkt("netstat", "-rn", check=True).stdout
        self.assertRegex(table, rf"(?m)^{re.escape(str(other))}\s.*tap0$")
        got = h.pkt("route", "get", str(other[20]), check=True).stdout
        self.assertIn("interface: tap0", got)
        self.assertNotRegex(got, r"gateway: \d")  # no gateway address: directly connected
        h.pkt("ifconfig", "tap0", str(other[9]), "-alias", check=True)
        table = h.pkt("netstat", "-rn", check=True).stdout
        self.assertNotIn(str(other), table)
        self.assertIn(str(h.net), table)

    def test_bad_addresses_are_refused(self):
        h = self.h
        for args, status, says in (
                (["ifconfig", "tap0", "300.1.1.1/24"], 2, "300.1.1.1"),
                (["ifconfig", "tap0", f"{h.host(6)}/33"], 2, "/33"),
                (["ifconfig", "tap0", h.host(6), "netmask", "255.0.255.0"], 2, "netmask"),
                (["ifconfig", "tap0", h.host(6)], 2, "prefix length"),
                (["ifconfig", "nosuch0", f"{h.host(6)}/24"], 1, "nosuch0")):
            with self.subTest(args=args):
                r = h.pkt(*args)
                self.assertEqual(r.returncode, status, r.stdout + r.stderr)
                self.assertIn(says, r.stderr)
        self.assertEqual(set(self.inet()), {h.addr})


if __name__ == "__main__":
    unittest.main(verbosity=2)

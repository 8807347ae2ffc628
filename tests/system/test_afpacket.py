"""devnp-afpacket.so as an operator uses it: a veth pair the test makes, one end in a namespace
with Linux's address on it, the other end in the root namespace (up, no address) with pktd
attached to it through AF_PACKET. ICMP (fragmented too) and UDP both ways, VLAN frames, frames
too long, the Linux device's link state and its deletion, option errors, mount/umount cycles and
unloading under traffic."""
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pktdtest import Daemon, NetNs, eventually, random_subnet, unique  # noqa: E402

# Generous: sanitizer builds are several times slower, and nothing here asserts on time.
WAIT = 60


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True).stdout


def link_exists(name):
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


# Inside the namespace: one ARP request (who has argv[2], tell argv[3]) in an 802.1Q frame with
# VLAN ID 42, sent raw on the interface argv[1] (the kernel here may lack VLAN devices).
SEND_TAGGED_ARP = """
import socket, sys
dev, target, sender = sys.argv[1:4]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
mac = s.getsockname()[4]
arp = (bytes.fromhex("0001080006040001") + mac + socket.inet_aton(sender) + bytes(6)
       + socket.inet_aton(target))
s.send(b"\\xff" * 6 + mac + bytes.fromhex("8100002a0806") + arp)
"""


def loss_free(r):
    return r.returncode == 0 and " 0% packet loss" in r.stdout


class Veth:
    """A veth pair: `root` stays in the root namespace, up, with no IPv4 address and IPv6 off (so
    Linux says nothing on it); `peer` goes into ns, up at `linux` (.1 of a random /24)."""

    def __init__(self, test, ns):
        self.root = unique("va")
        self.peer = unique("vb")
        ip("link", "add", self.root, "type", "veth", "peer", "name", self.peer)
        test.addCleanup(self.delete)
        subprocess.run(["sysctl", "-qw", f"net.ipv6.conf.{self.root}.disable_ipv6=1"], check=True)
        ip("link", "set", self.peer, "netns", ns.name)
        self.net = random_subnet()
        self.linux = str(self.net[1])
        ns.ip("addr", "add", f"{self.linux}/24", "dev", self.peer)
        ns.ip("link", "set", self.peer, "up")
        ip("link", "set", self.root, "up")

    def delete(self):
        if link_exists(self.root):
            ip("link", "del", self.root, check=False)


class AfpHost:
    """A namespace with IPv6 off, a Veth into it and pktd attached to the root end as afp0 at .2
    (options: more afpacket options, "blocksize=4096"). Cleanup checks that pktd ends cleanly
    (status 0, so no sanitizer report either) and removes the namespace and the pair."""

    def __init__(self, test, options=""):
        self.test = test
        self.ns = NetNs()
        test.addCleanup(self.ns.close)
        self.ns.sysctl("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        self.veth = Veth(test, self.ns)
        self.linux = self.veth.linux
        self.addr = str(self.veth.net[2])
        spec = f"afpacket,dev={self.veth.root}" + (f",{options}" if options else "")
        self.d = Daemon("-t", "2", "-d", spec)
        test.addCleanup(self.d.close)
        self.d.wait_ready()
        test.addCleanup(self.stop)  # before close, after whatever the test left running
        self.pkt("ifconfig", "afp0", f"{self.addr}/24", "up", check=True)
        self.wait_link("up")

    def stop(self):
        if self.d.proc.poll() is None:
            status = self.d.stop()
            self.test.assertEqual(status, 0, self.d.output()[-6000:])

    def pkt(self, *args, check=False):
        return self.d.pkt(*args, check=check)

    def nicinfo(self):
        return self.pkt("nicinfo", "afp0", check=True).stdout

    def counter(self, label):
        """A counter of pkt nicinfo afp0 by its label ("Transmit errors")."""
        m = re.search(rf"^\s*{re.escape(label)}\s+(\d+)$", self.nicinfo(), re.MULTILINE)
        self.test.assertIsNotNone(m, label)
        return int(m.group(1))

    def status(self):
        """The driver's status request: {"rx_delivered": N, ...} and the text."""
        text = self.pkt("nicinfo", "afp0", "status", check=True).stdout
        return {k: int(v) for k, v in re.findall(r"^(\w+) (\d+)$", text, re.MULTILINE)}, text

    def wait_link(self, state):
        eventually(lambda: f"Link is {state}" in self.nicinfo(), WAIT, f"afp0 link {state}")

    def linux_ping(self, addr, *options, count=5, wait=5):
        return self.ns.run("ping", "-n", "-c", str(count), "-W", str(wait), "-i", "0.2",
                           *options, addr, timeout=WAIT + 10 * count)

    def background(self, *args):
        b = self.ns.background(*args)
        self.test.addCleanup(b.close)
        return b

    def pkt_background(self, *args):
        b = self.d.pkt_background(*args)
        self.test.addCleanup(b.close)
        return b

    def pktd_bound(self, port):
        out = self.pkt("netstat", "-an", check=True).stdout
        return re.search(rf"^udp.*[.:]{port}\s", out, re.MULTILINE) is not None


class Traffic(unittest.TestCase):
    def setUp(self):
        self.h = AfpHost(self)

    def test_pings_both_ways_small_and_fragmented(self):
        h = self.h
        r = h.linux_ping(h.addr)
        self.assertTrue(loss_free(r), r.stdout + r.stderr)
        self.assertEqual(r.stdout.count(f"bytes from {h.addr}"), 5)
        self.assertNotIn("DUP!", r.stdout)
        r = h.pkt("ping", "-c", "3", "-W", "5", h.linux)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("3 packets transmitted, 3 packets received, 0.0% packet loss", r.stdout)
        # 8,028 octets in 1500-octet frames: 6 fragments each way.
        r = h.linux_ping(h.addr, "-s", "8000", count=2)
        self.assertTrue(loss_free(r), r.stdout + r.stderr)
        self.assertIn(f"8008 bytes from {h.addr}", r.stdout)
        self.assertNotIn("wrong data", r.stdout)
        r = h.pkt("ping", "-c", "2", "-W", "5", "-s", "8000", h.linux)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("2 packets transmitted, 2 packets received, 0.0% packet loss", r.stdout)
        ipc = h.d.counters()["ip"]
        self.assertGreaterEqual(ipc["reassembled"], 4, ipc)
        self.assertGreaterEqual(ipc["fragmented"], 4, ipc)
        st, text = h.status()
        self.assertGreaterEqual(st["rx_delivered"], 5 + 3 + 2 * 6 + 2 * 6, text)
        # Our own frames never come back, and nothing was lost or cut.
        for name in ("rx_outgoing_skipped", "rx_truncated", "rx_malformed", "kernel_drops"):
            self.assertEqual(st[name], 0, text)
        self.assertEqual(h.counter("Receive errors"), 0)
        self.assertEqual(h.counter("Transmit errors"), 0)

    def test_udp_both_ways(self):
        h = self.h
        recv = h.pkt_background("udp", "recv", "-c", "1", "-W", "30", "4242")
        eventually(lambda: h.pktd_bound(4242) or not recv.running(), WAIT, "pktd bound to 4242")
        self.assertTrue(recv.running(), recv.errors())
        h.ns.run("socat", "-", f"UDP:{h.addr}:4242", input="hello from linux\n", check=True)
        self.assertEqual(recv.wait(WAIT), 0, recv.errors())
        self.assertRegex(recv.output(), rf"^from {re.escape(h.linux)}:\d+: hello from linux")
        # veth leaves the UDP checksum to "hardware" (TP_STATUS_CSUMNOTREADY): the driver
        # finished it, or pktd would have dropped the datagram as bad.
        self.assertEqual(h.d.counters()["udp"].get("bad_checksum", 0), 0)
        st, text = h.status()
        self.assertGreaterEqual(st["rx_csum_completed"], 1, text)
        got = h.background("socat", "-u", "UDP-RECV:4343", "-")
        eventually(lambda: ":4343 " in h.ns.run("ss", "-Hlun").stdout or not got.running(),
                   WAIT, "socat bound")
        h.pkt("udp", "send", h.linux, "4343", "hello from pktd", check=True)
        eventually(lambda: "hello from pktd" in got.output(), WAIT, "socat to print it")

    def test_vlan_frames_keep_their_tag(self):
        # Linux takes the 802.1Q tag out of every received frame before packet sockets see it;
        # the driver writes it back, so pktd (which has no VLANs) counts and drops an ARP request
        # for its address on VLAN 42 instead of answering it as if it were untagged.
        h = self.h
        before = h.d.counters()
        h.ns.run("python3", "-c", SEND_TAGGED_ARP, h.veth.peer, h.addr, h.linux, check=True)
        eventually(lambda: h.d.counters()["ether"]["vlan_tagged"] > before["ether"]["vlan_tagged"],
                   WAIT, "pktd to count a tagged frame")
        st, text = h.status()
        self.assertGreaterEqual(st["rx_vlan_reinserted"], 1, text)
        self.assertEqual(h.d.counters()["arp"], before["arp"])  # not seen as ARP, not answered

    def test_unicast_to_another_mac_is_filtered(self):
        h = self.h
        root_mac = json.loads(ip("-j", "link", "show", h.veth.root))[0]["address"]
        stranger = str(h.veth.net[99])
        h.ns.ip("neigh", "add", stranger, "lladdr", root_mac, "dev", h.veth.peer)
        before = h.d.counters()["ether"]["not_for_us"]
        h.linux_ping(stranger, count=2, wait=1)
        eventually(lambda: h.status()[0]["rx_filtered"] >= 2, WAIT, "two frames filtered")
        self.assertEqual(h.d.counters()["ether"]["not_for_us"], before)


class LongFrames(unittest.TestCase):
    """Frames that do not fit: both ends of the pair go to MTU 9000 after pktd attached at 1500,
    and Linux sends an 8,028-octet ping in one frame."""

    def jumbo_ping(self, h):
        ip("link", "set", h.veth.root, "mtu", "9000")
        h.ns.ip("link", "set", h.veth.peer, "mtu", "9000")
        r = h.linux_ping(h.addr, "-s", "8000", "-M", "dont", count=1, wait=1)
        self.assertNotIn(f"bytes from {h.addr}", r.stdout)

    def test_a_frame_longer_than_a_block_is_an_input_error(self):
        h = AfpHost(self, "blocksize=4096")
        errors = h.counter("Receive errors")
        self.jumbo_ping(h)
        eventually(lambda: h.status()[0]["rx_truncated"] >= 1, WAIT, "a truncated frame")
        self.assertGreater(h.counter("Receive errors"), errors)

    def test_a_frame_longer_than_the_mtu_is_an_input_error(self):
        h = AfpHost(self)
        self.jumbo_ping(h)
        eventually(lambda: h.status()[0]["rx_oversize"] >= 1, WAIT, "an oversize frame")
        st, text = h.status()
        self.assertEqual(st["rx_truncated"], 0, text)
        self.assertGreaterEqual(h.counter("Receive errors"), 1)
        # Back to 1500 on the Linux side: pktd still works.
        ip("link", "set", h.veth.root, "mtu", "1500")
        h.ns.ip("link", "set", h.veth.peer, "mtu", "1500")
        self.assertTrue(loss_free(h.linux_ping(h.addr, count=2)))


class LinkState(unittest.TestCase):
    def setUp(self):
        self.h = AfpHost(self)

    def test_link_follows_the_linux_device(self):
        h = self.h
        ip("link", "set", h.veth.root, "down")
        h.wait_link("down")
        self.assertIn("<UP,", h.pkt("ifconfig", "afp0", check=True).stdout)  # admin state stays
        ip("link", "set", h.veth.root, "up")
        h.wait_link("up")
        # The far end going down takes the carrier away.
        h.ns.ip("link", "set", h.veth.peer, "down")
        h.wait_link("down")
        h.ns.ip("link", "set", h.veth.peer, "up")
        h.wait_link("up")
        self.assertGreaterEqual(h.counter("Link changes"), 5)
        r = h.pkt("ping", "-c", "2", "-W", "5", h.linux)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_deleting_the_device_is_logged_and_pktd_stays_up(self):
        h = self.h
        self.assertEqual(h.pkt("ping", "-c", "1", "-W", "5", h.linux).returncode, 0)
        ip("link", "del", h.veth.root)
        eventually(lambda: "has gone away" in h.d.output(), WAIT, "the deletion logged")
        self.assertIn(f"Linux device {h.veth.root} has gone away", h.d.output())
        h.wait_link("down")
        errors = h.counter("Transmit errors")
        r = h.pkt("ping", "-c", "1", "-W", "1", h.linux)
        self.assertEqual(r.returncode, 1, r.stdout)
        eventually(lambda: h.counter("Transmit errors") > errors, WAIT, "an output error")
        st, text = h.status()
        self.assertIn("device gone", text)
        h.pkt("umount", "afp0", check=True)
        self.assertNotIn("afp0", h.pkt("ifconfig", check=True).stdout)


class Mounting(unittest.TestCase):
    def setUp(self):
        self.ns = NetNs()
        self.addCleanup(self.ns.close)
        self.veth = Veth(self, self.ns)
        self.d = Daemon("-t", "2")
        self.addCleanup(self.d.close)
        self.d.wait_ready()

    def mount(self, *options):
        return self.d.pkt("mount", "-o", ",".join((f"dev={self.veth.root}",) + options),
                          "afpacket")

    def test_bad_options_and_devices_are_explained_and_pktd_stays_up(self):
        missing = unique("nx")
        ip("link", "set", self.veth.root, "mtu", "9000")  # more than a 4 KiB block holds
        cases = [
            ("", "dev=IFNAME is required"),
            (f"dev={missing}", f"dev={missing}: no such Linux interface"),
            ("dev=lo", "dev=lo: not an Ethernet device"),
            (f"dev={self.veth.root},blocksize=5000", "multiple of the page size"),
            (f"dev={self.veth.root},blocksize=4096", "cannot hold a frame"),
            (f"dev={self.veth.root},blocks=1", "blocks=1: expected a number from 2"),
            (f"dev={self.veth.root},framesize=100", "framesize=100: must be a multiple of 16"),
            (f"dev={self.veth.root},retire_ms=0", "retire_ms=0"),
            (f"dev={self.veth.root},rxbatch=x", "rxbatch=x"),
            (f"dev={self.veth.root},blocksize=4194304,blocks=4096", "at most"),
            (f"dev={self.veth.root},frobnicate", "unknown option 'frobnicate'"),
        ]
        for options, says in cases:
            with self.subTest(options=options):
                args = ["mount"] + (["-o", options] if options else []) + ["afpacket"]
                r = self.d.pkt(*args)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn("attach failed", r.stderr)
                self.assertIn(says, self.d.output())
        self.assertEqual(self.d.pkt("ifconfig", check=True).stdout.count("flags="), 1)  # lo0
        # The same at start-up: the driver is refused, pktd runs.
        d = Daemon("-t", "1", "-d", f"afpacket,dev={missing}")
        self.addCleanup(d.close)
        d.wait_ready()
        self.assertIn(f"dev={missing}: no such Linux interface", d.output())
        self.assertEqual(d.stop(), 0)
        self.assertEqual(self.d.stop(), 0)

    def test_options_shape_the_ring(self):
        r = self.mount("blocksize=65536", "blocks=4", "framesize=4096", "retire_ms=5",
                       "rxbatch=8")
        self.assertEqual(r.returncode, 0, r.stderr)
        text = self.d.pkt("nicinfo", "afp0", "status", check=True).stdout
        self.assertIn("4 blocks of 65536 bytes (256 KiB), frame size 4096, retire timeout 5 ms, "
                      "rxbatch 8", text)
        self.assertIn(f"AF_PACKET on Linux device {self.veth.root}", text)
        r = self.d.pkt("nicinfo", "afp0", "frobnicate")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown request 'frobnicate'", r.stderr)
        self.assertIn("status", self.d.pkt("nicinfo", "afp0", "help", check=True).stdout)
        # The pktd interface takes the Linux device's MTU.
        ip("link", "set", self.veth.root, "mtu", "4000")
        self.d.pkt("umount", "afp0", check=True)
        self.assertEqual(self.mount().returncode, 0)
        self.assertIn("mtu 4000", self.d.pkt("ifconfig", "afp0", check=True).stdout)
        self.assertEqual(self.d.stop(), 0)

    def test_twenty_mount_umount_cycles_leave_no_fd_growth(self):
        pid = self.d.proc.pid
        for _ in range(2):  # warm up
            self.assertEqual(self.mount().returncode, 0)
            self.d.pkt("umount", "afp0", check=True)
        before = fds(pid)
        for _ in range(20):
            r = self.mount()
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("afp0", r.stdout)
            self.d.pkt("umount", "afp0", check=True)
        # pktd closes a connection shortly after pkt exits, so the count may include the last
        # one; a leak would show as 20 or 40 more.
        eventually(lambda: fds(pid) <= before, WAIT, f"fds back to at most {before}")
        # Promiscuous mode ended with the sockets.
        self.assertNotIn("PROMISC", ip("link", "show", self.veth.root))
        self.assertEqual(self.d.stop(), 0)

    def test_unloading_under_traffic(self):
        net = self.veth.net
        addr = str(net[2])
        for round_ in range(3):
            with self.subTest(round=round_):
                self.assertEqual(self.mount().returncode, 0)
                self.d.pkt("ifconfig", "afp0", f"{addr}/24", "up", check=True)
                eventually(lambda: "Link is up" in self.d.pkt("nicinfo", "afp0").stdout, WAIT,
                           "link up")
                flood = self.ns.background("ping", "-f", "-s", "1400", "-W", "1", addr)
                self.addCleanup(flood.close)
                eventually(lambda: self.d.counters()["icmp"]["echo_requests"] > 50 * (round_ + 1),
                           WAIT, "echo requests flowing")
                self.d.pkt("umount", "afp0", check=True)
                flood.close()
        self.assertIn("lo0", self.d.pkt("ifconfig", check=True).stdout)
        self.assertEqual(self.d.stop(), 0)


if __name__ == "__main__":
    unittest.main()

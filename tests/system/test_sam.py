"""devnp-sam.so as a driver writer and an operator see it in pktd: its requests through
pkt nicinfo, load/unload cycles, and pktd's checks for the classic driver mistakes (a transmit
that is never restarted, a callback that blocks the stack context, a thread deaf to quiesce)."""
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pktdtest import Daemon, eventually, random_subnet, rss_kib  # noqa: E402


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def mapped(pid, name):
    with open(f"/proc/{pid}/maps") as f:
        return name in f.read()


def counter(nicinfo, label):
    m = re.search(rf"^\s*{re.escape(label)}\s+(\d+)$", nicinfo, re.M)
    assert m, f"{label} not in\n{nicinfo}"
    return int(m.group(1))


class Sam(unittest.TestCase):
    def start(self, *args):
        d = Daemon("-t", "2", *args)
        self.addCleanup(d.close)
        d.wait_ready()
        return d

    def request(self, d, *words):
        return d.pkt("nicinfo", "sam0", *words, check=True).stdout

    def link_is(self, d, state):
        return f"Link is {state}" in d.pkt("nicinfo", "sam0", check=True).stdout

    def address(self, d):
        net = random_subnet()
        d.pkt("ifconfig", "sam0", f"{net[1]}/24", check=True)
        d.pkt("ifconfig", "sam0", "up", check=True)
        return net

    def test_requests_report_and_change_the_hardware(self):
        d = self.start("-d", "sam,pair,txd=16")
        status = self.request(d, "status")
        self.assertIn("sam0: pair port 0, link up, firmware: built-in image", status)
        self.assertIn("tx: 16 descriptors, 0 in flight, engine running", status)
        self.assertIn("cable pulled out", self.request(d, "link", "down"))
        # Both ends of the pair see the cable go, through their link interrupts.
        eventually(lambda: self.link_is(d, "down"), what="sam0 link down")
        eventually(lambda: "Link is down" in d.pkt("nicinfo", "sam1", check=True).stdout,
                   what="sam1 link down")
        self.request(d, "link", "up")
        eventually(lambda: self.link_is(d, "up"), what="sam0 link up")
        for bad in (["link", "sideways"], ["mistake", "block", "0"], ["fly"]):
            r = d.pkt("nicinfo", "sam0", *bad)
            self.assertEqual(r.returncode, 1, bad)
            self.assertIn("sam0:", r.stderr)
        self.assertEqual(d.stop(), 0)

    def test_hundred_mount_umount_cycles_leave_no_growth(self):
        d = self.start()
        pid = d.proc.pid
        for _ in range(5):  # warm up allocators and caches
            d.pkt("mount", "-o", "pair", "sam", check=True)
            d.pkt("umount", "sam0", check=True)
            d.pkt("umount", "sam1", check=True)
        before = (fds(pid), threads(pid), rss_kib(pid))
        for _ in range(100):
            out = d.pkt("mount", "-o", "pair", "sam", check=True).stdout
            self.assertEqual(out.split(), ["sam0", "sam1"])
            d.pkt("umount", "sam0", check=True)
            d.pkt("umount", "sam1", check=True)
        eventually(lambda: fds(pid) <= before[0], what=f"fds back to at most {before[0]}")
        self.assertEqual(threads(pid), before[1], "threads (the engines are reaped)")
        if not os.environ.get("PKTD_SANITIZE"):
            self.assertLess(rss_kib(pid) - before[2], 2048, "RSS grew by more than 2 MiB")
        self.assertFalse(mapped(pid, "devnp-sam.so"))
        self.assertEqual(d.stop(), 0)

    def test_firmware_is_loaded_through_blockop_and_a_missing_file_is_explained(self):
        d = self.start()
        with tempfile.NamedTemporaryFile(prefix="sam-fw-") as fw:
            fw.write(b"\x7fSAM" * 1000)
            fw.flush()
            d.pkt("mount", "-o", f"firmware={fw.name},fwload_ms=50", "sam", check=True)
            self.assertIn(f"firmware: {fw.name}, 4000 bytes", self.request(d, "status"))
        r = d.pkt("mount", "-o", "firmware=/nonexistent/sam.bin", "sam")
        self.assertEqual(r.returncode, 1)
        # The driver's own reason reaches the caller, not only the log.
        self.assertIn("attach failed: sam: cannot load firmware /nonexistent/sam.bin: No such file",
                      r.stderr)
        self.assertIn("cannot load firmware /nonexistent/sam.bin: No such file", d.output())
        for options, says in (("txd=1", "txd=1: expected a number from 2 to 4096"),
                              ("cable=a/b", "cable=a/b: expected 1 to 64"),
                              ("pair,cable=x", "pair and cable= exclude each other"),
                              ("mistake=clumsy", "mistake=clumsy"),
                              ("speed=10", "unknown option 'speed'")):
            with self.subTest(options=options):
                r = d.pkt("mount", "-o", options, "sam")
                self.assertEqual(r.returncode, 1)
                self.assertIn(says, r.stderr)
                self.assertIn(says, d.output())
        self.assertEqual(d.stop(), 0)

    def transmit_across_a_flap(self, d):
        """Queues datagrams on sam0 while its cable is out, then plugs it back in."""
        net = self.address(d)
        # A permanent neighbour: the datagrams go straight to the send queue, no ARP retries.
        d.pkt("arp", "-s", str(net[2]), "02:00:00:00:00:99", check=True)
        self.request(d, "link", "down")
        eventually(lambda: self.link_is(d, "down"), what="link down")
        for port in (9, 10, 11):
            d.pkt("udp", "send", str(net[2]), str(port), "x", check=True)
        eventually(lambda: "Send queue: 3 of" in d.pkt("nicinfo", "sam0", check=True).stdout,
                   what="datagrams queued")
        self.request(d, "link", "up")
        eventually(lambda: self.link_is(d, "up"), what="link up")

    def test_a_driver_that_never_restarts_transmission_is_named(self):
        d = self.start("-p", "tcpip,tx_stall_ms=300", "-d", "sam,mistake=no-restart,stale=0")
        self.transmit_across_a_flap(d)
        eventually(lambda: "packets stuck in the send queue" in d.output(), timeout=15,
                   what="the stall report")
        self.assertRegex(d.output(), r"sam0: 3 packets stuck in the send queue for \d+ ms")
        info = d.pkt("nicinfo", "sam0", check=True).stdout
        self.assertGreaterEqual(counter(info, "Transmit stalls (no restart)"), 1)
        self.assertEqual(d.stop(), 0)

    def test_the_seed_pattern_restarts_on_link_up_and_is_not_named(self):
        d = self.start("-p", "tcpip,tx_stall_ms=300", "-d", "sam")
        self.transmit_across_a_flap(d)
        eventually(lambda: "Send queue: 0 of" in d.pkt("nicinfo", "sam0", check=True).stdout,
                   what="the queue sent after link up")
        self.assertIn("link restarts 1", self.request(d, "status"))
        info = d.pkt("nicinfo", "sam0", check=True).stdout
        self.assertEqual(counter(info, "Transmit stalls (no restart)"), 0)

        # sam loops back: what it sent, it received (TX-done may be counted a little later).
        def looped_back():
            info = d.pkt("nicinfo", "sam0", check=True).stdout
            return counter(info, "Packets received") == counter(info, "Packets transmitted") > 0
        eventually(looped_back, what="every frame sent received back")
        self.assertEqual(d.stop(), 0)

    def test_a_callback_that_blocks_the_stack_context_is_named_by_the_watchdog(self):
        d = self.start("-p", "tcpip,stack_watchdog_ms=100", "-d", "sam")
        self.request(d, "mistake", "block", "700")
        # Under a sanitizer the start-up itself may hold the stack context past 100 ms and be
        # reported first: the report that matters is the one about the blocking callout.
        def sam_report():
            return next((l for l in d.output().splitlines()
                         if "watchdog: the stack context has been held" in l and "callout" in l), None)
        line = eventually(sam_report, what="the watchdog report about the callout")
        self.assertIn("devnp-sam.so", line)
        self.assertIn("callout", line)
        self.assertEqual(d.stop(), 0)

    def test_an_engine_deaf_to_quiesce_is_named_and_the_reset_refused(self):
        d = self.start("-p", "tcpip,quiesce_timeout_ms=300", "-d", "sam")
        self.assertIn("rings reset", self.request(d, "reset"))
        self.request(d, "mistake", "deaf")
        r = d.pkt("nicinfo", "sam0", "reset")
        self.assertEqual(r.returncode, 1)
        self.assertIn("quiesce_all failed", r.stderr)
        self.assertRegex(d.output(), r"tracked thread 'sam0 engine' \(tid \d+\) did not call "
                                     r"quiesce_block")
        self.request(d, "mistake", "none")
        self.assertIn("rings reset", self.request(d, "reset"))
        self.assertIn("resets 2", self.request(d, "status"))
        self.assertEqual(d.stop(), 0)

    def test_going_down_with_the_engine_held_stops_promptly(self):
        d = self.start("-d", "sam,txd=4")
        net = self.address(d)
        d.pkt("arp", "-s", str(net[2]), "02:00:00:00:00:99", check=True)
        self.request(d, "txhold")
        for port in range(20, 30):
            d.pkt("udp", "send", str(net[2]), str(port), "x", check=True)
        eventually(lambda: "waiting for descriptors" in self.request(d, "status"),
                   what="descriptors exhausted")
        d.pkt("ifconfig", "sam0", "down", check=True)
        self.assertIn("Send queue: 0 of", d.pkt("nicinfo", "sam0", check=True).stdout)
        self.assertIn("waiting for nothing", self.request(d, "status"))
        self.request(d, "txresume")
        d.pkt("ifconfig", "sam0", "up", check=True)
        # Up again, it sends: the stop left no wait behind.
        d.pkt("udp", "send", str(net[2]), "31", "x", check=True)
        eventually(lambda: "Send queue: 0 of" in d.pkt("nicinfo", "sam0", check=True).stdout,
                   what="the datagram sent after up")
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

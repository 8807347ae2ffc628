"""devnp-nointr.so, the sample driver for a device with no receive interrupt (docs/nointr.md).

Two pktd joined by Unix datagram sockets ping each other (small, fragmented, flooded); the receive
thread is a named tracked thread that answers quiesce and leaves with its interface, 50 times
under traffic; a Python socket playing the peer sends bad frames and stops reading; bad options,
a taken path and a missing peer are refused or counted, and pktd stays up."""
import os
import re
import shutil
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pktdtest import Daemon, eventually, random_subnet  # noqa: E402

# Generous: sanitizer builds are several times slower, and nothing here asserts on time.
WAIT = 60
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                     "runtime error:")


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def task_names(pid):
    """{tid: name} of every thread of pid."""
    names = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                names[int(tid)] = f.read().strip()
        except FileNotFoundError:  # ended while we looked
            pass
    return names


def ping_result(out):
    """(transmitted, received) from pkt ping's summary."""
    m = re.search(r"(\d+) packets transmitted, (\d+) packets received", out)
    assert m, f"no ping summary in:\n{out}"
    return int(m.group(1)), int(m.group(2))


def ethernet_frame(dst, ethertype, length):
    """A frame of length bytes from a made-up source."""
    header = bytes.fromhex(dst.replace(":", "")) + bytes.fromhex("02aabbccddee") + ethertype
    return header + bytes(length - len(header))


class End:
    """One pktd with a nointr interface bound at path, sending to peer, addressed addr/24.
    It must end cleanly (status 0: no sanitizer report), checked at cleanup."""

    def __init__(self, test, path, peer, addr=None, extra=""):
        self.test = test
        self.path, self.peer, self.addr = path, peer, addr
        self.options = f"path={path},peer={peer}{extra}"
        self.d = Daemon("-t", "2", "-d", f"nointr,{self.options}")
        test.addCleanup(self.d.close)
        self.d.wait_ready()
        test.addCleanup(self.stop)  # before close
        if addr:
            self.address()

    def address(self):
        self.pkt("ifconfig", "nointr0", f"{self.addr}/24", "up", check=True)

    def pkt(self, *args, check=False):
        return self.d.pkt(*args, check=check)

    def ping(self, addr, *options, count=20, interval="0.05"):
        """(transmitted, received) of pkt ping."""
        r = self.pkt("ping", "-c", str(count), "-i", interval, *options, addr)
        return ping_result(r.stdout)

    def status(self):
        """The driver's status request as {"name": "value"}."""
        out = self.pkt("nicinfo", "nointr0", "status", check=True).stdout
        return dict(line.split(": ", 1) for line in out.splitlines())

    def count(self, name):
        return int(self.status()[name])

    def link(self):
        out = self.pkt("ifconfig", "nointr0", check=True).stdout
        return re.search(r"status: ([a-z ]+)", out)[1]

    def stop(self):
        status = self.d.stop()
        out = self.d.output()
        self.test.assertEqual(status, 0, out[-6000:])
        for report in SANITIZER_REPORTS:
            self.test.assertNotIn(report, out)


class NointrTest(unittest.TestCase):
    def setUp(self):
        # Socket paths unique to this test: parallel runs never meet.
        self.dir = tempfile.mkdtemp(prefix="pktd-nointr-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.net = random_subnet()

    def sock(self, name):
        return os.path.join(self.dir, name)

    def host(self, n):
        return str(self.net[n])

    def link(self):
        """Two pktd pointing at each other, at .1 and .2."""
        a = End(self, self.sock("a.sock"), self.sock("b.sock"), self.host(1))
        b = End(self, self.sock("b.sock"), self.sock("a.sock"), self.host(2))
        return a, b

    def python_peer(self, name="peer.sock"):
        """A datagram socket standing in for the other end of the wire."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(s.close)
        s.bind(self.sock(name))
        s.settimeout(WAIT)
        return s

    def test_ping_both_ways_fragmented_and_flooded(self):
        a, b = self.link()
        drops = ("rx_drop_queue_full", "rx_drop_no_mbuf", "rx_drop_oversize", "rx_drop_runt",
                 "rx_errors", "tx_drop_no_peer", "tx_drop_oversize", "tx_errors")
        # A may have announced its address before B was there (tx_drop_no_peer): from here on
        # nothing may be dropped.
        before = {end: {d: end.status()[d] for d in drops} for end in (a, b)}
        self.assertEqual(a.ping(b.addr), (20, 20))
        self.assertEqual(b.ping(a.addr), (20, 20))
        # 8000 octets of ICMP data: six fragments each way per echo.
        frames = a.count("rx_frames")
        self.assertEqual(a.ping(b.addr, "-s", "8000", count=5), (5, 5))
        self.assertGreaterEqual(a.count("rx_frames") - frames, 5 * 6)
        # pkt's shortest interval. Unix datagram queues are short (net.unix.max_dgram_qlen), so
        # a burst may meet EAGAIN: start keeps the frame and the kick callout retries (counted
        # as tx_retries), nothing is lost.
        self.assertEqual(a.ping(b.addr, count=500, interval="0.01"), (500, 500))
        self.assertEqual(b.ping(a.addr, "-s", "3000", count=200, interval="0.01"), (200, 200))
        for end in (a, b):
            s = end.status()
            self.assertEqual({d: s[d] for d in drops}, before[end])
            self.assertEqual(s["rx_queue"], "0/256")
            # Every event the thread sent was processed: one process call each at least.
            self.assertGreaterEqual(int(s["rx_process_calls"]), int(s["rx_events_sent"]))
            self.assertEqual(end.link(), "active")

    def test_the_receive_thread_is_tracked_named_and_quiesces(self):
        a, b = self.link()
        rows = a.d.pkt_json("threads")
        rx = [t for t in rows if t["name"] == "nointr0 rx"]
        self.assertEqual(len(rx), 1, rows)
        self.assertEqual(rx[0]["kind"], "tracked")
        self.assertEqual(task_names(a.d.proc.pid).get(rx[0]["tid"]), "nointr0 rx")
        self.assertIn("nointr0 rx", a.pkt("threads", check=True).stdout)
        status = a.status()
        self.assertEqual(int(status["thread_tid"]), rx[0]["tid"])
        self.assertEqual(status["thread"], "waiting for a frame")
        # quiesce_all / unquiesce_all while B floods us: the thread parks in quiesce_block(0)
        # and comes back; what B sent meanwhile waited in the socket or B's send queue.
        flood = b.d.pkt_background("ping", "-c", "300", "-i", "0.01", a.addr)
        self.addCleanup(flood.close)
        for _ in range(20):
            r = a.pkt("nicinfo", "nointr0", "quiesce", check=True)
            self.assertIn("receive thread quiesced and resumed", r.stdout)
        self.assertEqual(flood.wait(WAIT), 0, flood.output() + flood.errors())
        self.assertEqual(ping_result(flood.output()), (300, 300))
        r = a.pkt("nicinfo", "nointr0", "frobnicate")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown request 'frobnicate'", r.stderr)

    def test_fifty_umount_mount_cycles_under_ping(self):
        a, b = self.link()
        pid = a.d.proc.pid
        # B pings A throughout; A's interface comes and goes under it.
        ping = b.d.pkt_background("ping", "-c", "1000000", "-i", "0.01", a.addr)
        self.addCleanup(ping.close)
        eventually(lambda: "bytes from" in ping.output(), WAIT, "B's ping answered")

        def cycle():
            a.pkt("umount", "nointr0", check=True)
            # detach reaps the thread and removes the socket before umount answers.
            self.assertNotIn("nointr0 rx", task_names(pid).values())
            self.assertFalse(os.path.exists(a.path))
            a.pkt("mount", "-o", a.options, "nointr", check=True)
            a.address()

        for _ in range(3):  # warm up allocators and caches
            cycle()
        before = (fds(pid), len(task_names(pid)))
        for _ in range(50):
            cycle()
        self.assertIn("nointr0 rx", task_names(pid).values())
        # pktd closes a control connection shortly after pkt exits: either count may include
        # the last one; a leak would show as 50 more.
        eventually(lambda: fds(pid) <= before[0], WAIT, f"fds back to at most {before[0]}")
        self.assertEqual(len(task_names(pid)), before[1], "threads")
        self.assertTrue(ping.running(), ping.errors())
        answered = ping.output().count("bytes from")
        eventually(lambda: ping.output().count("bytes from") > answered + 10, WAIT,
                   "B's ping answered again")
        self.assertEqual(a.ping(b.addr, count=5), (5, 5))

    def test_bad_options_and_taken_paths_are_refused_and_pktd_stays_up(self):
        a, b = self.link()
        not_a_socket = self.sock("file")
        with open(not_a_socket, "w") as f:
            f.write("keep me")
        nowhere = self.sock("x.sock")
        cases = [
            (f"peer={nowhere}", "path=SOCKET is required"),
            (f"path={self.sock('c.sock')}", "peer=SOCKET is required"),
            (f"path={self.sock('no/such/dir/c.sock')},peer={nowhere}", "No such file or directory"),
            (f"path={b.path},peer={nowhere}", f"path={b.path} is in use"),
            (f"path={not_a_socket},peer={nowhere}", "exists and is not a socket"),
            (f"path=relative.sock,peer={nowhere}", "expected an absolute path"),
            (f"path={nowhere},peer={nowhere}", "a link needs two ends"),
            (f"path={self.sock('c.sock')},peer={nowhere},rxqueue=0", "rxqueue=0"),
            (f"path={self.sock('c.sock')},peer={nowhere},turbo", "unknown option 'turbo'"),
            (f"path={self.sock('c.sock')},path={self.sock('d.sock')},peer={nowhere}",
             "given twice"),
        ]
        for options, says in cases:
            with self.subTest(options=options):
                r = a.pkt("mount", "-o", options, "nointr")
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn("attach failed", r.stderr)
                eventually(lambda: says in a.d.output(), WAIT, f"'{says}' in the log")
        with open(not_a_socket) as f:
            self.assertEqual(f.read(), "keep me")
        self.assertEqual(sorted(os.listdir(self.dir)), ["a.sock", "b.sock", "file"])
        # Both still up, still linked, and only nointr0 and lo0 on A.
        self.assertEqual(a.pkt("ifconfig", check=True).stdout.count("flags="), 2)
        self.assertEqual(a.ping(b.addr, count=3), (3, 3))
        self.assertEqual(b.ping(a.addr, count=3), (3, 3))

    def test_link_follows_the_peer_and_a_stale_socket_is_taken_over(self):
        # A socket file whose owner is gone (nothing bound): A takes the path over.
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        stale.bind(self.sock("a.sock"))
        stale.close()
        a = End(self, self.sock("a.sock"), self.sock("b.sock"), self.host(1))
        self.assertEqual(a.link(), "no carrier")
        self.assertEqual(a.ping(self.host(2), "-W", "0.2", count=2), (2, 0))
        self.assertGreater(a.count("tx_drop_no_peer"), 0)  # its ARP requests
        b = End(self, self.sock("b.sock"), self.sock("a.sock"), self.host(2))
        self.assertEqual(b.link(), "active")  # A was there when B attached
        # A's first frame that B takes brings A's link up.
        self.assertEqual(a.ping(b.addr, count=3), (3, 3))
        self.assertEqual(a.link(), "active")

    def test_the_wire_drops_bad_frames_and_keeps_what_the_peer_cannot_take_yet(self):
        peer = self.python_peer()
        a = End(self, self.sock("a.sock"), self.sock("peer.sock"), self.host(1))
        self.assertEqual(a.link(), "active")
        mac = a.d.pkt_json("ifconfig", "nointr0")["mac"]
        # Shorter than an Ethernet header; longer than MTU 1500 + header + 802.1Q tag.
        peer.sendto(b"\x01" * 5, a.path)
        peer.sendto(ethernet_frame(mac, b"\x08\x00", 1500 + 18 + 1), a.path)
        # The longest frame that fits, with a protocol nobody takes: no error.
        peer.sendto(ethernet_frame(mac, b"\x88\xb5", 1500 + 18), a.path)
        eventually(lambda: a.count("rx_frames") == 1, WAIT, "the good frame handed over")
        status = a.status()
        self.assertEqual((status["rx_drop_runt"], status["rx_drop_oversize"]), ("1", "1"))
        self.assertRegex(a.pkt("nicinfo", "nointr0", check=True).stdout, r"Receive errors\s+2\n")
        # The peer stops reading. A sends 30 echoes of 6 fragments to a static neighbour: the
        # peer's queue fills (EAGAIN), A keeps the rest and retries from its kick callout.
        a.pkt("arp", "-s", self.host(2), "02:00:00:00:00:02", check=True)
        sent_before = a.count("tx_frames")
        a.pkt("ping", "-c", "30", "-i", "0.01", "-W", "0.01", "-s", "8000", self.host(2))
        self.assertGreater(a.count("tx_retries"), 0)
        # Then it reads: every fragment arrives, one frame per datagram.
        fragments = 0
        while fragments < 30 * 6:
            frame = peer.recv(65536)
            if frame[12:14] == b"\x08\x00":
                self.assertEqual(frame[:6], bytes.fromhex("020000000002"))
                fragments += 1
        eventually(lambda: a.count("tx_frames") - sent_before >= 30 * 6, WAIT, "all sent")
        self.assertEqual(a.count("tx_drop_no_peer") + a.count("tx_errors"), 0)

    def test_a_full_internal_queue_drops_and_counts(self):
        # One frame of room between the receive thread and the process callback: a burst meets
        # a full queue now and then; each frame is either handed over or counted (iqdrops).
        peer = self.python_peer()
        a = End(self, self.sock("a.sock"), self.sock("peer.sock"), self.host(1), ",rxqueue=1")
        frame = ethernet_frame("ff:ff:ff:ff:ff:ff", b"\x88\xb5", 60)
        for _ in range(500):
            peer.sendto(frame, a.path)  # blocks while A's socket queue is full
        eventually(lambda: a.count("rx_frames") + a.count("rx_drop_queue_full") == 500, WAIT,
                   "every frame handed over or counted")
        status = a.status()
        self.assertEqual(status["rx_queue"], "0/1")
        nic = a.pkt("nicinfo", "nointr0", check=True).stdout
        drops = int(re.search(r"Receive drops \(no resources\)\s+(\d+)", nic)[1])
        self.assertEqual(drops, int(status["rx_drop_queue_full"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)

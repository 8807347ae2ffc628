"""devnp-wire.so between real pktd instances: two daemons attached to the two ends of a link
(named uniquely per test) ping each other through shared memory; a third is refused; faults set
at mount time and changed at run time through pkt nicinfo take effect (loss within binomial
bounds, delay, duplication, corruption caught by the receiver's checksums); a peer killed with
SIGKILL takes the link down and a newcomer can join; the link's files go with its last end.
TCP between the two stacks, through each kind of fault and all together, arrives intact."""
import json
import math
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pktdtest import Daemon, eventually, random_subnet, unique  # noqa: E402

# Generous: sanitizer builds are several times slower, and nothing here asserts on time.
WAIT = 60
SHM = "/dev/shm"


def link_files(link):
    """What a link leaves in /dev/shm: its segment and its ends' sockets."""
    base = f"pktd-wire.{link}"
    return sorted(n for n in os.listdir(SHM) if n == base or n.startswith(base + "."))


def fields(text, prefix):
    """The KEY=N pairs of the status line starting with prefix, as ints."""
    for line in text.splitlines():
        if line.startswith(prefix):
            return {k: int(v) for k, v in (w.split("=") for w in line[len(prefix):].split())
                    if v.isdigit()}
    raise AssertionError(f"no '{prefix}' line in:\n{text}")


class End:
    """A pktd with wire0 on a link, up at .n of net."""

    def __init__(self, test, link, net, n, *options):
        self.test = test
        self.d = Daemon("-t", "2", "-d", ",".join(["wire", f"link={link}", *options]))
        test.addCleanup(self.d.close)
        self.d.wait_ready()
        self.addr = str(net[n])
        self.pkt("ifconfig", "wire0", f"{self.addr}/24", "up", check=True)

    def pkt(self, *args, check=False):
        return self.d.pkt(*args, check=check)

    def link_is(self, state):
        return f"Link is {state}" in self.pkt("nicinfo", "wire0").stdout

    def request(self, *words):
        """pkt nicinfo wire0 WORDS, which must succeed: the driver's reply."""
        return self.pkt("nicinfo", "wire0", *words, check=True).stdout

    def status(self):
        return self.request("status")

    def injected(self):
        return fields(self.status(), "injected: ")

    def received(self):
        return fields(self.status(), "receive: ")

    def ping(self, addr, count=3, *options):
        """pkt --json ping: {"transmitted": N, "received": M, "results": [...]}."""
        r = self.pkt("--json", "ping", "-c", str(count), *options, addr)
        self.test.assertIn(r.returncode, (0, 1), r.stderr)
        return json.loads(r.stdout)

    def long_ping(self, addr, count, *options, timeout=600):
        """A ping that may outlast pkt's 30 s: run in the background and waited for."""
        bg = self.d.pkt_background("--json", "ping", "-c", str(count), *options, addr)
        self.test.addCleanup(bg.close)
        self.test.assertIn(bg.wait(timeout), (0, 1), bg.errors())
        return json.loads(bg.output())

    def ping_ok(self, addr, count=3, *options):
        p = self.ping(addr, count, "-W", "5", *options)
        self.test.assertEqual((p["transmitted"], p["received"]), (count, count), p)
        return p

    def stop(self):
        """Ends cleanly: status 0, so no sanitizer report either (leaks are found at exit)."""
        status = self.d.stop()
        self.test.assertEqual(status, 0, self.d.output()[-6000:])


class WireTest(unittest.TestCase):
    def setUp(self):
        self.link = unique("wl")
        self.net = random_subnet()
        # A test that kills its ends leaves the link's files behind (the next attach would take
        # them over): remove them, ours only.
        self.addCleanup(self.remove_link_files)

    def remove_link_files(self):
        for name in link_files(self.link):
            os.unlink(os.path.join(SHM, name))

    def end(self, n, *options):
        return End(self, self.link, self.net, n, *options)

    def pair(self, a_options=(), b_options=()):
        a = self.end(1, *a_options)
        b = self.end(2, *b_options)
        for e in (a, b):
            eventually(lambda e=e: e.link_is("up"), WAIT, "link up at both ends")
        return a, b


class Basics(WireTest):
    def test_two_instances_ping_each_other(self):
        a, b = self.pair()
        a.ping_ok(b.addr)
        b.ping_ok(a.addr)
        for e, end, peer in ((a, 0, b), (b, 1, a)):
            self.assertRegex(e.status(),
                             rf"link {self.link}, end {end}, peer attached \(pid {peer.d.proc.pid},")
        self.assertEqual(a.received(), {"too_big": 0, "malformed": 0, "no_mbuf": 0,
                                        "broken_ring": 0})
        a.stop()
        b.stop()

    def test_a_third_instance_is_refused_and_stays_up(self):
        a, b = self.pair()
        c = Daemon("-t", "2", "-d", f"wire,link={self.link}")
        self.addCleanup(c.close)
        c.wait_ready()
        refusal = f"link {self.link}: refused: the link already has its two ends"
        eventually(lambda: refusal in c.output(), WAIT, "the refusal in the log")
        self.assertIsNone(c.proc.poll())
        self.assertNotEqual(c.pkt("nicinfo", "wire0").returncode, 0)  # no interface was left
        r = c.pkt("mount", "-o", f"link={self.link}", "wire")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(refusal, r.stderr)  # pktd passes the driver's reason on
        a.ping_ok(b.addr)  # the two ends did not notice
        self.assertEqual(c.stop(), 0, c.output())
        a.stop()
        b.stop()

    def test_the_link_goes_with_its_last_end(self):
        a, b = self.pair()
        self.assertEqual(link_files(self.link), [f"pktd-wire.{self.link}",
                                                 f"pktd-wire.{self.link}.sock0",
                                                 f"pktd-wire.{self.link}.sock1"])
        a.stop()
        eventually(lambda: b.link_is("down"), WAIT, "link down at the other end")
        self.assertEqual(link_files(self.link), [f"pktd-wire.{self.link}",
                                                 f"pktd-wire.{self.link}.sock1"])
        b.stop()
        self.assertEqual(link_files(self.link), [])

    def test_unmounting_under_traffic_with_held_frames(self):
        a, b = self.pair(("delay=20",))
        a.ping_ok(b.addr, 1)
        flood = a.d.pkt_background("ping", "-c", "100000", "-i", "0.01", "-W", "1", b.addr)
        self.addCleanup(flood.close)
        eventually(lambda: b.d.counters()["icmp"]["echo_requests"] >= 20, WAIT, "traffic")
        b.pkt("umount", "wire0", check=True)
        eventually(lambda: a.link_is("down"), WAIT, "link down after the peer unmounted")
        b.pkt("mount", "-o", f"link={self.link}", "wire", check=True)
        b.pkt("ifconfig", "wire0", f"{b.addr}/24", "up", check=True)
        eventually(lambda: b.d.counters()["icmp"]["echo_requests"] >= 40, WAIT, "traffic again")
        a.pkt("umount", "wire0", check=True)  # the injector holds frames and a callout is armed
        flood.close()
        a.stop()
        b.stop()
        self.assertEqual(link_files(self.link), [])

    def test_a_stalled_peer_fills_the_ring_and_sending_resumes(self):
        a, b = self.pair()
        a.ping_ok(b.addr, 1)
        echoes = b.d.counters()["icmp"]["echo_requests"]
        os.kill(b.d.proc.pid, signal.SIGSTOP)  # b takes nothing from the ring now
        self.addCleanup(lambda: b.d.proc.poll() is None and os.kill(b.d.proc.pid, signal.SIGCONT))
        n = 300  # more than the ring's 256 slots
        p = a.ping(b.addr, n, "-i", "0.01", "-W", "0.01")
        self.assertEqual(p["received"], 0, p)
        transmit = fields(a.status(), "transmit: ")
        self.assertGreaterEqual(transmit["ring_full"], 1)
        self.assertIn("in_ring=256/256", a.status())
        os.kill(b.d.proc.pid, signal.SIGCONT)
        # The kick callout sends what waited in the send queue once b frees slots.
        eventually(lambda: b.d.counters()["icmp"]["echo_requests"] >= echoes + n, WAIT,
                   "b to get every echo request")
        a.ping_ok(b.addr)
        a.stop()
        b.stop()

    def test_mounting_and_unmounting_leaves_no_fds_behind(self):
        a, b = self.pair()

        def fds(e):
            return len(os.listdir(f"/proc/{e.d.proc.pid}/fd"))
        before = (fds(a), fds(b))
        for _ in range(5):
            b.pkt("umount", "wire0", check=True)
            eventually(lambda: a.link_is("down"), WAIT, "link down")
            b.pkt("mount", "-o", f"link={self.link}", "wire", check=True)
            for e in (a, b):
                eventually(lambda e=e: e.link_is("up"), WAIT, "link up again")
        # pkt's control connections, just used, close a moment after pkt exits.
        eventually(lambda: (fds(a), fds(b)) == before, WAIT, "the fds to return to where they were")
        b.pkt("ifconfig", "wire0", f"{b.addr}/24", "up", check=True)
        a.ping_ok(b.addr)
        a.stop()
        b.stop()

    def test_a_peer_killed_takes_the_link_down_and_another_can_join(self):
        a, b = self.pair()
        a.ping_ok(b.addr, 1)
        b.d.proc.send_signal(signal.SIGKILL)
        b.d.proc.wait()
        eventually(lambda: a.link_is("down"), WAIT, "link down after SIGKILL of the peer")
        self.assertIn("peer none (link down)", a.status())
        c = self.end(3)
        for e in (a, c):
            eventually(lambda e=e: e.link_is("up"), WAIT, "link up with the newcomer")
        a.ping_ok(c.addr)
        c.ping_ok(a.addr)
        # Both ends killed: the files stay, stale; a new pair takes them over.
        for e in (a, c):
            e.d.proc.send_signal(signal.SIGKILL)
            e.d.proc.wait()
        self.assertNotEqual(link_files(self.link), [])
        d, e = self.end(4), self.end(5)
        for x in (d, e):
            eventually(lambda x=x: x.link_is("up"), WAIT, "link up on a stale segment")
        d.ping_ok(e.addr)
        d.stop()
        e.stop()
        self.assertEqual(link_files(self.link), [])

    def test_a_frame_too_big_for_the_receiver_is_a_receive_error(self):
        a, b = self.pair(("mtu=9000",))
        a.ping_ok(b.addr, 1)  # ARP, both ways
        p = a.ping(b.addr, 2, "-s", "3000", "-W", "0.5")
        self.assertEqual(p["received"], 0, p)
        eventually(lambda: b.received()["too_big"] >= 2, WAIT, "frames counted as too big")
        self.assertIn("Receive errors", b.pkt("nicinfo", "wire0").stdout)
        a.ping_ok(b.addr, 2, "-s", "1400")  # what fits both MTUs goes through
        a.stop()
        b.stop()

    def test_bad_options_are_refused_and_pktd_stays_up(self):
        d = Daemon("-t", "2")
        self.addCleanup(d.close)
        d.wait_ready()
        for options, says in (("", "link=NAME is required"),
                              ("link=a/b", "only letters, digits"),
                              ("link=" + "x" * 33, "1 to 32 characters"),
                              (f"link={self.link},loss=abc", "loss=abc: expected a percentage"),
                              (f"link={self.link},delay=1.5", "delay=1.5: expected whole"),
                              (f"link={self.link},rate=5", "rate=5: expected bits per second"),
                              (f"link={self.link},mtu=9001", "a wire link carries at most 9000"),
                              (f"link={self.link},colour=red", "unknown option 'colour'")):
            with self.subTest(options=options):
                r = d.pkt("mount", *(["-o", options] if options else []), "wire")
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(says, r.stderr)
                eventually(lambda: says in d.output(), WAIT, f"'{says}' in the log")
        self.assertIsNone(d.proc.poll())
        self.assertEqual(link_files(self.link), [])
        self.assertEqual(d.stop(), 0, d.output())


class Faults(WireTest):
    def test_loss_at_mount_time_is_within_binomial_bounds(self):
        loss, n = 10, 400
        a, b = self.pair((f"loss={loss}", "seed=20240601"))
        self.assertIn("seed=20240601", a.status())
        # ARP first (it goes through the loss too), so every echo below needs only itself.
        eventually(lambda: a.ping(b.addr, 1, "-W", "1")["received"] == 1, WAIT, "a first reply")
        before = a.injected()
        p = a.long_ping(b.addr, n, "-i", "0.01", "-W", "0.2")
        after = a.injected()
        lost = p["transmitted"] - p["received"]
        mean, sigma = n * loss / 100, math.sqrt(n * loss / 100 * (1 - loss / 100))
        self.assertLessEqual(abs(lost - mean), 5 * sigma, f"{lost} of {n} lost")
        frames = after["frames"] - before["frames"]
        dropped = after["dropped"] - before["dropped"]
        self.assertGreaterEqual(frames, n)
        self.assertLessEqual(abs(dropped - frames * loss / 100),
                             5 * math.sqrt(frames * loss / 100 * (1 - loss / 100)))
        a.stop()
        b.stop()

    def test_faults_change_at_run_time(self):
        a, b = self.pair()
        a.ping_ok(b.addr)
        self.assertIn("loss=100 ", a.request("loss=100"))
        p = a.ping(b.addr, 3, "-W", "0.3")
        self.assertEqual(p["received"], 0, p)
        self.assertGreaterEqual(a.injected()["dropped"], 3)
        # Delay: no reply can come sooner than it.
        a.request("loss=0", "delay=200")
        p = a.ping_ok(b.addr, 2)
        self.assertGreaterEqual(min(r["rtt_ms"] for r in p["results"]), 200, p)
        self.assertGreaterEqual(a.injected()["delayed"], 2)
        # Duplication: every echo request reaches b twice.
        a.request("delay=0,dup=100")
        echoes = b.d.counters()["icmp"]["echo_requests"]
        a.ping_ok(b.addr, 3)
        eventually(lambda: b.d.counters()["icmp"]["echo_requests"] == echoes + 6, WAIT,
                   "six echo requests at b")
        self.assertIn("loss=0 dup=0 reorder=0 corrupt=0 delay=0 jitter=0 rate=0",
                      a.request("clear"))
        a.ping_ok(b.addr)
        a.stop()
        b.stop()

    def test_bad_requests_are_refused_and_change_nothing(self):
        a, b = self.pair(("loss=1",))
        for words, says in ((["loss=150"], "expected a percentage from 0 to 100"),
                            (["loss=5", "delay=x"], "delay=x: expected whole milliseconds"),
                            (["rate=3"], "expected bits per second"),
                            (["seed=-4"], "seed=-4: expected a number"),
                            (["bogus"], "unknown request 'bogus'"),
                            (["link=other"], "unknown request 'link=other'")):
            with self.subTest(words=words):
                r = a.pkt("nicinfo", "wire0", *words)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(says, r.stderr)
        self.assertIn("settings: loss=1 dup=0 reorder=0 corrupt=0 delay=0 jitter=0 rate=0 ",
                      a.status())
        a.stop()
        b.stop()

    def test_corruption_is_caught_by_the_receivers_checksums(self):
        a, b = self.pair()
        a.ping_ok(b.addr)
        b.ping_ok(a.addr)
        before_b = b.d.counters()
        before_a = a.injected()
        a.request("corrupt=100")
        n = 20
        p = a.ping(b.addr, n, "-i", "0.01", "-W", "0.2")
        self.assertEqual(p["received"], 0, p)
        corrupted = a.injected()["corrupted"] - before_a["corrupted"]
        self.assertGreaterEqual(corrupted, n)

        def drops():
            c = b.d.counters()
            checksum = sum(c[g]["bad_checksum"] - before_b[g]["bad_checksum"]
                           for g in ("ip", "icmp"))
            header = sum(c["ip"][k] - before_b["ip"][k]
                         for k in ("bad_version", "bad_header_length", "bad_total_length",
                                   "truncated"))
            return checksum, header
        # A one-bit error past the Ethernet header: the IP header's checksum or ICMP's catches
        # it, unless it hit a field checked first (version, lengths).
        eventually(lambda: sum(drops()) >= n, WAIT, "b to count every corrupted echo")
        checksum, header = drops()
        self.assertGreaterEqual(checksum, n // 2)
        self.assertLessEqual(checksum + header, corrupted)
        a.request("corrupt=0")
        a.ping_ok(b.addr)
        self.assertIsNone(b.d.proc.poll())
        a.stop()
        b.stop()

    def test_rate_and_reorder_settings_show_in_the_status(self):
        a, b = self.pair(("rate=1M", "ratequeue=8", "reorder=50", "jitter=3", "delay=5"))
        a.ping_ok(b.addr, 5)
        status = a.status()
        self.assertIn("rate=1M ratequeue=8", status)
        self.assertGreaterEqual(fields(status, "injected: ")["delayed"], 5)
        a.stop()
        b.stop()


# Under pkt run on one end: a listener that takes one connection, reads it to its end and says
# {"bytes", "sha256"}; on the other: a sender of SIZE seeded octets that says the same of them.
TCP_RECEIVER = r"""
import hashlib, json, socket, sys
ls = socket.socket()
ls.bind((sys.argv[1], int(sys.argv[2])))
ls.listen(1)
print("listening", flush=True)
s, _ = ls.accept()
h, n = hashlib.sha256(), 0
while data := s.recv(1 << 16):
    h.update(data)
    n += len(data)
print(json.dumps({"bytes": n, "sha256": h.hexdigest()}), flush=True)
"""
TCP_SENDER = r"""
import hashlib, json, random, socket, sys
host, port, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = random.Random(seed).randbytes(size)
s = socket.create_connection((host, port), timeout=300)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
s.recv(1)
print(json.dumps({"bytes": size, "sha256": hashlib.sha256(data).hexdigest()}), flush=True)
"""


@unittest.skipIf(os.environ.get("PKTD_SANITIZE"),
                 "PKTD_SANITIZE is set: a sanitizer-built libpkt-preload.so cannot be preloaded")
class TcpOverAFaultyWire(WireTest):
    """Two whole stacks (two pktd) over the wire driver's in-memory link, its fault injector at
    both ends with a seed printed for each case: every transfer arrives octet for octet."""
    SIZE = 8 << 20
    PORT = 7300
    GRID = [("loss=5",), ("dup=10",), ("reorder=10",), ("corrupt=5",), ("delay=2", "jitter=2"),
            ("loss=3", "dup=3", "reorder=3", "corrupt=2", "delay=1", "jitter=1")]

    def transfer(self, faults, seed):
        a, b = self.pair((*faults, f"seed={seed}"), (*faults, f"seed={seed + 1}"))
        receiver = b.d.pkt_background("run", "--", sys.executable, "-c", TCP_RECEIVER, b.addr,
                                      str(self.PORT))
        self.addCleanup(receiver.close)
        eventually(lambda: "listening" in receiver.output() or not receiver.running(), WAIT,
                   "the receiver listening")
        sender = a.d.pkt_background("run", "--", sys.executable, "-c", TCP_SENDER, b.addr,
                                    str(self.PORT), str(self.SIZE), str(seed))
        self.addCleanup(sender.close)
        for p in (sender, receiver):
            self.assertEqual(p.wait(600), 0, p.errors()[-3000:])
        sent = json.loads(sender.output().splitlines()[-1])
        got = json.loads(receiver.output().splitlines()[-1])
        self.assertEqual(got, sent)
        return a, b

    def test_transfers_arrive_intact_through_every_fault(self):
        seed = int.from_bytes(os.urandom(4), "big")
        for faults in self.GRID:
            with self.subTest(faults=" ".join(faults), seed=seed):
                a, b = self.transfer(faults, seed)
                injected = a.injected()
                self.assertGreater(sum(injected.values()), 0, injected)
                a.stop()
                b.stop()
            self.remove_link_files()
            self.link = unique("wl")


if __name__ == "__main__":
    unittest.main(verbosity=2)

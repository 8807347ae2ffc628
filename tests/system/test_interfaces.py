"""Interfaces and drivers as an operator sees them: pktd with a TAP in a namespace the test makes,
pkt ifconfig / nicinfo / mount / umount / threads, failures, several instances, permissions."""
import json
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pktdtest import BUILD, PKT, Daemon, NetNs, eventually, rss_kib, unique  # noqa: E402

LOADER_DRIVERS = os.path.join(BUILD, "tests", "loader-drivers")
TESTNIC = os.path.join(LOADER_DRIVERS, "devnp-testnic.so")
NOBODY = (65534, 65534)


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def mapped(pid, name):
    with open(f"/proc/{pid}/maps") as f:
        return name in f.read()


class TapInANamespace(unittest.TestCase):
    def setUp(self):
        self.ns = NetNs()
        self.dev = unique("pt")[:15]
        self.d = Daemon("-t", "2", "-d", f"tap,dev={self.dev}", netns=self.ns.name)
        self.addCleanup(self.ns.close)
        self.addCleanup(self.d.close)
        self.d.wait_ready()

    def ifconfig(self, name):
        return self.d.pkt("ifconfig", name, check=True).stdout

    def test_the_interface_and_lo0_are_there(self):
        out = self.d.pkt("ifconfig", check=True).stdout
        self.assertIn("lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384", out)
        self.assertIn("tap0: flags=8802<BROADCAST,SIMPLEX,MULTICAST> mtu 1500", out)
        self.assertIn("\tmedia: Ethernet autoselect", out)
        info = json.loads(self.d.pkt("--json", "ifconfig", "tap0", check=True).stdout)
        self.assertEqual(info["driver"], "tap")
        self.assertTrue(info["driver_path"].endswith("/devnp-tap.so"))
        self.assertIn(self.dev, self.ns.ip("link", "show"))

    def test_admin_state_and_link_state_are_independent(self):
        self.d.pkt("ifconfig", "tap0", "up", check=True)
        self.ns.ip("link", "set", self.dev, "up")
        eventually(lambda: "status: active" in self.ifconfig("tap0"), what="link up")
        self.assertIn("flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST>", self.ifconfig("tap0"))
        # The Linux side goes down: no carrier, while the interface stays UP.
        self.ns.ip("link", "set", self.dev, "down")
        eventually(lambda: "status: no carrier" in self.ifconfig("tap0"), what="no carrier")
        self.assertIn("<UP,", self.ifconfig("tap0"))
        # And the other way round: admin down while the link is up.
        self.ns.ip("link", "set", self.dev, "up")
        eventually(lambda: "status: active" in self.ifconfig("tap0"), what="link up again")
        self.d.pkt("ifconfig", "tap0", "down", check=True)
        out = self.ifconfig("tap0")
        self.assertNotIn("<UP", out)
        self.assertIn("status: active", out)
        nic = self.d.pkt("nicinfo", "tap0", check=True).stdout
        self.assertIn("Link is up", nic)
        self.assertRegex(nic, r"Link changes\s+[3-9]")

    def test_mtu_and_bad_arguments(self):
        self.d.pkt("ifconfig", "tap0", "mtu", "9000", check=True)
        self.assertIn("mtu 9000", self.ifconfig("tap0"))
        r = self.d.pkt("ifconfig", "tap0", "mtu", "12")
        self.assertEqual(r.returncode, 1)
        self.assertIn("mtu", r.stderr)
        r = self.d.pkt("ifconfig", "nosuch0")
        self.assertEqual(r.returncode, 1)
        self.assertIn("nosuch0", r.stderr)
        self.assertEqual(self.d.pkt("frobnicate").returncode, 2)
        self.assertEqual(self.d.pkt("ifconfig", "tap0", "mtu").returncode, 2)

    def test_destroy_removes_the_interface_and_unloads_the_driver(self):
        pid = self.d.proc.pid
        self.assertTrue(mapped(pid, "devnp-tap.so"))
        self.d.pkt("umount", "/dev/io-net/tap0", check=True)
        self.assertNotIn("tap0", self.d.pkt("ifconfig", check=True).stdout)
        eventually(lambda: not mapped(pid, "devnp-tap.so"), what="devnp-tap.so unmapped")
        eventually(lambda: self.dev not in self.ns.ip("link", "show"), what="TAP device removed")
        # Mount it again at run time, then destroy with ifconfig.
        r = self.d.pkt("mount", "-o", f"dev={self.dev}", "tap", check=True)
        self.assertIn("tap0", r.stdout)
        self.d.pkt("ifconfig", "tap0", "destroy", check=True)
        eventually(lambda: not mapped(pid, "devnp-tap.so"), what="unmapped again")
        # BSD's clone form: the device is named after the interface, inside the test's namespace.
        r = self.d.pkt("ifconfig", "tap5", "create", check=True)
        self.assertIn("tap5", r.stdout)
        self.assertIn("tap5", self.ns.ip("link", "show"))
        self.assertEqual(self.d.pkt("ifconfig", "tap", "create").returncode, 2)
        self.d.pkt("ifconfig", "tap5", "destroy", check=True)

    def test_threads_are_listed_with_the_stack_holder(self):
        out = self.d.pkt("threads", check=True).stdout
        for name in ("pktd-main", "pktd-worker0", "pktd-worker1", "pktd-watchdog"):
            self.assertIn(name, out)
        self.assertIn("*", out)
        self.assertIn("STATE", out)
        self.assertRegex(out, r"pktd-worker\d")
        rows = json.loads(self.d.pkt("--json", "threads", check=True).stdout)
        self.assertEqual(sum(1 for t in rows if t["holds_stack"]), 1)
        # Every listed thread is real and named as listed; every worker and the watchdog are
        # listed. (A sanitizer's own thread inherits the name of the thread that made it, so
        # a second "pktd-main" may exist and is not pktd's.)
        tasks = {}
        for tid in os.listdir(f"/proc/{self.d.proc.pid}/task"):
            with open(f"/proc/{self.d.proc.pid}/task/{tid}/comm") as f:
                tasks[int(tid)] = f.read().strip()
        for t in rows:
            self.assertEqual(tasks.get(t["tid"]), t["name"])
        listed = {t["tid"] for t in rows}
        made = {tid for tid, name in tasks.items()
                if name.startswith("pktd-worker") or name == "pktd-watchdog"}
        self.assertLessEqual(made, listed)


class Mounting(unittest.TestCase):
    def setUp(self):
        self.d = Daemon("-t", "2")
        self.addCleanup(self.d.close)
        self.d.wait_ready()

    def test_hundred_mount_umount_cycles_leave_no_growth(self):
        pid = self.d.proc.pid
        for _ in range(5):  # warm up allocators and caches
            self.d.pkt("mount", TESTNIC, check=True)
            self.d.pkt("umount", "tn0", check=True)
        before = (fds(pid), threads(pid), rss_kib(pid))
        for _ in range(100):
            out = self.d.pkt("mount", TESTNIC, check=True).stdout
            self.assertIn("tn0", out)
            self.d.pkt("umount", "tn0", check=True)
        # pktd closes a connection shortly after pkt exits, so either count may include the last
        # one; a leak would show as 100 more.
        eventually(lambda: fds(pid) <= before[0], what=f"fds back to at most {before[0]}")
        self.assertEqual(threads(pid), before[1], "threads")
        if not os.environ.get("PKTD_SANITIZE"):  # sanitizers keep freed memory in quarantine
            self.assertLess(rss_kib(pid) - before[2], 1024, "RSS grew by more than 1 MiB")
        self.assertFalse(mapped(pid, "devnp-testnic.so"))

    def test_every_failure_is_explained_and_pktd_stays_up(self):
        cases = [
            (["mount", "nosuchdriver"], "devnp-nosuchdriver.so not found"),
            (["mount", os.path.join(LOADER_DRIVERS, "devnp-noentry.so")], "not a pktd driver"),
            (["mount", os.path.join(LOADER_DRIVERS, "devnp-badabi.so")], "ABI 99"),
            (["mount", "-o", "fail", TESTNIC], "attach failed"),
            (["mount", "-o", "mtu=1", TESTNIC], "mtu=1"),
            (["umount", "nosuch0"], "nosuch0"),
            (["umount", "lo0"], "built-in"),
        ]
        for args, says in cases:
            with self.subTest(args=args):
                r = self.d.pkt(*args)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(says, r.stderr)
                self.assertIn(says, self.d.output())  # in the log too
        self.assertEqual(self.d.pkt("ifconfig", check=True).stdout.count("flags="), 1)  # lo0
        self.assertEqual(self.d.stop(), 0)

    def test_only_root_changes_the_configuration(self):
        r = self.d.pkt("ifconfig", user=NOBODY)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("lo0", r.stdout)
        for args in (["ifconfig", "lo0", "down"], ["mount", TESTNIC]):
            r = self.d.pkt(*args, user=NOBODY)
            self.assertEqual(r.returncode, 1)
            self.assertIn("permission denied", r.stderr)
        self.assertIn("<UP,", self.d.pkt("ifconfig", "lo0", check=True).stdout)

    def test_the_admin_group_may_change_the_configuration(self):
        d = Daemon("-t", "1", "-p", "tcpip,admin_gid=4242")
        self.addCleanup(d.close)
        d.wait_ready()

        def as_member():
            os.setgroups([4242])
            os.setgid(65534)
            os.setuid(65534)
        r = subprocess.run([PKT, "ifconfig", "lo0", "down"], env=d.env, capture_output=True,
                           text=True, preexec_fn=as_member)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("<UP", d.pkt("ifconfig", "lo0", check=True).stdout)
        r = d.pkt("ifconfig", "lo0", "up", user=NOBODY)  # not a member
        self.assertEqual(r.returncode, 1)

    def test_pkt_without_a_daemon(self):
        self.d.stop()
        r = subprocess.run([PKT, "ifconfig"], env=self.d.env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn(self.d.instance + ".sock", r.stderr)


class TwoInstances(unittest.TestCase):
    def test_each_instance_has_its_own_interfaces(self):
        a = Daemon("-t", "1", "-D", LOADER_DRIVERS, "-d", "testnic,name=a")
        b = Daemon("-t", "1", "-D", LOADER_DRIVERS, "-d", "testnic,name=b")
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        a.wait_ready()
        b.wait_ready()
        out_a = a.pkt("ifconfig", check=True).stdout
        out_b = b.pkt("ifconfig", check=True).stdout
        self.assertIn("a0:", out_a)
        self.assertNotIn("b0:", out_a)
        self.assertIn("b0:", out_b)
        self.assertNotIn("a0:", out_b)
        self.assertEqual(a.stop(signal.SIGTERM), 0)
        self.assertIn("b0:", b.pkt("ifconfig", check=True).stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)

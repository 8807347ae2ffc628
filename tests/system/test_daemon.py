"""pktd's life cycle as a user sees it: start, threads, signals, detaching, bad options."""
import os
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pktdtest import PKTD, Daemon, eventually, unique  # noqa: E402


class Lifecycle(unittest.TestCase):
    def check_start_stop(self, workers):
        d = Daemon("-t", str(workers))
        try:
            d.wait_ready()
            names = d.threads()
            self.assertEqual(sorted(n for n in names if n.startswith("pktd-worker")),
                             sorted(f"pktd-worker{i}" for i in range(workers)))
            self.assertIn("pktd-main", names)
            self.assertIn("pktd-watchdog", names)
            self.assertTrue(all(n.startswith("pktd-") for n in names), names)
            with open(d.pid_file) as f:
                self.assertEqual(int(f.read()), d.proc.pid)
            self.assertEqual(d.stop(), 0)
            self.assertIn("stopped", d.output())
            self.assertFalse(os.path.exists(d.pid_file))
        finally:
            d.close()

    def test_start_stop_one_worker(self):
        self.check_start_stop(1)

    def test_start_stop_two_workers(self):
        self.check_start_stop(2)

    def test_start_stop_eight_workers(self):
        self.check_start_stop(8)

    def test_sigint_stops_cleanly(self):
        d = Daemon("-t", "2")
        try:
            d.wait_ready()
            self.assertEqual(d.stop(signal.SIGINT), 0)
        finally:
            d.close()

    def test_stack_options_are_applied(self):
        d = Daemon("-t", "1", "-p", "tcpip,threads_min=2,threads_max=8,mclbytes=4096")
        try:
            d.wait_ready()
            out = d.output()
            self.assertIn("pseudo-threads 2..8", out)
            self.assertIn("mclbytes 4096", out)
            self.assertEqual(d.stop(), 0)
        finally:
            d.close()

    def test_second_daemon_on_the_same_instance_is_refused(self):
        d = Daemon("-t", "1")
        try:
            d.wait_ready()
            r = subprocess.run([PKTD, "-f", "-i", d.instance], env=d.env, capture_output=True,
                               text=True, timeout=20)
            self.assertEqual(r.returncode, 1)
            self.assertIn("already running", r.stderr)
            self.assertIn(str(d.proc.pid), r.stderr)
        finally:
            self.assertEqual(d.stop(), 0)

    def test_detaches_without_f(self):
        rundir = tempfile.mkdtemp(prefix="pktd-run-")
        env = dict(os.environ, PKTD_RUNDIR=rundir)
        instance = unique("d")
        pid_file = os.path.join(rundir, instance + ".pid")
        r = subprocess.run([PKTD, "-t", "1", "-i", instance], env=env, timeout=20)
        self.assertEqual(r.returncode, 0)
        pid = int(eventually(lambda: open(pid_file).read().strip(), what="pid file"))
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            self.assertEqual(int(fields[3]), pid)  # session leader: setsid() ran
        finally:
            os.kill(pid, signal.SIGTERM)
            eventually(lambda: not os.path.exists(f"/proc/{pid}"), what="daemon to exit")
            os.rmdir(rundir)


class BadOptions(unittest.TestCase):
    def run_pktd(self, *args):
        return subprocess.run([PKTD, *args], capture_output=True, text=True, timeout=20)

    def test_bad_options_exit_2_with_a_clear_message(self):
        cases = {
            ("-t", "0"): "-t",
            ("-t", "x"): "-t",
            ("-p", "tcpip,bogus=1"): "bogus",
            ("-p", "udp,threads_min=1"): "udp",
            ("-p", "tcpip,threads_min=9,threads_max=2"): "threads_min",
            ("-p", "tcpip,mclbytes=3000"): "mclbytes",
            ("-z",): "-z",
            ("-i", "../etc"): "-i",
            ("-t",): "-t",
        }
        for args, named in cases.items():
            with self.subTest(args=args):
                r = self.run_pktd(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(named, r.stderr)
                self.assertTrue(r.stderr.startswith("pktd: "), r.stderr)

    def test_help(self):
        r = self.run_pktd("-h")
        self.assertEqual(r.returncode, 0)
        for flag in ("-t", "-i", "-v", "-f", "-p", "-d", "threads_min", "mclbytes"):
            self.assertIn(flag, r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""Helpers for system tests: start real pktd processes with names unique to this run, wait on
conditions (never fixed sleeps), and clean up every process they started, by PID."""
import ipaddress
import json
import os
import shlex
import signal
import subprocess
import tempfile
import time
import uuid

BUILD = os.environ.get("PKTD_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
PKTD = os.path.join(BUILD, "bin", "pktd")
PKT = os.path.join(BUILD, "bin", "pkt")


def unique(prefix):
    """A name no parallel test run shares (instances, namespaces, devices)."""
    return f"{prefix}{os.getpid() % 10000}{uuid.uuid4().hex[:6]}"


def random_subnet(*avoid):
    """A /24 inside 198.18.0.0/15 (the benchmarking range, the only one tests use), random per
    call so that tests running in parallel pick different ones; none of avoid."""
    while True:
        n = uuid.uuid4().int % 512
        net = ipaddress.IPv4Network(f"198.{18 + n // 256}.{n % 256}.0/24")
        if net not in avoid:
            return net


def eventually(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def rss_kib(pid):
    """Resident memory of a process, KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Daemon:
    """One pktd in the foreground (-f), with its own run directory."""

    def __init__(self, *args, instance=None, netns=None):
        self.instance = instance or unique("t")
        self.rundir = tempfile.mkdtemp(prefix="pktd-run-")
        os.chmod(self.rundir, 0o755)  # other users may reach the socket (and read status)
        self.env = dict(os.environ, PKTD_RUNDIR=self.rundir, PKTD_INSTANCE=self.instance)
        self.log = tempfile.TemporaryFile(mode="w+")
        prefix = ["ip", "netns", "exec", netns] if netns else []
        self.proc = subprocess.Popen([*prefix, PKTD, "-f", "-i", self.instance, *args],
                                     env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.pid_file = os.path.join(self.rundir, self.instance + ".pid")
        self.final_output = ""

    def wait_ready(self):
        eventually(lambda: "ready" in self.output() or self.proc.poll() is not None,
                   what="pktd to be ready")
        assert self.proc.poll() is None, f"pktd exited early:\n{self.output()}"

    def output(self):
        if self.log.closed:
            return self.final_output
        self.final_output = read_whole(self.log)
        return self.final_output

    def pkt(self, *args, user=None, check=False):
        """Runs pkt against this instance; user=(uid, gid) runs it as another user."""
        def drop():
            os.setgroups([])
            os.setgid(user[1])
            os.setuid(user[0])
        r = subprocess.run([PKT, *args], env=self.env, capture_output=True, text=True, timeout=30,
                           preexec_fn=drop if user else None)
        if check and r.returncode != 0:
            log_tail = "\n".join(self.output().splitlines()[-20:])
            raise AssertionError(f"pkt {' '.join(args)}: {r.returncode}: {r.stderr}\n"
                                 f"pktd {'running' if self.proc.poll() is None else 'exited'}; "
                                 f"its last lines:\n{log_tail}")
        return r

    def pkt_json(self, *args):
        """pkt --json ARGS, which must succeed: the parsed result."""
        return json.loads(self.pkt("--json", *args, check=True).stdout)

    def counters(self):
        """pkt --json netstat -s: {"ip": {"received": N, ...}, ...}."""
        return self.pkt_json("netstat", "-s")

    def pkt_background(self, *args):
        """pkt ARGS running while the test goes on (a capture, a udp recv): a Background."""
        return Background([PKT, *args], env=self.env)

    def threads(self):
        task = f"/proc/{self.proc.pid}/task"
        names = []
        for tid in os.listdir(task):
            with open(f"{task}/{tid}/comm") as f:
                names.append(f.read().strip())
        return names

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.output()  # keep what it printed for assertions after close
            self.close()

    def close(self):
        """Idempotent: kills the daemon if it still runs and removes what it left."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        if os.path.isdir(self.rundir):
            for name in os.listdir(self.rundir):
                os.unlink(os.path.join(self.rundir, name))
            os.rmdir(self.rundir)


class NetNs:
    """A network namespace made for one test and removed after it."""

    def __init__(self):
        self.name = unique("ns")
        subprocess.run(["ip", "netns", "add", self.name], check=True)

    def ip(self, *args):
        return subprocess.run(["ip", "-n", self.name, *args], check=True, capture_output=True,
                              text=True).stdout

    def run(self, *args, check=False, timeout=60, input=None):
        """A command inside the namespace; its CompletedProcess (text)."""
        r = subprocess.run(["ip", "netns", "exec", self.name, *args], capture_output=True,
                           text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(args)}: {r.returncode}: {r.stdout}{r.stderr}")
        return r

    def sysctl(self, *settings):
        self.run("sysctl", "-qw", *settings, check=True)

    def background(self, *args):
        """A command running inside the namespace while the test goes on: a Background."""
        return Background(["ip", "netns", "exec", self.name, *args])

    def close(self):
        subprocess.run(["ip", "netns", "del", self.name], check=False)


def read_whole(f):
    """Everything written so far to a file a child process writes through the same open file
    (its stdout). pread, never seek: the offset is shared with the child, and a seek back to 0
    would make its next write land at 0, over what it wrote before, and the read miss it."""
    fd = f.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")


def kill_group(proc):
    """Ends a process started in a session of its own and whatever it forked (pkt run's program,
    a pipeline's members, a forking server's children): the group's id is that process's PID."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


class Background:
    """A command running while the test goes on, its output kept in files (never a pipe that
    could fill). close() kills it by PID if it still runs; pass it to addCleanup.
    own_session: it runs in a session of its own, and close() ends what it forked too.
    stdin=subprocess.PIPE: say() writes it lines."""

    def __init__(self, args, env=None, stdin=subprocess.DEVNULL, own_session=False):
        self.args = args
        self._out = tempfile.TemporaryFile(mode="w+")
        self._err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(args, env=env, stdout=self._out, stderr=self._err,
                                     stdin=stdin, text=True, start_new_session=own_session)
        self.own_session = own_session

    def output(self):
        return read_whole(self._out)

    def errors(self):
        return read_whole(self._err)

    def running(self):
        return self.proc.poll() is None

    def say(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def describe(self):
        """Its command and the ends of what it printed, for a failure's message."""
        return (f"{shlex.join(self.args)[-300:]}:\n{self.output()[-2000:]}"
                f"{self.errors()[-3000:]}")

    def wait(self, timeout=60):
        """Its exit status; fails the test if it has not ended within timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still runs after {timeout} s: {self.describe()}") from None

    def close(self):
        if self.own_session:
            kill_group(self.proc)
        elif self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()
        self._out.close()
        self._err.close()

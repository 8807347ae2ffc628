"""What the tests that craft frames with scapy share (test_hostile.py, test_tcp_hostile.py).

Scapy runs in a helper process inside a namespace: the test file itself again, with a flag of
its own, under a python3 that has scapy (Debian's python3-scapy; the test's own python may be
another installation). The helper holds one packet socket on a device for its whole life, so
nothing the side under test sends is missed, and answers one JSON command a line with one JSON
line. The test side is Helper; the helper side uses Link and build_frames.
"""
import errno
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from pktdtest import read_whole

ETH_P_ALL = 0x0003
SO_RCVBUFFORCE = 33
SOL_PACKET = 263
PACKET_QDISC_BYPASS = 20
PACKET_IGNORE_OUTGOING = 23


# --------------------------------------------------------------------------------------------
# The test side.

def scapy_python():
    """A python3 that imports scapy, or None."""
    for py in (sys.executable, "/usr/bin/python3", shutil.which("python3")):
        if py and subprocess.run([py, "-c", "import scapy"], capture_output=True).returncode == 0:
            return py
    return None


class Helper:
    """The helper process: script (a test file) run with flag and config (JSON) in netns.
    ready is its first line; slack is what an answer may take beyond the command's own timeout
    (the helper builds frames and reads the capture before it answers)."""

    def __init__(self, python, netns, script, flag, config, slack=60):
        self.slack = slack
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, python, os.path.abspath(script), flag,
             json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, bufsize=0,
            start_new_session=True)
        self.pending = b""
        try:
            self.ready = self._read(slack)
        except BaseException:
            self.close()  # the caller never gets the object: end its session here
            raise

    def _read(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, left))
            chunk = os.read(self.proc.stdout.fileno(), 1 << 20) if ready else None
            if chunk == b"" or (chunk is None and left <= 0):
                raise AssertionError(f"scapy helper: no answer (exit {self.proc.poll()}):\n"
                                     f"{read_whole(self.log)[-4000:]}")
            self.pending += chunk or b""
        line, self.pending = self.pending.split(b"\n", 1)
        return json.loads(line)

    def command(self, cmd, timeout):
        """Sends cmd; its answer, which must come within timeout and the slack."""
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        return self._read(timeout + self.slack)

    def close(self):
        """Ends the helper: its end of input first, a kill if it lingers."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


# --------------------------------------------------------------------------------------------
# The helper side (under the python3 with scapy).

def checksum16(b):
    """The Internet checksum (RFC 1071) of b, padded to an even length."""
    if len(b) % 2:
        b += b"\0"
    s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def build_frames(spec, env):
    """The frames spec names: an expression evaluated in env (a frame or a list of them: scapy
    packets or bytes), or a list of such expressions."""
    frames = []
    for expr in [spec] if isinstance(spec, str) else spec:
        built = eval(expr, env)  # noqa: S307 (the test's own expressions)
        frames.extend(built if isinstance(built, list) else [built])
    return frames


class Link:
    """The helper's packet socket on dev: sends frames, receives those from one MAC only."""

    def __init__(self, dev, from_mac):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)  # floods of replies
        self.sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)  # only what others send
        # When the device's queue is full, send() fails with ENOBUFS (and is retried) instead of
        # a qdisc dropping the frame out of sight.
        self.sock.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
        self.sock.bind((dev, 0))
        self.from_mac = bytes.fromhex(from_mac.replace(":", ""))

    def send(self, frame, patience=30):
        """Sends frame, retrying while the device's queue is full (for patience seconds)."""
        b = bytes(frame)
        deadline = time.monotonic() + patience
        while True:
            try:
                self.sock.send(b)
                return
            except OSError as e:
                if e.errno != errno.ENOBUFS or time.monotonic() > deadline:
                    raise
                time.sleep(0.0005)

    def receive(self, timeout):
        """The next frame from from_mac (bytes); b"" for one from another; None once timeout
        has passed without a frame."""
        ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not ready:
            return None
        data = self.sock.recv(65536)
        return data if data[6:12] == self.from_mac else b""

    def drain(self, parse=None):
        """Reads what has arrived (what came before a command is not its answer); parse sees
        each frame from from_mac."""
        while (data := self.receive(0)) is not None:
            if data and parse:
                parse(data)

    def collect(self, until, timeout, parse, describe=lambda d: d):
        """Frames from from_mac, each parse(bytes), until one for which until holds (None: no
        waiting). {"matched", "match": that one, "frames": the others before it}, each as
        describe makes it."""
        captured, match, matched = [], None, until is None
        deadline = time.monotonic() + timeout
        while not matched and time.monotonic() < deadline:
            data = self.receive(deadline - time.monotonic())
            if not data:
                continue
            d = parse(data)
            if until(d):
                matched, match = True, describe(d)
            else:
                captured.append(describe(d))
        return {"matched": matched, "match": match, "frames": captured}

"""The socket service spoken directly (no libpkt): what pktd answers, what it refuses, and how it
survives hostile clients. Runs in every build (the preload tests of test_sockets.py need the
normal one). Traffic stays on pktd's lo0."""
import array
import errno
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pktdtest import Daemon, eventually  # noqa: E402
import svcproto  # noqa: E402
from svcproto import DATA, ERROR, HEADER, Service, receive, send_to  # noqa: E402

LOOPBACK = "127.0.0.1"
IP_MTU_DISCOVER = 10  # <linux/in.h>; Python's socket module does not name it
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                     "runtime error:")


def readable(sock, timeout=10):
    return bool(select.select([sock], [], [], timeout)[0])


class ServiceTest(unittest.TestCase):
    daemon_args = ()

    def setUp(self):
        self.daemon = Daemon(*self.daemon_args)
        self.addCleanup(self.daemon.close)
        self.daemon.wait_ready()
        self.path = os.path.join(self.daemon.rundir, self.daemon.instance + ".svc")
        self.svc = self.connect()

    def tearDown(self):
        # An orderly stop that is clean: exit 0, and nothing from the sanitizers.
        if self.daemon.proc.poll() is None:
            self.assertEqual(self.daemon.stop(), 0, self.daemon.output())
        for report in SANITIZER_REPORTS:
            self.assertNotIn(report, self.daemon.output())

    def connect(self):
        s = Service(self.path)
        self.addCleanup(s.close)
        return s

    def new_socket(self, svc=None):
        r, sock = (svc or self.svc).socket()
        self.assertEqual((r.result >= 0, r.error), (True, 0))
        self.addCleanup(sock.close)
        return sock

    def can_make_a_socket(self):
        r, sock = self.svc.socket()
        if sock:
            sock.close()
        return r.error == 0

    def sockets_counter(self, name):
        return self.daemon.counters().get("sockets", {}).get(name, 0)

    def pktd_fds(self):
        return len(os.listdir(f"/proc/{self.daemon.proc.pid}/fd"))

    def pktd_fds_now_that_we_are_connected(self):
        """pktd's fd count once it has surely accepted our service connection (it answered)."""
        self.assertEqual(self.svc.request("getsockname").error, errno.EBADF)
        return self.pktd_fds()


class Datagrams(ServiceTest):
    def test_datagrams_keep_boundaries_and_addresses(self):
        a, b = self.new_socket(), self.new_socket()
        self.assertEqual(self.svc.bind(a, LOOPBACK, 7000).result, 0)
        name = self.svc.on("getsockname", a)
        self.assertEqual(name.address, (LOOPBACK, 7000))
        sizes = [0, 1, 1472, 8000, 65507]  # 8000 and 65507 cross lo0 in fragments
        for size in sizes:
            send_to(b, bytes([size % 251]) * size, LOOPBACK, 7000)
        b_port = None
        for size in sizes:
            self.assertTrue(readable(a))
            kind, _, source, payload = receive(a)
            self.assertEqual(kind, DATA)
            self.assertEqual(payload, bytes([size % 251]) * size)
            b_port = b_port or source[1]
            self.assertEqual(source, (LOOPBACK, b_port))
        # b was bound to an ephemeral port by its first send (as Linux autobinds).
        self.assertEqual(self.svc.on("getsockname", b).address[1], b_port)
        self.assertGreaterEqual(b_port, 49152)

    def test_connected_socket_sends_to_its_peer_and_hears_port_unreachable(self):
        a, b = self.new_socket(), self.new_socket()
        self.assertEqual(self.svc.bind(a, LOOPBACK, 7001).result, 0)
        self.assertEqual(self.svc.connect(b, LOOPBACK, 7001).result, 0)
        self.assertEqual(self.svc.on("getpeername", b).address, (LOOPBACK, 7001))
        send_to(b, b"to the peer")
        self.assertTrue(readable(a))
        self.assertEqual(receive(a)[3], b"to the peer")
        # Nobody listens on 7002: ICMP port unreachable comes back to the connected socket.
        c = self.new_socket()
        self.assertEqual(self.svc.connect(c, LOOPBACK, 7002).result, 0)
        send_to(c, b"anyone?")
        self.assertTrue(readable(c))
        kind, error, _, _ = receive(c)
        self.assertEqual((kind, error), (ERROR, errno.ECONNREFUSED))
        # AF_UNSPEC dissolves the association.
        self.assertEqual(self.svc.on("connect", c, addr=svcproto.address(family=0)).result, 0)
        self.assertEqual(self.svc.on("getpeername", c).error, errno.ENOTCONN)

    def test_options_read_back_as_linux_reports_them(self):
        s = self.new_socket()
        self.assertEqual(self.svc.setsockopt(s, socket.SOL_SOCKET, socket.SO_RCVBUF, 10000).result, 0)
        self.assertEqual(self.svc.getsockopt(s, socket.SOL_SOCKET, socket.SO_RCVBUF).int_value(), 20000)
        self.assertEqual(self.svc.getsockopt(s, socket.IPPROTO_IP, socket.IP_TTL).int_value(), 64)
        self.assertEqual(self.svc.setsockopt(s, socket.IPPROTO_IP, socket.IP_TTL, 7).result, 0)
        self.assertEqual(self.svc.getsockopt(s, socket.IPPROTO_IP, socket.IP_TTL).int_value(), 7)
        self.assertEqual(self.svc.setsockopt(s, socket.IPPROTO_IP, socket.IP_TTL, 0).error, errno.EINVAL)
        self.assertEqual(self.svc.setsockopt(s, socket.IPPROTO_TCP, socket.TCP_NODELAY, 1).error,
                         errno.ENOPROTOOPT)  # a Linux UDP socket says the same
        self.assertEqual(self.svc.getsockopt(s, socket.SOL_SOCKET, socket.SO_TYPE).int_value(),
                         socket.SOCK_DGRAM)
        lin = self.svc.on("setsockopt", s, args=(socket.SOL_SOCKET, socket.SO_LINGER, 0, 0),
                          opt=struct.pack("=ii", 1, 5))
        self.assertEqual(lin.result, 0)
        got = self.svc.getsockopt(s, socket.SOL_SOCKET, socket.SO_LINGER, 8)
        self.assertEqual(struct.unpack("=ii", got.opt), (1, 5))
        # Accepted without effect yet (docs/sockets.md): Linux's default reads back, then the value set.
        self.assertEqual(self.svc.getsockopt(s, socket.IPPROTO_IP, IP_MTU_DISCOVER).int_value(), 1)
        self.assertEqual(self.svc.setsockopt(s, socket.IPPROTO_IP, IP_MTU_DISCOVER, 0).result, 0)
        self.assertEqual(self.svc.getsockopt(s, socket.IPPROTO_IP, IP_MTU_DISCOVER).int_value(), 0)
        self.assertEqual(self.svc.getsockopt(s, socket.SOL_SOCKET, socket.SO_ACCEPTCONN).int_value(), 0)

    def test_a_full_receive_buffer_drops_and_counts(self):
        a, b = self.new_socket(), self.new_socket()
        self.assertEqual(self.svc.setsockopt(a, socket.SOL_SOCKET, socket.SO_RCVBUF, 4096).result, 0)
        self.assertEqual(self.svc.bind(a, LOOPBACK, 7003).result, 0)
        for i in range(500):
            send_to(b, b"x" * 100, LOOPBACK, 7003)
        # Every datagram is sent (or refused by lo0's queue), then delivered or dropped for room.
        eventually(lambda: self.sockets_counter("datagrams_sent") + self.sockets_counter("send_failed") == 500,
                   what="500 datagrams handled")
        eventually(lambda: self.sockets_counter("datagrams_received") + self.sockets_counter("receive_buffer_full")
                   == self.sockets_counter("datagrams_sent"), what="every datagram sent to land or be counted")
        self.assertGreater(self.sockets_counter("receive_buffer_full"), 0)
        a.setblocking(False)
        queued = 0
        while True:
            try:
                queued += 1 if receive(a) else 0
            except BlockingIOError:
                break
        self.assertEqual(queued, self.sockets_counter("datagrams_received"))
        self.assertLess(queued, 500)

    def test_shutdown_wakes_the_reader_and_stops_the_writer(self):
        s = self.new_socket()
        self.assertEqual(self.svc.bind(s, LOOPBACK, 7004).result, 0)
        # As on Linux: ENOTCONN on an unconnected socket, and yet it takes effect.
        self.assertEqual(self.svc.on("shutdown", s, args=(socket.SHUT_RD, 0, 0, 0)).error, errno.ENOTCONN)
        self.assertTrue(readable(s))
        self.assertEqual(s.recv(100), b"")  # end of file; libpkt returns 0 since pktd answers
        self.assertEqual(self.svc.on("shutdown", s, args=(socket.SHUT_WR, 0, 0, 0)).error, errno.ENOTCONN)
        send_to(s, b"after SHUT_WR", LOOPBACK, 9)  # Linux: EPIPE; pktd drops it (docs/sockets.md)
        eventually(lambda: self.sockets_counter("dropped_after_shutdown") == 1, what="the drop counted")
        self.assertEqual(self.svc.on("getsockname", s).address, (LOOPBACK, 7004))  # still there
        s.close()  # the hang-up alone now tells pktd
        eventually(lambda: self.sockets_counter("sockets_open") == 0, what="the shut socket to close")


class Errors(ServiceTest):
    def test_errors_match_linux(self):
        a, b = self.new_socket(), self.new_socket()
        self.assertEqual(self.svc.bind(a, "0.0.0.0", 7100).result, 0)
        self.assertEqual(self.svc.bind(b, LOOPBACK, 7100).error, errno.EADDRINUSE)
        self.assertEqual(self.svc.bind(b, "198.18.77.1", 7101).error, errno.EADDRNOTAVAIL)
        self.assertEqual(self.svc.bind(a, "0.0.0.0", 7102).error, errno.EINVAL)  # already bound
        self.assertEqual(self.svc.on("getpeername", a).error, errno.ENOTCONN)
        self.assertEqual(self.svc.on("listen", a, args=(5, 0, 0, 0)).error, errno.EOPNOTSUPP)
        self.assertEqual(self.svc.on("shutdown", a, args=(socket.SHUT_RDWR, 0, 0, 0)).error, errno.ENOTCONN)
        self.assertEqual(self.svc.connect(b, "203.0.113.1", 9).error, errno.ENETUNREACH)  # no route
        self.assertEqual(self.svc.socket(kind=socket.SOCK_STREAM)[0].error, errno.EPROTONOSUPPORT)
        self.assertEqual(self.svc.socket(family=socket.AF_INET6)[0].error, errno.EAFNOSUPPORT)
        self.assertEqual(self.svc.socket(kind=socket.SOCK_RAW)[0].error, errno.ESOCKTNOSUPPORT)
        self.assertEqual(self.svc.socket(protocol=socket.IPPROTO_TCP)[0].error, errno.EPROTONOSUPPORT)

    def run_client_as(self, code, *setpriv):
        """Runs python code with svcproto and the service path, under setpriv with these options."""
        script = ("import sys; sys.path.insert(0, %r); import os, svcproto; path = %r\n" %
                  (os.path.dirname(__file__), self.path)) + code
        r = subprocess.run(["setpriv", *setpriv, sys.executable, "-c", script],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split()

    def test_ports_below_1024_need_root_or_cap_net_bind_service(self):
        nobody = ("--reuid=nobody", "--regid=nogroup", "--clear-groups")
        binds = ("s = svcproto.Service(path); low, high = s.socket()[1], s.socket()[1]\n"
                 "print(s.bind(low, '0.0.0.0', 81).error, s.bind(high, '0.0.0.0', 8081).error)")
        self.assertEqual(self.run_client_as(binds, *nobody), [str(errno.EACCES), "0"])
        with_cap = (*nobody, "--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service")
        self.assertEqual(self.run_client_as(binds, *with_cap), ["0", "0"])
        # A root process that drops to nobody after connecting is judged as nobody: the
        # credentials travel with each request.
        drops = ("s = svcproto.Service(path); r, sock = s.socket(); os.setresgid(65534, 65534, 65534); "
                 "os.setresuid(65534, 65534, 65534)\nprint(s.bind(sock, '0.0.0.0', 82).error)")
        self.assertEqual(self.run_client_as(drops, "--reuid=root"), [str(errno.EACCES)])
        # Root without the capability may not either: it is the capability that counts.
        no_cap = ("--bounding-set=-net_bind_service",)
        self.assertEqual(self.run_client_as(binds, *no_cap), [str(errno.EACCES), "0"])
        s = self.new_socket()
        self.assertEqual(self.svc.bind(s, "0.0.0.0", 80).result, 0)  # root with it may


class HostileClients(ServiceTest):
    def test_a_request_must_carry_one_of_its_sockets(self):
        s = self.new_socket()
        self.assertEqual(self.svc.request("bind", addr=svcproto.address("0.0.0.0", 7200)).error,
                         errno.EBADF)
        x, y = socket.socketpair()
        self.addCleanup(x.close)
        self.addCleanup(y.close)
        self.assertEqual(self.svc.bind(x, "0.0.0.0", 7200).error, errno.ENOTSOCK)
        # Holding the fd is the right: another connection (another process) may use it.
        other = self.connect()
        self.assertEqual(other.bind(s, "0.0.0.0", 7200).result, 0)

    def test_a_file_is_not_a_socket(self):
        fds_before = self.pktd_fds_now_that_we_are_connected()
        with open("/etc/hostname") as f:
            self.assertEqual(self.svc.request("getsockname", fds=(f.fileno(),)).error, errno.ENOTSOCK)
        eventually(lambda: self.pktd_fds() == fds_before, what="the file's copy to be closed")

    def test_empty_messages_carrying_fds_leak_nothing(self):
        fds_before = self.pktd_fds_now_that_we_are_connected()
        with open("/etc/hostname") as f:
            for _ in range(20):
                c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                c.connect(self.path)
                c.sendmsg([b""], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [f.fileno()]))])
                self.assertEqual(c.recv(100), b"")  # an empty message is a hang-up: pktd closes
                c.close()
        eventually(lambda: self.pktd_fds() == fds_before, what="pktd's fds to return to where they were")

    def test_descriptors_and_empty_records_on_a_socket_are_refused_not_fatal(self):
        s = self.new_socket()
        self.assertEqual(self.svc.bind(s, LOOPBACK, 7500).result, 0)
        fds_before = self.pktd_fds_now_that_we_are_connected()
        with open("/etc/hostname") as f:
            header = struct.pack(HEADER, DATA, 0, 0, *svcproto.address(LOOPBACK, 7500))
            s.sendmsg([header + b"with a descriptor"],
                      [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [f.fileno()]))])
        self.assertTrue(readable(s))
        self.assertEqual(receive(s)[3], b"with a descriptor")  # the datagram goes, the fd does not
        self.assertEqual(self.sockets_counter("descriptors_refused"), 1)
        s.send(b"")  # an empty record reads as 0 octets, like a hang-up, but is not one
        eventually(lambda: self.sockets_counter("bad_messages") == 1, what="the empty record counted")
        self.assertEqual(self.svc.on("getsockname", s).address, (LOOPBACK, 7500))
        eventually(lambda: self.pktd_fds() == fds_before, what="pktd's fds to return to where they were")

    def test_malformed_requests_are_refused_counted_and_leak_nothing(self):
        fds_before = self.pktd_fds_now_that_we_are_connected()
        self.svc.conn.send(b"short")
        self.assertEqual(self.svc.reply().error, errno.EPROTO)
        bad_version = struct.pack(svcproto.REQUEST, 99, 1, 1, 2, 2, 0, 0, *svcproto.address(), 0, bytes(64))
        self.svc.conn.send(bad_version)
        self.assertEqual(self.svc.reply().error, errno.EPROTO)
        self.svc.conn.send(bytes(4096))
        self.assertEqual(self.svc.reply().error, errno.EPROTO)
        pairs = [socket.socketpair() for _ in range(3)]
        fds = [p[0].fileno() for p in pairs]
        self.assertEqual(self.svc.request("getsockname", fds=fds).error, errno.EINVAL)
        for p in pairs:
            p[0].close()
            p[1].close()
        self.assertEqual(self.sockets_counter("bad_requests"), 4)  # EBADF above is not "bad"
        # Garbage on a socket's own channel is counted, not sent.
        s = self.new_socket()
        s.send(b"no header")
        s.send(struct.pack(HEADER, 77, 0, 0, *svcproto.address(LOOPBACK, 9)))
        eventually(lambda: self.sockets_counter("bad_messages") == 2, what="bad messages counted")
        # s's end and nothing else (pkt's control connection, just used, closes soon after).
        eventually(lambda: self.pktd_fds() == fds_before + 1, what="pktd's fds to settle")
        self.assertTrue(self.can_make_a_socket())  # still serving

    def test_a_client_that_does_not_read_its_replies_is_dropped(self):
        greedy = self.connect()
        greedy.conn.setblocking(False)
        request = struct.pack(svcproto.REQUEST, 1, 4, 1, 0, 0, 0, 0, *svcproto.address(), 0, bytes(64))
        dropped = False
        for _ in range(100000):
            try:
                greedy.conn.send(request)
            except BlockingIOError:
                select.select([], [greedy.conn], [], 0.05)  # pktd is still reading: let it
            except (BrokenPipeError, ConnectionResetError):
                dropped = True
                break
        self.assertTrue(dropped)
        self.assertGreaterEqual(self.sockets_counter("replies_dropped"), 1)
        self.assertTrue(self.can_make_a_socket())

    def test_closing_the_last_copy_frees_the_socket_and_its_port(self):
        s = self.new_socket()
        self.assertEqual(self.svc.bind(s, "0.0.0.0", 7300).result, 0)
        child = os.fork()
        if child == 0:  # holds a copy, then lets go
            os._exit(0)
        os.waitpid(child, 0)
        self.assertEqual(self.sockets_counter("sockets_open"), 1)  # the child's exit is not a close
        s.close()
        t = self.new_socket()
        self.assertEqual(self.svc.bind(t, "0.0.0.0", 7300).result, 0)  # at once, no EADDRINUSE
        eventually(lambda: self.sockets_counter("sockets_open") == 1, what="the closed socket to go")


class Limits(ServiceTest):
    daemon_args = ("-p", "tcpip,sockets_per_user=5")

    def test_sockets_per_user(self):
        held = [self.new_socket() for _ in range(5)]
        self.assertEqual(self.svc.socket()[0].error, errno.ENOBUFS)
        self.assertIn("per-user limit", self.daemon.output())
        self.assertEqual(self.sockets_counter("refused_per_user_limit"), 1)
        held[0].close()
        eventually(self.can_make_a_socket, what="room for one more socket")


class Shutdown(ServiceTest):
    def test_stopping_pktd_ends_every_socket_and_connection(self):
        s = self.new_socket()
        self.assertEqual(self.svc.bind(s, LOOPBACK, 7400).result, 0)
        self.daemon.proc.send_signal(signal.SIGTERM)
        self.assertTrue(readable(s, 20))
        self.assertEqual(s.recv(100), b"")  # end of file: libpkt turns it into ENETDOWN
        self.assertTrue(readable(self.svc.conn, 20))
        self.assertEqual(self.svc.conn.recv(100), b"")
        self.assertEqual(self.daemon.proc.wait(20), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

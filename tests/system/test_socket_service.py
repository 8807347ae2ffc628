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
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pktdtest import Daemon, eventually  # noqa: E402
import svcproto  # noqa: E402
from svcproto import DATA, ERROR, HEADER, Service, accept, receive, send_to  # noqa: E402

LOOPBACK = "127.0.0.1"
# Routed into lo0 by the tests that need it, and answered by nobody: a handshake that never ends.
BLACK_HOLE_NET, BLACK_HOLE = "198.18.255.0/24", "198.18.255.1"
TCP_STATE_ESTABLISHED, TCP_STATE_LISTEN = 1, 10  # tcp_info.tcpi_state (include/net/tcp_states.h)
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
        self.assertEqual(self.svc.socket(kind=socket.SOCK_STREAM, protocol=socket.IPPROTO_UDP)[0].error,
                         errno.EPROTONOSUPPORT)
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
        bad_version = struct.pack(svcproto.REQUEST, 99, 1, 1, 2, 2, 0, 0, *svcproto.address(), 0,
                                  bytes(svcproto.MAX_OPT))
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
        request = struct.pack(svcproto.REQUEST, svcproto.VERSION, 4, 1, 0, 0, 0, 0, *svcproto.address(), 0,
                              bytes(svcproto.MAX_OPT))
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


def read_exactly(sock, size):
    data = bytearray()
    while len(data) < size:
        assert readable(sock), f"{len(data)} of {size} octets"
        chunk = sock.recv(size - len(data))
        assert chunk, f"end of file after {len(data)} of {size} octets"
        data += chunk
    return bytes(data)


def read_to_end(sock):
    data = bytearray()
    while True:
        assert readable(sock), f"no end of file after {len(data)} octets"
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(data)
        data += chunk


class StreamTest(ServiceTest):
    def stream(self, svc=None):
        r, sock = (svc or self.svc).socket(kind=socket.SOCK_STREAM)
        self.assertEqual((r.result >= 0, r.error), (True, 0))
        self.addCleanup(sock.close)
        return sock

    def listener(self, port, backlog=16):
        return self.listener_on(LOOPBACK, port, backlog)

    def listener_on(self, address, port, backlog=16):
        s = self.stream()
        self.assertEqual(self.svc.bind(s, address, port).error, 0)
        self.assertEqual(self.svc.listen(s, backlog).error, 0)
        return s

    def accepted(self, listener):
        self.assertTrue(readable(listener))
        conn, peer = accept(listener)
        self.addCleanup(conn.close)
        return conn, peer

    def connected_pair(self, port):
        """(client, server) over lo0 through a new listener on port."""
        lst = self.listener(port)
        client = self.stream()
        self.assertEqual(self.svc.connect(client, LOOPBACK, port).error, errno.EINPROGRESS)
        server, _ = self.accepted(lst)
        return client, server

    def tcp_counter(self, name):
        return self.daemon.counters().get("tcp", {}).get(name, 0)

    def tcp_rows(self):
        return [r for r in self.daemon.pkt_json("netstat", "-an") if r["protocol"] == "tcp"]

    def black_hole(self):
        self.daemon.pkt("route", "add", BLACK_HOLE_NET, "-interface", "lo0", check=True)

    def shutdown(self, sock, how):
        return self.svc.on("shutdown", sock, args=(how, 0, 0, 0)).error

    def writable(self, sock, ms):
        """poll's events for POLLOUT within ms milliseconds ([] if none)."""
        p = select.poll()
        p.register(sock, select.POLLOUT)
        return p.poll(ms)


class Streams(StreamTest):
    def test_a_connection_carries_bytes_both_ways_and_netstat_shows_it(self):
        lst = self.listener(8100)
        client = self.stream()
        self.assertEqual(self.svc.connect(client, LOOPBACK, 8100).error, errno.EINPROGRESS)
        server, peer = self.accepted(lst)
        self.assertEqual(peer, self.svc.on("getsockname", client).address)
        self.assertEqual(self.svc.on("getpeername", server).address, peer)
        self.assertEqual(self.svc.on("getsockname", server).address, (LOOPBACK, 8100))
        eventually(lambda: self.svc.on("getpeername", client).address == (LOOPBACK, 8100),
                   what="the client to be connected")
        for writer, reader in ((client, server), (server, client)):
            payload = os.urandom(1 << 20)
            sender = threading.Thread(target=writer.sendall, args=(payload,))
            sender.start()
            self.assertEqual(read_exactly(reader, len(payload)), payload)
            sender.join()
        # Bytes the application has not read are netstat's Recv-Q (pair and connection together).
        server.sendall(b"x" * 1000)
        client_row = (f"{LOOPBACK}:{peer[1]}", f"{LOOPBACK}:8100")
        eventually(lambda: any((r["local"], r["remote"]) == client_row and r["state"] == "ESTABLISHED"
                               and r["recv_queue"] >= 1000 for r in self.tcp_rows()),
                   what="the client's row with 1000 octets unread")
        rows = {(r["local"], r["remote"], r["state"]) for r in self.tcp_rows()}
        self.assertIn((f"{LOOPBACK}:8100", "*:*", "LISTEN"), rows)
        self.assertIn((f"{LOOPBACK}:8100", f"{LOOPBACK}:{peer[1]}", "ESTABLISHED"), rows)
        self.assertGreaterEqual(self.tcp_counter("passive_opens"), 1)
        self.assertGreaterEqual(self.sockets_counter("connections_accepted"), 1)

    def test_a_blocking_connect_is_answered_when_the_handshake_is_decided(self):
        self.listener(8101)
        waiting = self.connect()  # a service connection of its own, as libpkt opens for it
        c = self.stream()
        r = waiting.connect(c, LOOPBACK, 8101, wait=True)
        self.assertEqual((r.result, r.error), (0, 0))
        self.assertEqual(self.svc.on("getpeername", c).address, (LOOPBACK, 8101))
        self.assertEqual(self.svc.connect(c, LOOPBACK, 8101).error, errno.EISCONN)
        refused = self.stream()
        self.assertEqual(waiting.connect(refused, LOOPBACK, 8102, wait=True).error, errno.ECONNREFUSED)
        # The connect took the error, as Linux's does.
        self.assertEqual(self.svc.getsockopt(refused, socket.SOL_SOCKET, socket.SO_ERROR).int_value(), 0)
        # While a handshake is undecided, that connection's next request waits behind it; others
        # are served.
        self.black_hole()
        stuck = self.stream()
        waiting.send("connect", args=(1, 0, 0, 0), addr=svcproto.address(BLACK_HOLE, 80), fds=(stuck.fileno(),))
        waiting.send("getsockname", fds=(c.fileno(),))
        eventually(lambda: any(r["state"] == "SYN_SENT" for r in self.tcp_rows()), what="the SYN_SENT row")
        self.assertEqual(self.svc.on("getsockname", stuck).error, 0)
        self.assertEqual(self.sockets_counter("connects_waited"), 3)
        stuck.close()  # its application has gone: the connect ends, and then the queued request
        first, second = waiting.reply(), waiting.reply()
        self.assertEqual((first.op, first.result, first.error), (svcproto.OP["connect"], -1, errno.ECONNABORTED))
        self.assertEqual((second.op, second.address), (svcproto.OP["getsockname"], peer_of(self, c)))

    def test_a_refused_nonblocking_connect_reports_through_so_error(self):
        c = self.stream()
        self.assertEqual(self.svc.connect(c, LOOPBACK, 8103).error, errno.EINPROGRESS)
        self.assertTrue(readable(c))
        self.assertEqual(c.recv(10), b"")  # the pair is shut both ways: libpkt asks SO_ERROR
        self.assertEqual(self.svc.getsockopt(c, socket.SOL_SOCKET, socket.SO_ERROR).int_value(),
                         errno.ECONNREFUSED)
        self.assertEqual(self.svc.getsockopt(c, socket.SOL_SOCKET, socket.SO_ERROR).int_value(), 0)
        with self.assertRaises(BrokenPipeError):
            c.send(b"x")
        # Linux would answer ECONNABORTED too, once; pktd's socket cannot connect again.
        self.assertEqual(self.svc.connect(c, LOOPBACK, 8103).error, errno.ECONNABORTED)

    def test_a_nonblocking_connect_is_writable_only_once_the_handshake_is_decided(self):
        """Linux's tcp_poll gives a connecting socket no POLLOUT: programs wait for it, then read
        SO_ERROR (python's connect with a timeout does). pktd's filler keeps the pair's end
        unwritable until then (sockets/stream_relay.h)."""
        self.black_hole()
        c = self.stream()
        c.sendall(b"before connect")  # Linux fails these (EPIPE); pktd drops and counts them
        self.assertEqual(self.svc.connect(c, BLACK_HOLE, 8125).error, errno.EINPROGRESS)
        self.assertEqual(self.sockets_counter("octets_discarded_before_connect"), 14)
        self.assertEqual(self.writable(c, 300), [])
        self.assertEqual(self.svc.getsockopt(c, socket.SOL_SOCKET, socket.SO_ERROR).int_value(), 0)
        self.assertEqual(self.svc.on("getpeername", c).error, errno.ENOTCONN)
        # A larger send buffer (libpkt sets the pair's, then asks pktd) keeps it unwritable.
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        self.assertEqual(self.svc.setsockopt(c, socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20).error, 0)
        self.assertEqual(self.writable(c, 0), [])
        self.assertEqual(self.sockets_counter("handshake_holds_failed"), 0)
        # netstat lists the attempt; the filler is not the application's Send-Q.
        row = [r for r in self.tcp_rows() if r["remote"] == f"{BLACK_HOLE}:8125"]
        self.assertEqual([(r["state"], r["send_queue"]) for r in row], [("SYN_SENT", 0)])
        # A blocking send during the handshake waits (its first octets go into the pair), and
        # everything arrives intact once the handshake ends: the address becomes this host's and
        # a listener answers the SYN's next retransmission.
        payload = os.urandom(1 << 20)
        sender = threading.Thread(target=c.sendall, args=(payload,))
        sender.start()
        self.daemon.pkt("ifconfig", "lo0", f"{BLACK_HOLE}/32", "alias", check=True)
        lst = self.listener_on(BLACK_HOLE, 8125)
        self.assertTrue(readable(lst, 30))
        server, _ = accept(lst)
        self.addCleanup(server.close)
        self.assertEqual(read_exactly(server, len(payload)), payload)
        sender.join()
        self.assertTrue(self.writable(c, 10000))
        self.assertEqual(self.svc.getsockopt(c, socket.SOL_SOCKET, socket.SO_ERROR).int_value(), 0)
        self.assertEqual(self.svc.on("getpeername", c).address, (BLACK_HOLE, 8125))
        c.sendall(b"and after")
        self.assertEqual(read_exactly(server, 9), b"and after")

    def test_a_failed_nonblocking_connect_wakes_poll_with_its_error(self):
        c = self.stream()
        self.assertEqual(self.svc.connect(c, LOOPBACK, 8126).error, errno.EINPROGRESS)  # nobody listens
        events = self.writable(c, 10000)
        self.assertTrue(events and events[0][1] & select.POLLOUT, events)
        self.assertEqual(self.svc.getsockopt(c, socket.SOL_SOCKET, socket.SO_ERROR).int_value(),
                         errno.ECONNREFUSED)
        # Closed while connecting: the attempt goes with it.
        self.black_hole()
        d = self.stream()
        self.assertEqual(self.svc.connect(d, BLACK_HOLE, 8126).error, errno.EINPROGRESS)
        self.assertEqual(self.writable(d, 300), [])
        d.close()
        eventually(lambda: not [r for r in self.tcp_rows() if r["remote"] == f"{BLACK_HOLE}:8126"],
                   what="the abandoned attempt to go")

    def test_connect_listen_and_bind_answer_as_linux(self):
        self.black_hole()
        c = self.stream()
        self.assertEqual(self.svc.connect(c, BLACK_HOLE, 80).error, errno.EINPROGRESS)
        self.assertEqual(self.svc.connect(c, BLACK_HOLE, 80).error, errno.EALREADY)
        self.assertEqual(self.svc.on("getpeername", c).error, errno.ENOTCONN)  # SYN_SENT
        self.assertEqual(self.svc.listen(c).error, errno.EINVAL)
        self.assertEqual(self.svc.bind(c, LOOPBACK, 8120).error, errno.EINVAL)
        self.assertIn("SYN_SENT", {r["state"] for r in self.tcp_rows()})
        # listen() without bind() takes an ephemeral port, as Linux does.
        lst = self.stream()
        self.assertEqual(self.svc.listen(lst, -1).error, 0)  # a negative backlog is somaxconn
        port = self.svc.on("getsockname", lst).address[1]
        self.assertGreaterEqual(port, 32768)
        self.assertEqual(self.svc.getsockopt(lst, socket.SOL_SOCKET, socket.SO_ACCEPTCONN).int_value(), 1)
        self.assertEqual(self.svc.listen(lst, 4).error, 0)  # again: a new backlog
        self.assertEqual(self.svc.connect(lst, LOOPBACK, 8121).error, errno.EISCONN)
        other = self.stream()
        self.assertEqual(self.svc.bind(other, "0.0.0.0", port).error, errno.EADDRINUSE)
        self.assertEqual(self.svc.bind(other, LOOPBACK, 8122).error, 0)
        self.assertEqual(self.svc.bind(other, LOOPBACK, 8123).error, errno.EINVAL)
        self.assertEqual(self.svc.connect(other, "224.0.0.1", 80).error, errno.ENETUNREACH)
        # A listener's port is free again as soon as its application lets go.
        lst.close()
        again = self.stream()
        self.assertEqual(self.svc.bind(again, "0.0.0.0", port).error, 0)
        self.assertEqual(self.svc.listen(again).error, 0)

    def test_the_application_keeps_a_socket_shut_both_ways_until_it_closes_it(self):
        """pktd's end of a pair both of whose directions are done reports POLLHUP while the
        application still holds it: that must not be taken for its close."""
        open_at_start = self.sockets_counter("sockets_open")
        client, server = self.connected_pair(8104)
        self.assertEqual(self.shutdown(client, socket.SHUT_WR), 0)
        self.assertEqual(read_to_end(server), b"")  # the FIN
        server.sendall(b"the last word")
        server.close()
        self.assertEqual(read_to_end(client), b"the last word")
        with self.assertRaises(BrokenPipeError):
            client.send(b"after SHUT_WR")
        eventually(lambda: self.sockets_counter("sockets_open") == open_at_start + 2,
                   what="the server's socket to close")
        self.daemon.pkt("netstat", "-s", check=True)  # a round trip through pktd after the hang-up
        self.assertEqual(self.sockets_counter("sockets_open"), open_at_start + 2)
        self.assertEqual(self.svc.on("getpeername", client).error, errno.ENOTCONN)  # it has ended
        self.assertEqual(self.svc.on("getsockname", client).error, 0)  # but the socket is there
        client.close()
        eventually(lambda: self.sockets_counter("sockets_open") == open_at_start + 1,
                   what="the client's socket to close")
        # The other order: the peer's FIN first, then the application's SHUT_WR.
        client, server = self.connected_pair(8105)
        server.close()
        self.assertEqual(read_to_end(client), b"")
        self.assertEqual(self.shutdown(client, socket.SHUT_WR), 0)
        eventually(lambda: self.sockets_counter("sockets_open") == open_at_start + 3,
                   what="the second server's socket to close")
        self.daemon.pkt("netstat", "-s", check=True)
        self.assertEqual(self.sockets_counter("sockets_open"), open_at_start + 3)
        client.close()
        eventually(lambda: self.sockets_counter("sockets_open") == open_at_start + 2,
                   what="the second client's socket to close")

    def test_closing_with_unread_bytes_or_linger_zero_resets_the_peer(self):
        client, server = self.connected_pair(8106)
        self.assertEqual(self.svc.on("setsockopt", client, args=(socket.SOL_SOCKET, socket.SO_LINGER, 0, 0),
                                     opt=struct.pack("=ii", 1, 0)).error, 0)
        client.close()
        self.assertEqual(read_to_end(server), b"")
        self.assertEqual(self.svc.getsockopt(server, socket.SOL_SOCKET, socket.SO_ERROR).int_value(),
                         errno.ECONNRESET)
        client, server = self.connected_pair(8107)
        client.sendall(b"never read")
        self.assertTrue(readable(server))
        server.close()
        self.assertEqual(read_to_end(client), b"")
        self.assertEqual(self.svc.getsockopt(client, socket.SOL_SOCKET, socket.SO_ERROR).int_value(),
                         errno.ECONNRESET)
        self.assertEqual(self.sockets_counter("closes_reset"), 2)

    def test_linger_zero_close_sends_only_a_reset_and_shutdown_still_a_fin(self):
        """Linux's close with SO_LINGER {1, 0} resets without a FIN first (tcp_close), so the
        peer's recv fails with ECONNRESET instead of reading end of file; shutdown(SHUT_WR)
        still sends the FIN."""
        linger_zero = {"args": (socket.SOL_SOCKET, socket.SO_LINGER, 0, 0), "opt": struct.pack("=ii", 1, 0)}
        client, server = self.connected_pair(8127)
        self.assertEqual(self.svc.on("setsockopt", client, **linger_zero).error, 0)
        client.sendall(b"sent first")
        self.assertEqual(read_exactly(server, 10), b"sent first")
        eventually(lambda: all(r["send_queue"] == 0 for r in self.tcp_rows()), what="everything acknowledged")
        segments, resets = self.tcp_counter("segments_sent"), self.tcp_counter("resets_sent")
        client.close()
        self.assertEqual(read_to_end(server), b"")
        self.assertEqual(self.svc.getsockopt(server, socket.SOL_SOCKET, socket.SO_ERROR).int_value(),
                         errno.ECONNRESET)
        # The RST was the only segment: no FIN before it (nor the ACK that FIN would get).
        self.assertEqual((self.tcp_counter("segments_sent") - segments, self.tcp_counter("resets_sent") - resets),
                         (1, 1))
        # shutdown(SHUT_WR) with the same option: a FIN, and the connection goes on the other way.
        client, server = self.connected_pair(8128)
        self.assertEqual(self.svc.on("setsockopt", client, **linger_zero).error, 0)
        self.assertEqual(self.shutdown(client, socket.SHUT_WR), 0)
        self.assertEqual(read_to_end(server), b"")
        self.assertEqual(self.svc.getsockopt(server, socket.SOL_SOCKET, socket.SO_ERROR).int_value(), 0)
        server.sendall(b"still heard")
        self.assertEqual(read_exactly(client, 11), b"still heard")
        client.close()  # and now the reset
        eventually(lambda: self.svc.getsockopt(server, socket.SOL_SOCKET, socket.SO_ERROR).int_value()
                   == errno.ECONNRESET, what="the reset after the FIN")

    def test_an_orderly_close_sends_everything_first(self):
        client, server = self.connected_pair(8108)
        payload = os.urandom(3 << 20)  # more than the pair and the send buffer hold at once
        sender = threading.Thread(target=lambda: (server.sendall(payload), server.close()))
        sender.start()
        self.assertEqual(read_to_end(client), payload)
        sender.join()
        self.assertEqual(self.svc.getsockopt(client, socket.SOL_SOCKET, socket.SO_ERROR).int_value(), 0)
        eventually(lambda: self.sockets_counter("orphans_open") == 0, what="no orphan left")

    def test_unaccepted_connections_push_back_on_the_listener(self):
        lst = self.listener(8109, backlog=1)
        clients = []
        for i in range(12):  # more than the pair (about 6), the hand-off (1) and the accept queue (1) hold
            c = self.stream()
            overflows = self.tcp_counter("listen_overflows")
            self.assertEqual(self.svc.connect(c, LOOPBACK, 8109).error, errno.EINPROGRESS)
            c.sendall(bytes([i]))  # sent once the handshake is done
            clients.append(c)
            # One handshake at a time, as connect() over Linux's loopback completes it: a SYN that
            # met another handshake half done would go the SYN cookie way (the SYN queue holds
            # one), and such clients, whose ACKs the full accept queue drops, retransmit all at
            # the same moments with one getting in per doubling round (minutes for a few).
            eventually(lambda: self.svc.on("getpeername", c).error == 0 or
                       self.tcp_counter("listen_overflows") > overflows,
                       what=f"client {i}'s handshake to be done or its SYN dropped")
        eventually(lambda: self.sockets_counter("handoffs_deferred") > 0, what="the listening pair full")
        eventually(lambda: self.tcp_counter("listen_overflows") > 0, what="the accept queue full")
        eventually(lambda: any(r["state"] == "LISTEN" and r["recv_queue"] >= 1 for r in self.tcp_rows()),
                   what="netstat shows the listener's accept queue")
        # Accepting makes room: every connection arrives, in the end, with its own octet.
        seen = set()
        for _ in clients:
            self.assertTrue(readable(lst, 30))
            conn, _ = accept(lst)
            self.addCleanup(conn.close)
            seen.add(read_exactly(conn, 1)[0])
        self.assertEqual(seen, set(range(len(clients))))

    def test_options_read_back_as_linux_reports_them(self):
        client, server = self.connected_pair(8110)
        get = self.svc.getsockopt
        self.assertEqual(get(client, socket.SOL_SOCKET, socket.SO_TYPE).int_value(), socket.SOCK_STREAM)
        self.assertEqual(get(client, socket.SOL_SOCKET, socket.SO_PROTOCOL).int_value(), socket.IPPROTO_TCP)
        self.assertEqual(get(client, socket.SOL_SOCKET, socket.SO_ACCEPTCONN).int_value(), 0)
        self.assertEqual(get(client, socket.IPPROTO_TCP, socket.TCP_NODELAY).int_value(), 0)
        self.assertEqual(self.svc.setsockopt(client, socket.IPPROTO_TCP, socket.TCP_NODELAY, 1).error, 0)
        self.assertEqual(get(client, socket.IPPROTO_TCP, socket.TCP_NODELAY).int_value(), 1)
        self.assertEqual(self.svc.setsockopt(client, socket.SOL_SOCKET, socket.SO_RCVBUF, 10000).error, 0)
        self.assertEqual(get(client, socket.SOL_SOCKET, socket.SO_RCVBUF).int_value(), 20000)
        self.assertEqual(get(server, socket.SOL_SOCKET, socket.SO_RCVBUF).int_value(), 131072)
        self.assertEqual(get(client, socket.IPPROTO_TCP, socket.TCP_KEEPIDLE).int_value(), 7200)
        self.assertEqual(self.svc.setsockopt(client, socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 0).error, errno.EINVAL)
        self.assertEqual(self.svc.setsockopt(client, socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 128).error, errno.EINVAL)
        self.assertEqual(self.svc.setsockopt(client, socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 10).error, 0)
        self.assertEqual(get(client, socket.IPPROTO_TCP, socket.TCP_KEEPINTVL).int_value(), 10)
        self.assertEqual(self.svc.setsockopt(client, socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, -1).error, errno.EINVAL)
        self.assertEqual(get(client, socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).opt.rstrip(b"\0"), b"cubic")
        algorithm = self.svc.on("setsockopt", client, args=(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 0, 0),
                                opt=b"newreno")
        self.assertEqual(algorithm.error, 0)
        self.assertEqual(get(client, socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).opt.rstrip(b"\0"), b"newreno")
        nope = self.svc.on("setsockopt", client, args=(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 0, 0), opt=b"nope")
        self.assertEqual(nope.error, errno.ENOENT)
        self.assertGreater(get(client, socket.IPPROTO_TCP, socket.TCP_MAXSEG).int_value(), 536)
        info = get(client, socket.IPPROTO_TCP, socket.TCP_INFO, 232)
        self.assertEqual(len(info.opt), 232)
        state, *_ = struct.unpack_from("=B", info.opt, 0)
        rto, _ato, snd_mss, rcv_mss = struct.unpack_from("=4I", info.opt, 8)
        self.assertEqual(state, TCP_STATE_ESTABLISHED)
        self.assertGreaterEqual(rto, 200000)  # Linux's floor, in microseconds
        self.assertGreater(snd_mss, 0)
        self.assertGreater(rcv_mss, 0)
        self.assertEqual(struct.unpack_from("=B", get(self.listener(8111), socket.IPPROTO_TCP,
                                                      socket.TCP_INFO, 8).opt)[0], TCP_STATE_LISTEN)
        # Accepted without effect (docs/sockets.md), and read back.
        self.assertEqual(get(client, socket.IPPROTO_TCP, socket.TCP_QUICKACK).int_value(), 1)
        self.assertEqual(self.svc.setsockopt(client, socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 5).error, 0)
        self.assertEqual(get(client, socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT).int_value(), 5)
        # What a Linux TCP socket refuses.
        self.assertEqual(self.svc.setsockopt(client, socket.IPPROTO_TCP, socket.TCP_INFO, 1).error, errno.ENOPROTOOPT)
        self.assertEqual(get(client, socket.IPPROTO_TCP, 99).error, errno.ENOPROTOOPT)
        self.assertEqual(get(client, socket.IPPROTO_UDP, 1).error, errno.ENOPROTOOPT)
        # Children inherit the listener's options, as on Linux.
        lst = self.listener(8112)
        self.assertEqual(self.svc.setsockopt(lst, socket.IPPROTO_TCP, socket.TCP_NODELAY, 1).error, 0)
        c = self.stream()
        self.svc.connect(c, LOOPBACK, 8112)
        child, _ = self.accepted(lst)
        self.assertEqual(get(child, socket.IPPROTO_TCP, socket.TCP_NODELAY).int_value(), 1)

    def test_shutdown_answers_as_linux(self):
        s = self.stream()
        self.assertEqual(self.shutdown(s, socket.SHUT_RDWR), errno.ENOTCONN)
        self.assertEqual(self.shutdown(s, 7), errno.EINVAL)
        client, server = self.connected_pair(8113)
        server.sendall(b"queued before")
        self.assertTrue(readable(client))
        self.assertEqual(self.shutdown(client, socket.SHUT_RD), 0)
        self.assertEqual(read_to_end(client), b"queued before")
        server.sendall(b"x" * 5000)  # taken and dropped (Linux would keep it for a recv)
        eventually(lambda: self.sockets_counter("octets_discarded_after_shutdown") == 5000,
                   what="the late octets dropped")
        client.sendall(b"still sending")  # SHUT_RD leaves the other direction alone
        self.assertEqual(read_exactly(server, 13), b"still sending")
        # SHUT_RD on a listener stops it: its application reads end of file, new SYNs are refused.
        lst = self.listener(8114)
        self.assertEqual(self.shutdown(lst, socket.SHUT_RD), 0)
        self.assertEqual(read_to_end(lst), b"")
        self.assertEqual(self.svc.getsockopt(lst, socket.SOL_SOCKET, socket.SO_ACCEPTCONN).int_value(), 0)
        waiting = self.connect()
        self.assertEqual(waiting.connect(self.stream(), LOOPBACK, 8114, wait=True).error, errno.ECONNREFUSED)

    def test_descriptors_and_garbage_on_stream_pairs_are_refused_not_fatal(self):
        fds_before = self.pktd_fds_now_that_we_are_connected()
        first = self.listener(8115)
        client = self.stream()
        self.svc.connect(client, LOOPBACK, 8115)
        server, _ = self.accepted(first)
        with open("/etc/hostname") as f:
            client.sendmsg([b"bytes"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [f.fileno()]))])
        self.assertEqual(read_exactly(server, 5), b"bytes")
        self.assertEqual(self.sockets_counter("descriptors_refused"), 1)
        lst = self.listener(8116)
        lst.sendall(b"a listener carries no bytes")  # ignored
        c = self.stream()
        self.svc.connect(c, LOOPBACK, 8116)
        child, _ = self.accepted(lst)
        unconnected = self.stream()
        unconnected.sendall(b"never connected")  # closed with its bytes still in the pair
        for sock in (client, server, first, lst, c, child, unconnected):
            sock.close()
        eventually(lambda: self.sockets_counter("sockets_open") == 0, what="every socket to close")
        # Nothing left behind in pktd (pkt's control connection closes soon after its answer).
        eventually(lambda: self.pktd_fds() <= fds_before, what="pktd's fds to return to where they were")
        self.assertTrue(self.can_make_a_socket())


def peer_of(test, sock):
    return test.svc.on("getsockname", sock).address


class Limits(ServiceTest):
    daemon_args = ("-p", "tcpip,sockets_per_user=5")

    def test_sockets_per_user(self):
        held = [self.new_socket() for _ in range(5)]
        self.assertEqual(self.svc.socket()[0].error, errno.ENOBUFS)
        self.assertIn("per-user limit", self.daemon.output())
        self.assertEqual(self.sockets_counter("refused_per_user_limit"), 1)
        held[0].close()
        eventually(self.can_make_a_socket, what="room for one more socket")

    def test_accepted_connections_count_for_the_listeners_owner(self):
        r, lst = self.svc.socket(kind=socket.SOCK_STREAM)
        self.addCleanup(lst.close)
        self.assertEqual(self.svc.bind(lst, LOOPBACK, 8200).error, 0)
        self.assertEqual(self.svc.listen(lst).error, 0)
        # Five connections from another user: four fit root's limit beside the listener.
        script = ("import sys; sys.path.insert(0, %r); import svcproto, socket\n"
                  "s = svcproto.Service(%r); w = svcproto.Service(%r); held = []\n"
                  "for _ in range(5):\n"
                  "    r, c = s.socket(kind=socket.SOCK_STREAM); held.append(c)\n"
                  "    print(w.connect(c, '127.0.0.1', 8200, wait=True).error, flush=True)\n"
                  "sys.stdin.read()\n" % (os.path.dirname(__file__), self.path, self.path))
        nobody = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                   sys.executable, "-c", script], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.addCleanup(nobody.wait)
        self.addCleanup(nobody.stdout.close)
        self.addCleanup(nobody.stdin.close)
        self.assertEqual([nobody.stdout.readline().strip() for _ in range(5)], ["0"] * 5)
        conns = []
        for _ in range(4):
            self.assertTrue(readable(lst))
            conns.append(accept(lst)[0])
        eventually(lambda: self.sockets_counter("accepts_held_by_limit") == 1, what="the fifth held")
        self.assertEqual(self.svc.socket()[0].error, errno.ENOBUFS)
        conns[0].close()  # a socket closes: the fifth connection comes
        self.assertTrue(readable(lst))
        conns.append(accept(lst)[0])
        for c in conns:
            c.close()


class Shutdown(ServiceTest):
    def test_stopping_pktd_ends_every_socket_and_connection(self):
        s = self.new_socket()
        self.assertEqual(self.svc.bind(s, LOOPBACK, 7400).result, 0)
        r, lst = self.svc.socket(kind=socket.SOCK_STREAM)
        self.addCleanup(lst.close)
        self.assertEqual((self.svc.bind(lst, LOOPBACK, 7401).error, self.svc.listen(lst).error), (0, 0))
        r, client = self.svc.socket(kind=socket.SOCK_STREAM)
        self.addCleanup(client.close)
        self.assertEqual(self.svc.connect(client, LOOPBACK, 7401).error, errno.EINPROGRESS)
        self.assertTrue(readable(lst))
        server, _ = accept(lst)
        self.addCleanup(server.close)
        self.daemon.proc.send_signal(signal.SIGTERM)
        self.assertTrue(readable(s, 20))
        self.assertEqual(s.recv(100), b"")  # end of file: libpkt turns it into ENETDOWN
        for stream in (lst, client, server):
            self.assertTrue(readable(stream, 20))
            self.assertEqual(stream.recv(100), b"")
        self.assertTrue(readable(self.svc.conn, 20))
        self.assertEqual(self.svc.conn.recv(100), b"")
        self.assertEqual(self.daemon.proc.wait(20), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

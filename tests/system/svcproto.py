"""The socket service's wire format (ctl/socket_protocol.h) for tests that speak it directly,
without libpkt: hostile clients, fd passing, limits."""
import array
import socket
import struct

VERSION = 2
MAX_OPT = 256
REQUEST = "=IIQ4iHHII16sI256s"   # SvcRequest: 320 bytes
REPLY = "=IIQiiHHII16sI256s"     # SvcReply: 312 bytes
HEADER = "=HHiHHII16s"          # DgramHeader: 36 bytes
ADDRESS = "=HHII16s"             # SvcAddress: 28 bytes (a connection on a listening stream's pair)
HEADER_SIZE = struct.calcsize(HEADER)

OP = {"socket": 1, "bind": 2, "connect": 3, "getsockname": 4, "getpeername": 5,
      "setsockopt": 6, "getsockopt": 7, "shutdown": 8, "listen": 9}
DATA, ERROR = 1, 2


def address(ip="0.0.0.0", port=0, family=socket.AF_INET):
    return (family, port, 0, 0, socket.inet_aton(ip) + bytes(12))


def unpack_address(family, port, _scope, _flow, raw):
    return (socket.inet_ntoa(raw[:4]), port) if family == socket.AF_INET else None


class Reply:
    def __init__(self, data, fd):
        (self.version, self.op, self.seq, self.result, self.error, *addr, self.optlen,
         opt) = struct.unpack(REPLY, data)
        self.address = unpack_address(*addr)
        self.opt = opt[:self.optlen]
        self.fd = fd

    def int_value(self):
        return struct.unpack("=i", self.opt[:4])[0]


class Service:
    """One service connection, as libpkt makes it."""

    def __init__(self, path):
        self.conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.conn.connect(path)
        self.seq = 0

    def close(self):
        self.conn.close()

    def request(self, op, args=(0, 0, 0, 0), addr=address(family=0), opt=b"", fds=()):
        self.send(op, args, addr, opt, fds)
        return self.reply()

    def send(self, op, args=(0, 0, 0, 0), addr=address(family=0), opt=b"", fds=()):
        """A request without waiting for its reply."""
        self.seq += 1
        msg = struct.pack(REQUEST, VERSION, OP[op], self.seq, *args, *addr, len(opt), opt.ljust(MAX_OPT, b"\0"))
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        self.conn.sendmsg([msg], ancillary)

    def reply(self):
        data, ancillary, _, _ = self.conn.recvmsg(1024, socket.CMSG_SPACE(4 * 4))
        fd = None
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fd = array.array("i", payload[:4])[0]
        return Reply(data, fd)

    def socket(self, family=socket.AF_INET, kind=socket.SOCK_DGRAM, protocol=0):
        """(reply, a Python socket object on the application's end or None)."""
        r = self.request("socket", (family, kind, protocol, 0))
        return r, (socket.socket(fileno=r.fd) if r.fd is not None else None)

    def on(self, op, sock, **kw):
        return self.request(op, fds=(sock.fileno(),), **kw)

    def bind(self, sock, ip="0.0.0.0", port=0):
        return self.on("bind", sock, addr=address(ip, port))

    def connect(self, sock, ip, port, wait=False):
        """wait: a blocking stream connect (the reply comes when the handshake is decided)."""
        return self.on("connect", sock, args=(1 if wait else 0, 0, 0, 0), addr=address(ip, port))

    def listen(self, sock, backlog=16):
        return self.on("listen", sock, args=(backlog, 0, 0, 0))

    def setsockopt(self, sock, level, name, value):
        return self.on("setsockopt", sock, args=(level, name, 0, 0), opt=struct.pack("=i", value))

    def getsockopt(self, sock, level, name, size=4):
        return self.on("getsockopt", sock, args=(level, name, size, 0))


def accept(listener):
    """The next connection on a listening stream's application end: (socket, peer address), or
    None at end of file."""
    data, ancillary, _, _ = listener.recvmsg(struct.calcsize(ADDRESS), socket.CMSG_SPACE(4))
    fds = [array.array("i", payload[:4])[0] for level, kind, payload in ancillary
           if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS]
    if not data:
        return None
    assert len(data) == struct.calcsize(ADDRESS) and len(fds) == 1, (data, ancillary)
    return socket.socket(fileno=fds[0]), unpack_address(*struct.unpack(ADDRESS, data))


def send_to(sock, payload, ip=None, port=0):
    """One datagram on an application's end: to (ip, port), or the connected peer."""
    addr = address(ip, port) if ip else address(family=0)
    return sock.send(struct.pack(HEADER, DATA, 0, 0, *addr) + payload)


def receive(sock, size=70000):
    """(kind, error, source address, payload) of the next message on an application's end."""
    msg = sock.recv(size)
    if not msg:
        return None
    kind, _flags, error, *addr = struct.unpack(HEADER, msg[:HEADER_SIZE])
    return kind, error, unpack_address(*addr), msg[HEADER_SIZE:]

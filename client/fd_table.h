// What each descriptor of the process is, as far as libpkt is concerned: not
// yet looked at, not a pktd socket, or a pktd socket (family, type, protocol,
// role, which service).
//
// A fixed table of atomics indexed by fd (constant-initialised: no constructor
// runs before main). Descriptors beyond it are recognised afresh on every call.
// An entry is filled lazily by looking at the descriptor itself (a pktd socket
// is an AF_UNIX socket bound to the abstract name
// "\0pktd:<family>:<type>:<protocol>:<id>:<instance>"), so descriptors
// inherited across exec or received from another process are recognised too.
// close, close_range, closefrom, dup*, fcntl(F_DUPFD*) and socketpair through
// libpkt keep the table right. A descriptor closed behind libpkt's back (a raw
// system call, the C library's internal close) and reused is caught by the
// identity a pktd entry keeps, the (st_dev, st_ino) of the application's end:
// find() compares it with fstat (about 100 ns) before it answers "pktd", so a
// reused descriptor is looked at afresh rather than given a datagram header.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace pktd::client {

enum class Role : uint8_t {
  unknown = 0,  // inherited or received: not asked yet
  unconnected = 1,
  connected = 2,
  listening = 3,
};

struct SocketInfo {
  int family = 0;    // AF_INET or AF_INET6
  int type = 0;      // SOCK_DGRAM, SOCK_STREAM, ... without flags
  int protocol = 0;  // IPPROTO_UDP, IPPROTO_TCP, ...
  Role role = Role::unknown;
  int service = 0;  // the service connection it belongs to (service.h)

  // Streams pass data natively; everything else frames it with a DgramHeader.
  bool is_stream() const;
};

namespace fd_table {

// The pktd socket behind fd, or nullopt when fd is anything else (or not open).
// A pktd entry whose identity no longer matches the descriptor is looked at
// again.
std::optional<SocketInfo> find(int fd);
// Looks at fd again, ignoring what the table said.
std::optional<SocketInfo> recheck(int fd);

// fd is a pktd socket libpkt has just received from pktd (its identity is
// read here).
void remember(int fd, const SocketInfo& info);
void set_role(int fd, Role role);
// fd was closed, or is a new descriptor libpkt knows nothing about.
void forget(int fd);
// Every descriptor from first to last (inclusive) was closed.
void forget_range(unsigned first, unsigned last);
// newfd is a duplicate of fd.
void copy(int fd, int newfd);

// Parses the abstract name of a pktd socket (without the leading NUL);
// *instance receives the instance name (a view into name). false if it is not
// one.
bool parse_socket_name(std::string_view name, SocketInfo* info, std::string_view* instance);

}  // namespace fd_table
}  // namespace pktd::client

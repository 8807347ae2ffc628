#include "client/address.h"

#include <errno.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace pktd::client {

namespace {

int fail(int error) {
  errno = error;
  return -1;
}

// The kernel copies the address in first: a length it cannot hold is EINVAL, a
// bad pointer EFAULT.
int check_copy_in(const sockaddr* addr, socklen_t len) {
  if (len > sizeof(sockaddr_storage)) return fail(EINVAL);
  if (len > 0 && addr == nullptr) return fail(EFAULT);
  return 0;
}

sa_family_t family_of(const sockaddr* addr) {
  sa_family_t f;
  std::memcpy(&f, addr, sizeof f);
  return f;
}

ctl::SvcAddress from_inet(const sockaddr* addr) {
  sockaddr_in in;
  std::memcpy(&in, addr, sizeof in);
  ctl::SvcAddress a;
  a.family = AF_INET;
  a.port = ntohs(in.sin_port);
  std::memcpy(a.addr, &in.sin_addr, 4);
  return a;
}

ctl::SvcAddress from_inet6(const sockaddr* addr) {
  sockaddr_in6 in6;
  std::memcpy(&in6, addr, sizeof in6);
  ctl::SvcAddress a;
  a.family = AF_INET6;
  a.port = ntohs(in6.sin6_port);
  a.flowinfo = ntohl(in6.sin6_flowinfo);
  a.scope_id = in6.sin6_scope_id;
  std::memcpy(a.addr, &in6.sin6_addr, 16);
  return a;
}

// An AF_INET or AF_INET6 address of at least its full size; AF_INET only on
// AF_INET sockets.
int inet_address(const SocketInfo& s, const sockaddr* addr, socklen_t len, ctl::SvcAddress* out) {
  sa_family_t f = family_of(addr);
  if (f == AF_INET6 && s.family == AF_INET6) {
    if (len < sizeof(sockaddr_in6)) return fail(EINVAL);
    *out = from_inet6(addr);
    return 0;
  }
  if (f != AF_INET) return fail(EAFNOSUPPORT);
  if (len < sizeof(sockaddr_in)) return fail(EINVAL);
  *out = from_inet(addr);
  return 0;
}

bool is_any(const sockaddr* addr) {
  sockaddr_in in;
  std::memcpy(&in, addr, sizeof in);
  return in.sin_addr.s_addr == htonl(INADDR_ANY);
}

}  // namespace

int bind_address(const SocketInfo& s, const sockaddr* addr, socklen_t len, ctl::SvcAddress* out) {
  if (check_copy_in(addr, len) != 0) return -1;
  socklen_t minimum = s.family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (len < minimum) return fail(EINVAL);
  // Linux accepts AF_UNSPEC with INADDR_ANY on AF_INET sockets, for old
  // programs.
  if (s.family == AF_INET && family_of(addr) == AF_UNSPEC && is_any(addr)) {
    *out = from_inet(addr);
    out->family = AF_INET;
    return 0;
  }
  sa_family_t f = family_of(addr);
  if (f != s.family) return fail(EAFNOSUPPORT);
  *out = f == AF_INET6 ? from_inet6(addr) : from_inet(addr);
  return 0;
}

int connect_address(const SocketInfo& s, const sockaddr* addr, socklen_t len,
                    ctl::SvcAddress* out) {
  if (check_copy_in(addr, len) != 0) return -1;
  if (len < sizeof(sa_family_t)) return fail(EINVAL);
  if (family_of(addr) == AF_UNSPEC) {
    *out = ctl::SvcAddress{};
    return 0;
  }
  return inet_address(s, addr, len, out);
}

int destination_address(const SocketInfo& s, const sockaddr* addr, socklen_t len,
                        ctl::SvcAddress* out) {
  if (check_copy_in(addr, len) != 0) return -1;
  if (len < sizeof(sockaddr_in)) return fail(EINVAL);
  // udp_sendmsg takes AF_UNSPEC as AF_INET.
  if (s.family == AF_INET && family_of(addr) == AF_UNSPEC) {
    *out = from_inet(addr);
    out->family = AF_INET;
  } else if (inet_address(s, addr, len, out) != 0) {
    return -1;
  }
  if (out->port == 0) return fail(EINVAL);
  return 0;
}

void address_to_user(const SocketInfo& s, const ctl::SvcAddress& a, sockaddr* addr,
                     socklen_t* len) {
  sockaddr_storage storage{};
  socklen_t full;
  // An AF_UNSPEC answer is shown as the socket's family with a zero address, as
  // Linux shows an unbound socket.
  int family = a.family != AF_UNSPEC ? a.family : s.family;
  if (family == AF_INET6) {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(a.port);
    in6.sin6_flowinfo = htonl(a.flowinfo);
    in6.sin6_scope_id = a.scope_id;
    std::memcpy(&in6.sin6_addr, a.addr, 16);
    std::memcpy(&storage, &in6, sizeof in6);
    full = sizeof in6;
  } else {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(a.port);
    std::memcpy(&in.sin_addr, a.addr, 4);
    std::memcpy(&storage, &in, sizeof in);
    full = sizeof in;
  }
  if (addr != nullptr) std::memcpy(addr, &storage, std::min(*len, full));
  *len = full;
}

}  // namespace pktd::client

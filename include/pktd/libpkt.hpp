// A small C++ face on libpkt (pktd/libpkt.h): an owning Socket whose calls
// return std::error_code instead of setting errno. Header-only; link libpkt.
//
//   std::error_code ec;
//   pkt::Socket s = pkt::Socket::open(AF_INET, SOCK_DGRAM, 0, ec);
//   s.bind(pkt::ipv4("0.0.0.0", 0));
//   s.send_to(std::as_bytes(std::span(text)), pkt::ipv4("198.18.0.2", 7), ec);
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstddef>
#include <span>
#include <system_error>
#include <utility>

#include "pktd/libpkt.h"

namespace pkt {

// An IPv4 address and port; dotted must be numeric ("198.18.0.1"). A bad one
// gives 0.0.0.0.
inline sockaddr_in ipv4(const char* dotted, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, dotted, &a.sin_addr) != 1) a.sin_addr.s_addr = htonl(INADDR_ANY);
  return a;
}

inline std::error_code last_error() { return {errno, std::generic_category()}; }

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept {
    if (this != &other) {
      close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { close(); }

  // pkt_socket; on failure an invalid Socket and ec set.
  static Socket open(int domain, int type, int protocol, std::error_code& ec) {
    int fd = pkt_socket(domain, type, protocol);
    ec = fd < 0 ? last_error() : std::error_code();
    return Socket(fd);
  }

  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() { return std::exchange(fd_, -1); }

  std::error_code close() {
    if (fd_ < 0) return {};
    int r = pkt_close(std::exchange(fd_, -1));
    return r < 0 ? last_error() : std::error_code();
  }

  std::error_code bind(const sockaddr_in& a) {
    return check(pkt_bind(fd_, as_sockaddr(a), sizeof a));
  }
  std::error_code connect(const sockaddr_in& a) {
    return check(pkt_connect(fd_, as_sockaddr(a), sizeof a));
  }
  std::error_code listen(int backlog) { return check(pkt_listen(fd_, backlog)); }
  std::error_code shutdown(int how) { return check(pkt_shutdown(fd_, how)); }

  // The accepted connection (streams), its peer in *peer if not null.
  Socket accept(sockaddr_in* peer, std::error_code& ec, int flags = 0) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    int fd = pkt_accept4(fd_, reinterpret_cast<sockaddr*>(&a), &len, flags);
    ec = fd < 0 ? last_error() : std::error_code();
    if (fd >= 0 && peer != nullptr) *peer = a;
    return Socket(fd);
  }

  // Bytes sent (to the connected peer), or 0 with ec set.
  size_t send(std::span<const std::byte> data, std::error_code& ec, int flags = 0) {
    return count(pkt_send(fd_, data.data(), data.size(), flags), ec);
  }
  size_t send_to(std::span<const std::byte> data, const sockaddr_in& to, std::error_code& ec,
                 int flags = 0) {
    return count(pkt_sendto(fd_, data.data(), data.size(), flags, as_sockaddr(to), sizeof to), ec);
  }
  // Bytes received (a datagram's payload), or 0 with ec set.
  size_t receive(std::span<std::byte> buffer, std::error_code& ec, int flags = 0) {
    return count(pkt_recv(fd_, buffer.data(), buffer.size(), flags), ec);
  }
  size_t receive_from(std::span<std::byte> buffer, sockaddr_in* from, std::error_code& ec,
                      int flags = 0) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    size_t n = count(pkt_recvfrom(fd_, buffer.data(), buffer.size(), flags,
                                  reinterpret_cast<sockaddr*>(&a), &len),
                     ec);
    if (!ec && from != nullptr) *from = a;
    return n;
  }

  std::error_code local_address(sockaddr_in* a) const {
    socklen_t len = sizeof *a;
    return check(pkt_getsockname(fd_, reinterpret_cast<sockaddr*>(a), &len));
  }
  std::error_code peer_address(sockaddr_in* a) const {
    socklen_t len = sizeof *a;
    return check(pkt_getpeername(fd_, reinterpret_cast<sockaddr*>(a), &len));
  }

  template <typename T>
  std::error_code set_option(int level, int name, const T& value) {
    return check(pkt_setsockopt(fd_, level, name, &value, sizeof value));
  }
  template <typename T>
  std::error_code get_option(int level, int name, T* value) const {
    socklen_t len = sizeof *value;
    return check(pkt_getsockopt(fd_, level, name, value, &len));
  }

 private:
  static const sockaddr* as_sockaddr(const sockaddr_in& a) {
    return reinterpret_cast<const sockaddr*>(&a);
  }
  static std::error_code check(int r) { return r < 0 ? last_error() : std::error_code(); }
  static size_t count(ssize_t n, std::error_code& ec) {
    ec = n < 0 ? last_error() : std::error_code();
    return n < 0 ? 0 : static_cast<size_t>(n);
  }

  int fd_ = -1;
};

}  // namespace pkt

#include "client/fd_table.h"

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <atomic>
#include <charconv>

#include "client/native.h"
#include "client/service.h"
#include "ctl/socket_protocol.h"

namespace pktd::client {

bool SocketInfo::is_stream() const { return type == SOCK_STREAM; }

namespace fd_table {

namespace {

// An entry packs a SocketInfo into 32 bits, 0 meaning "not looked at":
//   bits 0-1 state, 2-3 role, 4 AF_INET6, 5-8 type, 9-18 protocol, 19-22
//   service + 1.
enum State : uint32_t { kUnknown = 0, kOther = 1, kPktd = 2 };

constexpr int kTableSize = 65536;
std::atomic<uint32_t> g_table[kTableSize];  // constant-initialised to 0: every fd unknown

// A pktd entry's identity: the application's end it was seen on. Written before
// the entry and read after it; a torn pair (two threads recording the same fd at
// once) can only mismatch, and a mismatch only makes find() look again.
struct Identity {
  std::atomic<uint64_t> dev;
  std::atomic<uint64_t> ino;
};
Identity g_identity[kTableSize];  // 1 MiB of zero pages until used

void set_identity(int fd, const struct stat& st) {
  g_identity[fd].dev.store(st.st_dev, std::memory_order_relaxed);
  g_identity[fd].ino.store(st.st_ino, std::memory_order_relaxed);
}

// Whether fd is still the descriptor its entry was recorded from.
bool same_identity(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 &&
         g_identity[fd].dev.load(std::memory_order_relaxed) == st.st_dev &&
         g_identity[fd].ino.load(std::memory_order_relaxed) == st.st_ino;
}

uint32_t encode(const SocketInfo& s) {
  return kPktd | static_cast<uint32_t>(s.role) << 2 | (s.family == AF_INET6 ? 1u << 4 : 0u) |
         (static_cast<uint32_t>(s.type) & 0xfu) << 5 |
         (static_cast<uint32_t>(s.protocol) & 0x3ffu) << 9 |
         (static_cast<uint32_t>(s.service + 1) & 0xfu) << 19;
}

SocketInfo decode(uint32_t e) {
  SocketInfo s;
  s.role = static_cast<Role>(e >> 2 & 3u);
  s.family = (e & 1u << 4) != 0 ? AF_INET6 : AF_INET;
  s.type = static_cast<int>(e >> 5 & 0xfu);
  s.protocol = static_cast<int>(e >> 9 & 0x3ffu);
  s.service = static_cast<int>(e >> 19 & 0xfu) - 1;
  return s;
}

bool fits_entry(const SocketInfo& s) {
  return (s.family == AF_INET || s.family == AF_INET6) && s.type > 0 && s.type < 16 &&
         s.protocol >= 0 && s.protocol < 1024;
}

bool in_table(int fd) { return fd >= 0 && fd < kTableSize; }

// Reads one decimal field of "a:b:c" into *value and drops it and its ':' from
// text.
template <typename T>
bool take_number(std::string_view* text, T* value) {
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), *value);
  size_t used = static_cast<size_t>(end - text->data());
  if (ec != std::errc() || used == 0 || used >= text->size() || (*text)[used] != ':') return false;
  text->remove_prefix(used + 1);
  return true;
}

// Looks at the descriptor itself: an AF_UNIX socket bound to a pktd name. *st
// receives its identity.
std::optional<SocketInfo> recognize(int fd, struct stat* st) {
  if (fstat(fd, st) != 0 || !S_ISSOCK(st->st_mode)) return std::nullopt;
  int domain = 0;
  socklen_t len = sizeof domain;
  if (native::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_UNIX)
    return std::nullopt;
  sockaddr_un addr{};
  len = sizeof addr;
  if (native::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return std::nullopt;
  size_t path_len =
      len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
  if (path_len < 2 || addr.sun_path[0] != '\0') return std::nullopt;  // not an abstract name
  SocketInfo info;
  std::string_view instance;
  if (!parse_socket_name(std::string_view(addr.sun_path + 1, path_len - 1), &info, &instance))
    return std::nullopt;
  info.service = service::for_instance(instance);
  return info;
}

// Looks at fd and records what it is; errno is left as it was.
std::optional<SocketInfo> look_and_record(int fd) {
  int saved = errno;
  struct stat st;
  std::optional<SocketInfo> info = recognize(fd, &st);
  errno = saved;
  if (in_table(fd)) {
    uint32_t e = info && fits_entry(*info) ? encode(*info) : kOther;
    if (e != kOther) set_identity(fd, st);
    g_table[fd].store(e, std::memory_order_release);
  }
  return info;
}

}  // namespace

bool parse_socket_name(std::string_view name, SocketInfo* info, std::string_view* instance) {
  std::string_view prefix = ctl::kSocketNamePrefix;
  if (!name.starts_with(prefix)) return false;
  name.remove_prefix(prefix.size());
  uint64_t id = 0;  // pktd's socket id: 64 bits (it starts them apart per pktd process)
  if (!take_number(&name, &info->family) || !take_number(&name, &info->type) ||
      !take_number(&name, &info->protocol) || !take_number(&name, &id) || name.empty())
    return false;
  if (info->family != AF_INET && info->family != AF_INET6) return false;
  info->role = Role::unknown;
  *instance = name;
  return true;
}

std::optional<SocketInfo> find(int fd) {
  if (fd < 0) return std::nullopt;
  if (!in_table(fd)) return look_and_record(fd);
  uint32_t e = g_table[fd].load(std::memory_order_acquire);
  if (e == kUnknown) return look_and_record(fd);
  if ((e & 3u) != kPktd) return std::nullopt;
  // The descriptor may have been closed behind libpkt's back and reused: a
  // wrong "pktd" would put a header on another socket's data.
  if (!same_identity(fd)) return look_and_record(fd);
  return decode(e);
}

std::optional<SocketInfo> recheck(int fd) {
  if (fd < 0) return std::nullopt;
  return look_and_record(fd);
}

void remember(int fd, const SocketInfo& info) {
  if (!in_table(fd)) return;
  struct stat st;
  if (!fits_entry(info) || fstat(fd, &st) != 0) {
    g_table[fd].store(kUnknown);
    return;
  }
  set_identity(fd, st);
  g_table[fd].store(encode(info));
}

void set_role(int fd, Role role) {
  if (!in_table(fd)) return;
  uint32_t e = g_table[fd].load();
  // Only a pktd entry changes; if the fd was closed meanwhile the entry stays
  // as it is.
  while ((e & 3u) == kPktd && !g_table[fd].compare_exchange_weak(
                                  e, (e & ~(3u << 2)) | static_cast<uint32_t>(role) << 2)) {
  }
}

void forget(int fd) {
  if (in_table(fd)) g_table[fd].store(kUnknown);
}

void forget_range(unsigned first, unsigned last) {
  for (unsigned fd = first; fd <= last && fd < kTableSize; ++fd)
    if (g_table[fd].load(std::memory_order_relaxed) != kUnknown) g_table[fd].store(kUnknown);
}

void copy(int fd, int newfd) {
  if (!in_table(newfd)) return;
  if (!in_table(fd)) {
    g_table[newfd].store(kUnknown);
    return;
  }
  // A duplicate is the same open file: the same identity.
  g_identity[newfd].dev.store(g_identity[fd].dev.load());
  g_identity[newfd].ino.store(g_identity[fd].ino.load());
  g_table[newfd].store(g_table[fd].load());
}

}  // namespace fd_table
}  // namespace pktd::client

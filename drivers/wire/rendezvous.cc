#include "rendezvous.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "segment.h"
#include "pktd/fd_message.h"

namespace devnp_wire {
namespace {

// glibc's shm_open puts its objects here; the sockets go beside them, so one directory holds
// everything a link leaves behind.
constexpr const char* kShmDir = "/dev/shm";
constexpr const char* kPrefix = "pktd-wire.";
constexpr off_t kAttachLockByte = 2;
// The attach lock is held for microseconds (a few syscalls), but a holder may be descheduled:
// try for up to half a second before calling the link busy.
constexpr int kLockTries = 500;
constexpr long kLockPauseNs = 1'000'000;
constexpr int kReopenTries = 8;  // the object was unlinked under us: open the new one
constexpr uint64_t kHelloMagic = 0x6f6c6c65'68657277ULL;
constexpr uint32_t kHelloVersion = 1;

bool link_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

flock byte_lock(short type, off_t byte) {
  flock fl{};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  fl.l_pid = 0;  // required for OFD locks
  return fl;
}

bool try_lock(int fd, off_t byte) {
  flock fl = byte_lock(F_WRLCK, byte);
  return ::fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

void pause_briefly() {
  timespec ts{0, kLockPauseNs};
  ::nanosleep(&ts, nullptr);
}

bool lock_attach(int fd) {
  for (int i = 0; i < kLockTries; ++i) {
    if (try_lock(fd, kAttachLockByte)) return true;
    if (errno != EAGAIN && errno != EACCES && errno != EINTR) return false;
    pause_briefly();
  }
  errno = EBUSY;
  return false;
}

// Whether fd's object is still the one under its name (not unlinked by a leaving end).
bool still_linked(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && st.st_nlink > 0;
}

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);  // link names keep it short
  return addr;
}

int unix_socket(int& fd) {
  fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd < 0 ? errno : 0;
}

void close_fds(const std::vector<int>& fds) {
  for (int fd : fds) ::close(fd);
}

// Every fd in msg's SCM_RIGHTS messages.
std::vector<int> passed_fds(msghdr& msg) {
  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.push_back(fd);
    }
  }
  return fds;
}

}  // namespace

const char* error_text(int err) { return std::strerror(err); }

std::string check_link_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxLinkName)
    return "link name '" + name + "': expected 1 to " + std::to_string(kMaxLinkName) +
           " characters";
  for (char c : name)
    if (!link_name_char(c))
      return "link name '" + name + "': only letters, digits, '_' and '-' are allowed";
  return "";
}

LinkPaths link_paths(const std::string& name) {
  LinkPaths p;
  p.shm_name = std::string("/") + kPrefix + name;
  for (int end = 0; end < 2; ++end)
    p.socket[end] = std::string(kShmDir) + "/" + kPrefix + name + ".sock" + std::to_string(end);
  return p;
}

int open_locked(const LinkPaths& paths, int& fd, std::string& error) {
  for (int attempt = 0; attempt < kReopenTries; ++attempt) {
    fd = ::shm_open(paths.shm_name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      int err = errno;
      error = "cannot open shared memory " + paths.shm_name + ": " + error_text(err);
      return err;
    }
    if (!lock_attach(fd)) {
      int err = errno;
      ::close(fd);
      fd = -1;
      error = err == EBUSY ? "another process has been attaching to or leaving it for too long"
                           : std::string("cannot lock it: ") + error_text(err);
      return err;
    }
    if (still_linked(fd)) return 0;
    ::close(fd);  // the last end left and removed it meanwhile: take the new one
    fd = -1;
  }
  error = "it keeps being removed while we attach";
  return EAGAIN;
}

void unlock_attach(int fd) {
  flock fl = byte_lock(F_UNLCK, kAttachLockByte);
  ::fcntl(fd, F_OFD_SETLK, &fl);
}

int take_end(int fd) {
  for (int end = 0; end < 2; ++end)
    if (try_lock(fd, end)) return end;
  return -1;
}

bool end_alive(int fd, int end) {
  flock fl = byte_lock(F_WRLCK, end);
  if (::fcntl(fd, F_OFD_GETLK, &fl) != 0) return true;  // cannot tell: assume it is there
  return fl.l_type != F_UNLCK;
}

int map_segment(int fd, bool alone, std::byte*& base, std::string& error) {
  const auto size = static_cast<off_t>(SegmentLayout::kSize);
  // Alone, whatever is there is ours: a new object, or a stale one whose ends are dead.
  // Truncating to zero first empties it (tmpfs hands back zero pages).
  if (alone && (::ftruncate(fd, 0) != 0 || ::ftruncate(fd, size) != 0)) {
    int err = errno;
    error = std::string("cannot size the segment: ") + error_text(err);
    return err;
  }
  struct stat st {};
  if (!alone && (::fstat(fd, &st) != 0 || st.st_size != size)) {
    error = "the segment has the wrong size (another wire driver version?)";
    return EPROTO;
  }
  void* p = ::mmap(nullptr, SegmentLayout::kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    error = std::string("cannot map the segment: ") + error_text(err);
    return err;
  }
  base = static_cast<std::byte*>(p);
  if (alone) format_segment(base);
  if (!segment_compatible(base)) {
    unmap_segment(base);
    base = nullptr;
    error = "the segment was made by an incompatible wire driver";
    return EPROTO;
  }
  return 0;
}

void unmap_segment(std::byte* base) {
  if (base != nullptr) ::munmap(base, SegmentLayout::kSize);
}

void leave_link(const LinkPaths& paths, int fd, int end) {
  if (fd < 0) return;
  // Without the attach lock an attaching process could be using the object: leave it to be
  // reclaimed as stale by the next one.
  bool locked = lock_attach(fd);
  if (end >= 0) ::unlink(paths.socket[end].c_str());
  if (locked && !end_alive(fd, 0) && !end_alive(fd, 1)) {
    ::shm_unlink(paths.shm_name.c_str());
    for (const std::string& s : paths.socket) ::unlink(s.c_str());
  }
  ::close(fd);  // lets go of the end and attach locks
}

// --- sockets ---

int listen_at(const std::string& path, int& fd, std::string& error) {
  ::unlink(path.c_str());  // a dead end's: its lock is ours now
  if (int err = unix_socket(fd); err != 0) {
    error = std::string("socket: ") + error_text(err);
    return err;
  }
  sockaddr_un addr = unix_address(path);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(path.c_str(), 0600) != 0 || ::listen(fd, 4) != 0) {
    int err = errno;
    error = "cannot listen at " + path + ": " + error_text(err);
    return err;
  }
  return 0;
}

int connect_to(const std::string& path, int& fd) {
  if (int err = unix_socket(fd); err != 0) return err;
  sockaddr_un addr = unix_address(path);
  // A Unix socket connects at once (or fails, EAGAIN if the backlog is full): no waiting.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return errno;
  return 0;
}

Hello make_hello(int end, uint32_t mtu) {
  return Hello{kHelloMagic, kHelloVersion, static_cast<uint32_t>(end), mtu, 0};
}

int send_hello(int sock, const Hello& hello, int efd) {
  const pktd::FdMessage msg(&hello, sizeof hello, efd);
  ssize_t n = ::sendmsg(sock, msg.header(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0) return errno;
  return static_cast<size_t>(n) == sizeof hello ? 0 : EPROTO;
}

Received receive_hello(int sock, Hello& hello, int& efd) {
  Hello in{};
  iovec iov{&in, sizeof in};
  // Room for more fds than a Hello carries, so extra ones arrive (and are closed) rather than
  // being cut off with MSG_CTRUNC.
  alignas(cmsghdr) char control[CMSG_SPACE(8 * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Received::again
                                                                     : Received::closed;
  if (n == 0) return Received::closed;
  std::vector<int> fds = passed_fds(msg);
  bool whole =
      static_cast<size_t>(n) == sizeof in && (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0;
  if (!whole || fds.size() != 1 || in.magic != kHelloMagic || in.version != kHelloVersion ||
      in.end > 1) {
    close_fds(fds);
    return Received::malformed;
  }
  hello = in;
  efd = fds[0];
  return Received::hello;
}

pid_t peer_pid(int sock) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
  return cred.pid;
}

}  // namespace devnp_wire

#include "client/service.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "client/fd_table.h"
#include "client/native.h"
#include "pktd/fd_message.h"

namespace pktd::client::service {

namespace {

constexpr int kSlots = 8;
constexpr size_t kPathSize = sizeof(sockaddr_un::sun_path);
constexpr size_t kMaxInstance = 32;  // the daemon's limit (daemon/options.cc)

// One service: its path ("" while unused) and the connection (-1 until the
// first call) with its identity, so that a connection the application closed
// behind libpkt's back (close_range by raw system call, say) is noticed before
// a request goes into whatever reused its number. fd is atomic only so that
// release_if_connection can look without the mutex; it changes under it.
struct Slot {
  char path[kPathSize] = {};
  std::atomic<int> fd{-1};
  dev_t dev = 0;
  ino_t ino = 0;
  uint64_t seq = 0;
};

// Constant-initialised: nothing runs before main, and a forked child finds it
// as it was.
pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
Slot g_slots[kSlots];
pthread_once_t g_fork_handlers_once = PTHREAD_ONCE_INIT;

// Holds the mutex with cancellation off: the library is built without exceptions, so a thread
// cancelled inside a call (recvmsg is a cancellation point) would never unlock it.
class Lock {
 public:
  Lock() {
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state_);
    pthread_mutex_lock(&g_mutex);
  }
  ~Lock() {
    pthread_mutex_unlock(&g_mutex);
    pthread_setcancelstate(cancel_state_, nullptr);
  }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  int cancel_state_ = PTHREAD_CANCEL_ENABLE;
};

// Appends text to out (size n, NUL-terminated); false if it does not fit.
bool append(char* out, size_t n, std::string_view text) {
  size_t used = std::strlen(out);
  if (used + text.size() + 1 > n) return false;
  std::memcpy(out + used, text.data(), text.size());
  out[used + text.size()] = '\0';
  return true;
}

std::string_view env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

std::string_view run_directory() {
  std::string_view dir = env("PKTD_RUNDIR");
  return dir.empty() ? "/run/pktd" : dir;
}

bool instance_path(std::string_view instance, char* out, size_t n) {
  out[0] = '\0';
  return append(out, n, run_directory()) && append(out, n, "/") && append(out, n, instance) &&
         append(out, n, ".svc");
}

// The daemon's rule for instance names: they name a file, so no '/' and no '.'.
bool valid_instance(std::string_view name) {
  if (name.empty() || name.size() > kMaxInstance) return false;
  for (char c : name)
    if (!(c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
          (c >= 'A' && c <= 'Z')))
      return false;
  return true;
}

// Whether path is <something>/<instance>.svc: the default service's path names
// its instance.
bool path_names_instance(std::string_view path, std::string_view instance) {
  std::string_view file = path;
  if (size_t slash = file.rfind('/'); slash != std::string_view::npos)
    file.remove_prefix(slash + 1);
  return file.size() == instance.size() + 4 && file.starts_with(instance) && file.ends_with(".svc");
}

// Under the mutex.
Slot& default_slot() {
  Slot& s = g_slots[kDefault];
  if (s.path[0] == '\0' && !default_path(s.path, sizeof s.path)) s.path[0] = '\0';
  return s;
}

// Under the mutex: whether the slot's descriptor is still the connection it opened.
bool still_ours(const Slot& s, int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && st.st_dev == s.dev && st.st_ino == s.ino;
}

// Under the mutex: forget the connection; close it only if it is still ours.
void drop(Slot& s, bool close_it) {
  int fd = s.fd.exchange(-1);
  if (close_it && fd >= 0 && still_ours(s, fd)) native::close(fd);
}

// A connection to the service at path, or -1 with errno. Its sends time out after
// kTimeoutSeconds (set before connect: a service whose backlog is full would block connect too).
int dial(const char* path, struct stat* identity) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path, std::strlen(path) + 1);  // fits: checked when stored
  int fd = native::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval timeout{kTimeoutSeconds, 0};
  if (native::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0 ||
      native::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      fstat(fd, identity) != 0) {
    native::close(fd);
    return -1;
  }
  fd_table::forget(fd);
  return fd;
}

// Under the mutex: a new connection in s (-1 with errno if there is none).
int open_connection(Slot& s) {
  struct stat st;
  int fd = dial(s.path, &st);
  if (fd < 0) return -1;
  timeval timeout{kTimeoutSeconds, 0};
  if (native::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
    native::close(fd);
    return -1;
  }
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.fd.store(fd);
  return fd;
}

int send_request(int fd, const ctl::SvcRequest& request, int socket_fd) {
  const FdMessage msg(&request, sizeof request, socket_fd);
  ssize_t n;
  do {
    n = native::sendmsg(fd, msg.header(), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  if (static_cast<size_t>(n) != sizeof request) {
    errno = EPIPE;
    return -1;
  }
  return 0;
}

// The descriptors of an SCM_RIGHTS message: the first to *first (or closed),
// the rest closed.
void take_descriptors(msghdr& msg, int* first) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (first != nullptr && *first < 0) {
        *first = fd;
      } else {
        native::close(fd);
      }
    }
  }
}

// 0 with the reply (and its descriptor, if any) or -1: the conversation is
// broken.
int receive_reply(int fd, const ctl::SvcRequest& request, ctl::SvcReply* reply, int* received_fd) {
  iovec iov{reply, sizeof *reply};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = native::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  int descriptor = -1;
  if (n > 0) take_descriptors(msg, &descriptor);
  bool ok = n == static_cast<ssize_t>(sizeof *reply) && reply->version == ctl::kSvcVersion &&
            reply->seq == request.seq && reply->op == request.op;
  if (ok && received_fd != nullptr) {
    *received_fd = descriptor;
  } else if (descriptor >= 0) {
    native::close(descriptor);
  }
  return ok ? 0 : -1;
}

// A child must not talk over its parent's connections (the replies would go
// astray): it lets go of them and reconnects on its first call. The mutex is
// held across fork so that the child finds the slots whole, but fork waits for
// it no longer than a call may take to time out: past that, fork goes ahead
// without it, and the child, where the thread holding it does not exist, makes
// it anew.
thread_local bool t_locked_for_fork = false;
void before_fork() {
  // timedlock (the realtime clock) rather than clocklock (the monotonic one): ThreadSanitizer
  // knows the former, and a clock step during a fork only shortens or lengthens the wait.
  timespec deadline{};
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += kTimeoutSeconds;
  t_locked_for_fork = pthread_mutex_timedlock(&g_mutex, &deadline) == 0;
}
void after_fork_in_parent() {
  if (t_locked_for_fork) pthread_mutex_unlock(&g_mutex);
}
void after_fork_in_child() {
  for (Slot& s : g_slots) drop(s, true);
  pthread_mutex_init(&g_mutex, nullptr);
}
void install_fork_handlers() {
  pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
}

bool is_open(int fd) { return native::fcntl(fd, F_GETFD, nullptr) >= 0; }

// Errors of sendmsg that mean the connection is stale (pktd restarted, or the
// application closed our descriptor behind our back): worth one retry on a new
// connection.
bool connection_gone(int error) {
  return error == EPIPE || error == ECONNRESET || error == ENOTCONN || error == EBADF ||
         error == ENOTSOCK;
}

}  // namespace

bool default_path(char* out, size_t n) {
  out[0] = '\0';
  if (std::string_view svc = env("PKTD_SVC"); !svc.empty()) return append(out, n, svc);
  if (std::string_view sock = env("PKTD_SOCK"); !sock.empty()) {
    if (sock.ends_with(".sock")) sock.remove_suffix(5);
    return append(out, n, sock) && append(out, n, ".svc");
  }
  std::string_view instance = env("PKTD_INSTANCE");
  return instance_path(instance.empty() ? "0" : instance, out, n);
}

int for_instance(std::string_view instance) {
  if (!valid_instance(instance)) return kNone;
  Lock lock;
  if (path_names_instance(default_slot().path, instance)) return kDefault;
  char path[kPathSize];
  if (!instance_path(instance, path, sizeof path)) return kNone;
  // No such service: PKTD_SVC may name the instance's service by another path
  // (a bind mount, a link); the default service is the better guess, and a
  // wrong one only refuses the socket.
  struct stat st;
  if (stat(path, &st) != 0) return kDefault;
  for (int i = kDefault + 1; i < kSlots; ++i) {
    Slot& s = g_slots[i];
    if (s.path[0] == '\0') std::memcpy(s.path, path, sizeof path);
    if (std::strcmp(s.path, path) == 0) return i;
  }
  return kNone;
}

int call(int service, ctl::SvcRequest& request, int socket_fd, ctl::SvcReply* reply,
         int* received_fd) {
  if (received_fd != nullptr) *received_fd = -1;
  if (service < 0 || service >= kSlots) {
    errno = ENETDOWN;
    return -1;
  }
  pthread_once(&g_fork_handlers_once, install_fork_handlers);
  Lock lock;
  Slot& s = service == kDefault ? default_slot() : g_slots[service];
  // A connection whose descriptor was closed and reused behind libpkt's back
  // is no longer ours to use or close.
  if (int fd = s.fd.load(); fd >= 0 && !still_ours(s, fd)) drop(s, false);
  for (int attempt = 0; attempt < 2 && s.path[0] != '\0'; ++attempt) {
    bool fresh = s.fd.load() < 0;
    if (fresh && open_connection(s) < 0) break;
    request.version = ctl::kSvcVersion;
    request.seq = ++s.seq;
    if (send_request(s.fd.load(), request, socket_fd) != 0) {
      int error = errno;
      if (error == EBADF && socket_fd >= 0 && !is_open(socket_fd)) return -1;  // errno EBADF
      drop(s, true);  // closed only if it is still ours
      if (!fresh && connection_gone(error)) continue;
      break;
    }
    // A reply that does not come in time (SO_RCVTIMEO) breaks the
    // conversation too: a late one must not answer the next request.
    if (receive_reply(s.fd.load(), request, reply, received_fd) != 0) {
      drop(s, true);
      break;
    }
    return 0;
  }
  errno = ENETDOWN;
  return -1;
}

int call_waiting(int service, ctl::SvcRequest& request, int socket_fd, ctl::SvcReply* reply,
                 const timeval& wait) {
  char path[kPathSize] = {};
  if (service >= 0 && service < kSlots) {
    Lock lock;
    const Slot& s = service == kDefault ? default_slot() : g_slots[service];
    std::memcpy(path, s.path, sizeof path);
  }
  struct stat st;
  int fd = path[0] != '\0' ? dial(path, &st) : -1;
  if (fd < 0) {
    errno = ENETDOWN;
    return -1;
  }
  if ((wait.tv_sec != 0 || wait.tv_usec != 0) &&
      native::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait) != 0) {
    native::close(fd);
    errno = ENETDOWN;
    return -1;
  }
  request.version = ctl::kSvcVersion;
  request.seq = 1;
  if (send_request(fd, request, socket_fd) != 0) {
    int error = errno;
    native::close(fd);
    errno = error == EBADF && socket_fd >= 0 && !is_open(socket_fd) ? EBADF : ENETDOWN;
    return -1;
  }
  // One recvmsg, not retried on EINTR: it fails so only when the handler lacked SA_RESTART (the
  // kernel restarts it otherwise), which is when connect fails with EINTR too. pktd's reply to a
  // connection closed meanwhile is lost, and the connect goes on (docs/libpkt.md).
  iovec iov{reply, sizeof *reply};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = native::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  int error = errno;
  if (n > 0) take_descriptors(msg, nullptr);
  native::close(fd);
  if (n < 0 && (error == EINTR || error == EAGAIN || error == EWOULDBLOCK)) {
    errno = error == EINTR ? EINTR : EINPROGRESS;  // Linux: EINPROGRESS when SO_SNDTIMEO elapses
    return -1;
  }
  bool ok = n == static_cast<ssize_t>(sizeof *reply) && reply->version == ctl::kSvcVersion &&
            reply->seq == request.seq && reply->op == request.op;
  if (!ok) errno = ENETDOWN;
  return ok ? 0 : -1;
}

void release_if_connection(int fd) {
  if (fd < 0) return;
  for (Slot& s : g_slots) {
    if (s.fd.load(std::memory_order_relaxed) != fd) continue;
    Lock lock;
    if (s.fd.load() == fd) drop(s, false);
  }
}

void release_connections_in(unsigned first, unsigned last) {
  for (Slot& s : g_slots) {
    int fd = s.fd.load(std::memory_order_relaxed);
    if (fd >= 0 && static_cast<unsigned>(fd) >= first && static_cast<unsigned>(fd) <= last)
      release_if_connection(fd);
  }
}

}  // namespace pktd::client::service

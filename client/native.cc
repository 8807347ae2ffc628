#include "client/native.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>

namespace pktd::client::native {

namespace {

// Marks "looked up, not there" so that a missing name costs one dlsym, not one
// per call.
void* const kAbsent = reinterpret_cast<void*>(uintptr_t{1});

// The next definition of `name` after libpkt, or nullptr. The cache is a plain
// atomic (constant initialised, no guard variable), so this is safe to call
// before main and from any thread; a race only repeats the lookup.
template <typename Fn>
Fn next(std::atomic<void*>& cache, const char* name) {
  void* p = cache.load(std::memory_order_acquire);
  if (p == nullptr) {
    p = dlsym(RTLD_NEXT, name);
    if (p == nullptr) p = kAbsent;
    cache.store(p, std::memory_order_release);
  }
  if (p == kAbsent) return nullptr;
  Fn fn;
  std::memcpy(&fn, &p,
              sizeof fn);  // object pointer -> function pointer without a cast warning
  return fn;
}

template <typename T>
T from_syscall(long r) {
  return static_cast<T>(r);
}

}  // namespace

// NEXT(name) is the C library's `name`, or nullptr.
#define NEXT(name)                                \
  ([] {                                           \
    static std::atomic<void*> cache;              \
    return next<decltype(&::name)>(cache, #name); \
  }())

int socket(int domain, int type, int protocol) {
  if (auto fn = NEXT(socket)) return fn(domain, type, protocol);
  return from_syscall<int>(syscall(SYS_socket, domain, type, protocol));
}

int socketpair(int domain, int type, int protocol, int fds[2]) {
  if (auto fn = NEXT(socketpair)) return fn(domain, type, protocol, fds);
  return from_syscall<int>(syscall(SYS_socketpair, domain, type, protocol, fds));
}

int bind(int fd, const sockaddr* addr, socklen_t len) {
  if (auto fn = NEXT(bind)) return fn(fd, addr, len);
  return from_syscall<int>(syscall(SYS_bind, fd, addr, len));
}

int connect(int fd, const sockaddr* addr, socklen_t len) {
  if (auto fn = NEXT(connect)) return fn(fd, addr, len);
  return from_syscall<int>(syscall(SYS_connect, fd, addr, len));
}

int listen(int fd, int backlog) {
  if (auto fn = NEXT(listen)) return fn(fd, backlog);
  return from_syscall<int>(syscall(SYS_listen, fd, backlog));
}

int accept(int fd, sockaddr* addr, socklen_t* len) {
  if (auto fn = NEXT(accept)) return fn(fd, addr, len);
  return from_syscall<int>(syscall(SYS_accept4, fd, addr, len, 0));
}

int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  if (auto fn = NEXT(accept4)) return fn(fd, addr, len, flags);
  return from_syscall<int>(syscall(SYS_accept4, fd, addr, len, flags));
}

ssize_t send(int fd, const void* buf, size_t len, int flags) {
  if (auto fn = NEXT(send)) return fn(fd, buf, len, flags);
  return from_syscall<ssize_t>(syscall(SYS_sendto, fd, buf, len, flags, nullptr, 0));
}

ssize_t recv(int fd, void* buf, size_t len, int flags) {
  if (auto fn = NEXT(recv)) return fn(fd, buf, len, flags);
  return from_syscall<ssize_t>(syscall(SYS_recvfrom, fd, buf, len, flags, nullptr, nullptr));
}

ssize_t sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* to,
               socklen_t tolen) {
  if (auto fn = NEXT(sendto)) return fn(fd, buf, len, flags, to, tolen);
  return from_syscall<ssize_t>(syscall(SYS_sendto, fd, buf, len, flags, to, tolen));
}

ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* from, socklen_t* fromlen) {
  if (auto fn = NEXT(recvfrom)) return fn(fd, buf, len, flags, from, fromlen);
  return from_syscall<ssize_t>(syscall(SYS_recvfrom, fd, buf, len, flags, from, fromlen));
}

ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  if (auto fn = NEXT(sendmsg)) return fn(fd, msg, flags);
  return from_syscall<ssize_t>(syscall(SYS_sendmsg, fd, msg, flags));
}

ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  if (auto fn = NEXT(recvmsg)) return fn(fd, msg, flags);
  return from_syscall<ssize_t>(syscall(SYS_recvmsg, fd, msg, flags));
}

int sendmmsg(int fd, mmsghdr* msgs, unsigned int n, int flags) {
  if (auto fn = NEXT(sendmmsg)) return fn(fd, msgs, n, flags);
  return from_syscall<int>(syscall(SYS_sendmmsg, fd, msgs, n, flags));
}

int recvmmsg(int fd, mmsghdr* msgs, unsigned int n, int flags, struct timespec* timeout) {
  if (auto fn = NEXT(recvmmsg)) return fn(fd, msgs, n, flags, timeout);
  return from_syscall<int>(syscall(SYS_recvmmsg, fd, msgs, n, flags, timeout));
}

ssize_t read(int fd, void* buf, size_t len) {
  if (auto fn = NEXT(read)) return fn(fd, buf, len);
  return from_syscall<ssize_t>(syscall(SYS_read, fd, buf, len));
}

ssize_t write(int fd, const void* buf, size_t len) {
  if (auto fn = NEXT(write)) return fn(fd, buf, len);
  return from_syscall<ssize_t>(syscall(SYS_write, fd, buf, len));
}

ssize_t readv(int fd, const iovec* iov, int n) {
  if (auto fn = NEXT(readv)) return fn(fd, iov, n);
  return from_syscall<ssize_t>(syscall(SYS_readv, fd, iov, n));
}

ssize_t writev(int fd, const iovec* iov, int n) {
  if (auto fn = NEXT(writev)) return fn(fd, iov, n);
  return from_syscall<ssize_t>(syscall(SYS_writev, fd, iov, n));
}

int getsockname(int fd, sockaddr* addr, socklen_t* len) {
  if (auto fn = NEXT(getsockname)) return fn(fd, addr, len);
  return from_syscall<int>(syscall(SYS_getsockname, fd, addr, len));
}

int getpeername(int fd, sockaddr* addr, socklen_t* len) {
  if (auto fn = NEXT(getpeername)) return fn(fd, addr, len);
  return from_syscall<int>(syscall(SYS_getpeername, fd, addr, len));
}

int getsockopt(int fd, int level, int name, void* val, socklen_t* len) {
  if (auto fn = NEXT(getsockopt)) return fn(fd, level, name, val, len);
  return from_syscall<int>(syscall(SYS_getsockopt, fd, level, name, val, len));
}

int setsockopt(int fd, int level, int name, const void* val, socklen_t len) {
  if (auto fn = NEXT(setsockopt)) return fn(fd, level, name, val, len);
  return from_syscall<int>(syscall(SYS_setsockopt, fd, level, name, val, len));
}

int shutdown(int fd, int how) {
  if (auto fn = NEXT(shutdown)) return fn(fd, how);
  return from_syscall<int>(syscall(SYS_shutdown, fd, how));
}

int close(int fd) {
  if (auto fn = NEXT(close)) return fn(fd);
  return from_syscall<int>(syscall(SYS_close, fd));
}

int close_range(unsigned first, unsigned last, int flags) {
  if (auto fn = NEXT(close_range)) return fn(first, last, flags);
  return from_syscall<int>(syscall(SYS_close_range, first, last, flags));
}

void closefrom(int lowfd) {
  if (auto fn = NEXT(closefrom)) return fn(lowfd);
  syscall(SYS_close_range, lowfd < 0 ? 0u : static_cast<unsigned>(lowfd), ~0u, 0);
}

int ioctl(int fd, unsigned long request, void* arg) {
  if (auto fn = NEXT(ioctl)) return fn(fd, request, arg);
  return from_syscall<int>(syscall(SYS_ioctl, fd, request, arg));
}

int fcntl(int fd, int cmd, void* arg) {
  if (auto fn = NEXT(fcntl)) return fn(fd, cmd, arg);
  return from_syscall<int>(syscall(SYS_fcntl, fd, cmd, arg));
}

int dup(int fd) {
  if (auto fn = NEXT(dup)) return fn(fd);
  return from_syscall<int>(syscall(SYS_dup, fd));
}

int dup2(int fd, int newfd) {
  if (auto fn = NEXT(dup2)) return fn(fd, newfd);
  // dup3 refuses fd == newfd, dup2 returns it if it is open.
  if (fd == newfd) return fcntl(fd, F_GETFD, nullptr) < 0 ? -1 : fd;
  return from_syscall<int>(syscall(SYS_dup3, fd, newfd, 0));
}

int dup3(int fd, int newfd, int flags) {
  if (auto fn = NEXT(dup3)) return fn(fd, newfd, flags);
  return from_syscall<int>(syscall(SYS_dup3, fd, newfd, flags));
}

}  // namespace pktd::client::native

/* libpkt-preload.so: the C library's socket and descriptor calls, taken over for pktd sockets
 * (LD_PRELOAD, `pkt run`). Each is the pkt_ call of the same name, which hands anything that is
 * not a pktd socket, and socket() of other families, to the C library untouched.
 *
 * Written in C: in C++ the C library declares some of these with exception specifications, and
 * in GNU C the addresses as transparent unions (__SOCKADDR_ARG); the definitions here match the
 * declarations exactly, so the compiler checks them.
 * Nothing here runs before main; everything libpkt needs is set up on first use. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "client/api.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT int socket(int domain, int type, int protocol) {
  return pkt_socket(domain, type, protocol);
}
EXPORT int socketpair(int domain, int type, int protocol, int fds[2]) {
  return pktd_client_socketpair(domain, type, protocol, fds);
}
EXPORT int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len) {
  return pkt_bind(fd, addr.__sockaddr__, len);
}
EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len) {
  return pkt_connect(fd, addr.__sockaddr__, len);
}
EXPORT int listen(int fd, int backlog) { return pkt_listen(fd, backlog); }
EXPORT int accept(int fd, __SOCKADDR_ARG addr, socklen_t* len) {
  return pkt_accept(fd, addr.__sockaddr__, len);
}
EXPORT int accept4(int fd, __SOCKADDR_ARG addr, socklen_t* len, int flags) {
  return pkt_accept4(fd, addr.__sockaddr__, len, flags);
}
EXPORT ssize_t send(int fd, const void* buf, size_t len, int flags) {
  return pkt_send(fd, buf, len, flags);
}
EXPORT ssize_t recv(int fd, void* buf, size_t len, int flags) {
  return pkt_recv(fd, buf, len, flags);
}
EXPORT ssize_t sendto(int fd, const void* buf, size_t len, int flags, __CONST_SOCKADDR_ARG to,
                      socklen_t tolen) {
  return pkt_sendto(fd, buf, len, flags, to.__sockaddr__, tolen);
}
EXPORT ssize_t recvfrom(int fd, void* buf, size_t len, int flags, __SOCKADDR_ARG from,
                        socklen_t* fromlen) {
  return pkt_recvfrom(fd, buf, len, flags, from.__sockaddr__, fromlen);
}
EXPORT ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  return pkt_sendmsg(fd, msg, flags);
}
EXPORT ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  return pkt_recvmsg(fd, msg, flags);
}
EXPORT int sendmmsg(int fd, struct mmsghdr* msgs, unsigned int n, int flags) {
  return pktd_client_sendmmsg(fd, msgs, n, flags);
}
EXPORT int recvmmsg(int fd, struct mmsghdr* msgs, unsigned int n, int flags,
                    struct timespec* timeout) {
  return pktd_client_recvmmsg(fd, msgs, n, flags, timeout);
}
EXPORT ssize_t read(int fd, void* buf, size_t len) { return pkt_read(fd, buf, len); }
EXPORT ssize_t write(int fd, const void* buf, size_t len) { return pkt_write(fd, buf, len); }
EXPORT ssize_t readv(int fd, const struct iovec* iov, int n) { return pkt_readv(fd, iov, n); }
EXPORT ssize_t writev(int fd, const struct iovec* iov, int n) { return pkt_writev(fd, iov, n); }
EXPORT int getsockname(int fd, __SOCKADDR_ARG addr, socklen_t* len) {
  return pkt_getsockname(fd, addr.__sockaddr__, len);
}
EXPORT int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t* len) {
  return pkt_getpeername(fd, addr.__sockaddr__, len);
}
EXPORT int getsockopt(int fd, int level, int name, void* val, socklen_t* len) {
  return pkt_getsockopt(fd, level, name, val, len);
}
EXPORT int setsockopt(int fd, int level, int name, const void* val, socklen_t len) {
  return pkt_setsockopt(fd, level, name, val, len);
}
EXPORT int shutdown(int fd, int how) { return pkt_shutdown(fd, how); }
EXPORT int close(int fd) { return pkt_close(fd); }
/* glibc 2.34+; closefrom is not built on the exported close_range, so both are taken over. */
EXPORT int close_range(unsigned int first, unsigned int last, int flags) {
  return pktd_client_close_range(first, last, flags);
}
EXPORT void closefrom(int lowfd) { pktd_client_closefrom(lowfd); }
EXPORT int dup(int fd) { return pkt_dup(fd); }
EXPORT int dup2(int fd, int newfd) { return pkt_dup2(fd, newfd); }
EXPORT int dup3(int fd, int newfd, int flags) { return pkt_dup3(fd, newfd, flags); }

/* The variadic ones pass their one optional argument on as a pointer, as the C library does. */
EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return pkt_ioctl(fd, request, arg);
}
EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return pkt_fcntl(fd, cmd, arg);
}
/* glibc 2.28+ exports fcntl64 too (the same function on 64-bit systems); programs built with
 * _FILE_OFFSET_BITS=64 call it. */
EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return pkt_fcntl(fd, cmd, arg);
}

/* _FORTIFY_SOURCE turns read, recv and recvfrom with a buffer of known size into these. */
extern void __chk_fail(void) __attribute__((noreturn));
EXPORT ssize_t __read_chk(int fd, void* buf, size_t len, size_t buflen) {
  if (len > buflen) __chk_fail();
  return pkt_read(fd, buf, len);
}
EXPORT ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buflen, int flags) {
  if (len > buflen) __chk_fail();
  return pkt_recv(fd, buf, len, flags);
}
EXPORT ssize_t __recvfrom_chk(int fd, void* buf, size_t len, size_t buflen, int flags,
                              __SOCKADDR_ARG from, socklen_t* fromlen) {
  if (len > buflen) __chk_fail();
  return pkt_recvfrom(fd, buf, len, flags, from.__sockaddr__, fromlen);
}

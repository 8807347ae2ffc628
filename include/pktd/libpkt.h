/* libpkt: Internet sockets served by pktd (docs/libpkt.md).
 *
 * The same signatures and errno conventions as the POSIX calls of the same name without the
 * pkt_ prefix. pkt_socket(AF_INET or AF_INET6, ...) makes a socket in pktd; every other call
 * works on any descriptor: on a pktd socket it does what the kernel's call would do on an
 * Internet socket, on anything else it is the C library's call. So a program may use pkt_* for
 * all its descriptors.
 *
 * Which pktd: $PKTD_SVC (the service socket's path), else $PKTD_SOCK with ".sock" replaced by
 * ".svc", else $PKTD_RUNDIR/$PKTD_INSTANCE.svc (defaults /run/pktd and 0). When that service
 * cannot be reached, pkt_socket fails with ENETDOWN; calls on a socket whose pktd has gone fail
 * with ENETDOWN as well.
 */
#ifndef PKTD_LIBPKT_H
#define PKTD_LIBPKT_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef PKT_API
#define PKT_API __attribute__((visibility("default")))
#endif

PKT_API int pkt_socket(int domain, int type, int protocol);
PKT_API int pkt_bind(int fd, const struct sockaddr* addr, socklen_t addrlen);
PKT_API int pkt_connect(int fd, const struct sockaddr* addr, socklen_t addrlen);
PKT_API int pkt_listen(int fd, int backlog);
PKT_API int pkt_accept(int fd, struct sockaddr* addr, socklen_t* addrlen);
PKT_API int pkt_accept4(int fd, struct sockaddr* addr, socklen_t* addrlen, int flags);
PKT_API ssize_t pkt_send(int fd, const void* buf, size_t len, int flags);
PKT_API ssize_t pkt_recv(int fd, void* buf, size_t len, int flags);
PKT_API ssize_t pkt_sendto(int fd, const void* buf, size_t len, int flags,
                           const struct sockaddr* dest, socklen_t addrlen);
PKT_API ssize_t pkt_recvfrom(int fd, void* buf, size_t len, int flags, struct sockaddr* src,
                             socklen_t* addrlen);
PKT_API ssize_t pkt_sendmsg(int fd, const struct msghdr* msg, int flags);
PKT_API ssize_t pkt_recvmsg(int fd, struct msghdr* msg, int flags);
PKT_API ssize_t pkt_read(int fd, void* buf, size_t len);
PKT_API ssize_t pkt_write(int fd, const void* buf, size_t len);
PKT_API ssize_t pkt_readv(int fd, const struct iovec* iov, int iovcnt);
PKT_API ssize_t pkt_writev(int fd, const struct iovec* iov, int iovcnt);
PKT_API int pkt_getsockname(int fd, struct sockaddr* addr, socklen_t* addrlen);
PKT_API int pkt_getpeername(int fd, struct sockaddr* addr, socklen_t* addrlen);
PKT_API int pkt_getsockopt(int fd, int level, int name, void* optval, socklen_t* optlen);
PKT_API int pkt_setsockopt(int fd, int level, int name, const void* optval, socklen_t optlen);
PKT_API int pkt_shutdown(int fd, int how);
PKT_API int pkt_close(int fd);
PKT_API int pkt_ioctl(int fd, unsigned long request, ...);
PKT_API int pkt_fcntl(int fd, int cmd, ...);
PKT_API int pkt_dup(int fd);
PKT_API int pkt_dup2(int fd, int newfd);
PKT_API int pkt_dup3(int fd, int newfd, int flags);

/* 1 if fd is a pktd socket, else 0. */
PKT_API int pkt_is_socket(int fd);

#ifdef __cplusplus
}
#endif

#endif /* PKTD_LIBPKT_H */

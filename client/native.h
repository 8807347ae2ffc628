// The C library's own socket and descriptor calls, reached around any
// interposer (the preload defines read, close, ... itself, so calling those
// names from libpkt would recurse). Each is the next definition after libpkt
// (dlsym RTLD_NEXT), which keeps the C library's behaviour (cancellation
// points, other preloaded libraries); a raw system call if there is none.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

namespace pktd::client::native {

int socket(int domain, int type, int protocol);
int socketpair(int domain, int type, int protocol, int fds[2]);
int bind(int fd, const sockaddr* addr, socklen_t len);
int connect(int fd, const sockaddr* addr, socklen_t len);
int listen(int fd, int backlog);
int accept(int fd, sockaddr* addr, socklen_t* len);
int accept4(int fd, sockaddr* addr, socklen_t* len, int flags);
ssize_t send(int fd, const void* buf, size_t len, int flags);
ssize_t recv(int fd, void* buf, size_t len, int flags);
ssize_t sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* to, socklen_t tolen);
ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* from, socklen_t* fromlen);
ssize_t sendmsg(int fd, const msghdr* msg, int flags);
ssize_t recvmsg(int fd, msghdr* msg, int flags);
int sendmmsg(int fd, mmsghdr* msgs, unsigned int n, int flags);
int recvmmsg(int fd, mmsghdr* msgs, unsigned int n, int flags, struct timespec* timeout);
ssize_t read(int fd, void* buf, size_t len);
ssize_t write(int fd, const void* buf, size_t len);
ssize_t readv(int fd, const iovec* iov, int n);
ssize_t writev(int fd, const iovec* iov, int n);
int getsockname(int fd, sockaddr* addr, socklen_t* len);
int getpeername(int fd, sockaddr* addr, socklen_t* len);
int getsockopt(int fd, int level, int name, void* val, socklen_t* len);
int setsockopt(int fd, int level, int name, const void* val, socklen_t len);
int shutdown(int fd, int how);
int close(int fd);
int close_range(unsigned first, unsigned last, int flags);
void closefrom(int lowfd);
int ioctl(int fd, unsigned long request, void* arg);
int fcntl(int fd, int cmd, void* arg);
int dup(int fd);
int dup2(int fd, int newfd);
int dup3(int fd, int newfd, int flags);

}  // namespace pktd::client::native

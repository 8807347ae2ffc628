/* libpkt's entry points as its own sources and the preload see them: the public
 * API (pktd/libpkt.h), hidden in the preload, which exports the C library's
 * names instead, and the calls only the preload needs. */
#ifndef PKTD_CLIENT_API_H
#define PKTD_CLIENT_API_H

#ifdef PKTD_CLIENT_PRELOAD
#define PKT_API __attribute__((visibility("hidden")))
#endif
#include "pktd/libpkt.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mmsghdr;
struct timespec;

/* sendmmsg and recvmmsg: one message at a time through pkt_sendmsg /
 * pkt_recvmsg. */
__attribute__((visibility("hidden"))) int pktd_client_sendmmsg(int fd, struct mmsghdr* msgs,
                                                               unsigned int n, int flags);
__attribute__((visibility("hidden"))) int pktd_client_recvmmsg(int fd, struct mmsghdr* msgs,
                                                               unsigned int n, int flags,
                                                               struct timespec* timeout);

/* Descriptors made or closed without pkt_* names; the preload's socketpair, close_range and
 * closefrom keep libpkt's table (and its service connection) in step. */
__attribute__((visibility("hidden"))) int pktd_client_socketpair(int domain, int type,
                                                                 int protocol, int fds[2]);
__attribute__((visibility("hidden"))) int pktd_client_close_range(unsigned int first,
                                                                  unsigned int last, int flags);
__attribute__((visibility("hidden"))) void pktd_client_closefrom(int lowfd);

#ifdef __cplusplus
}
#endif

#endif /* PKTD_CLIENT_API_H */

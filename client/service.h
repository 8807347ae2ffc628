// The connections to pktd's socket service (ctl/socket_protocol.h): one
// SOCK_SEQPACKET connection per service the process uses, opened on first use,
// one request/reply at a time (a process-wide mutex). A forked child drops its
// copies and reconnects when it needs to. A pktd that does not answer within
// kTimeoutSeconds fails the call with ENETDOWN, and its connection is closed
// (the next call reconnects).
#pragma once

#include <sys/time.h>

#include <cstddef>
#include <string_view>

#include "ctl/socket_protocol.h"

namespace pktd::client::service {

inline constexpr int kDefault = 0;  // the service new sockets are made by
inline constexpr int kNone = -1;    // a socket of a service that has no slot
inline constexpr int kTimeoutSeconds = 5;  // for connect, each send and each reply

// The service of the instance named in a socket's abstract name: the default
// service if its path is .../<instance>.svc, else <rundir>/<instance>.svc if
// that exists, else the default service after all. kNone for an invalid name or
// when every slot is in use.
int for_instance(std::string_view instance);

// One request and its reply. request.version and seq are filled in. socket_fd
// (or -1) travels as the request's SCM_RIGHTS descriptor; a descriptor in the
// reply goes to *received_fd (-1 if none; closed if received_fd is null).
// Returns 0 when a reply came (its result is the caller's business); -1 with
// errno ENETDOWN when the service cannot be reached, does not answer in time or
// the conversation broke, or EBADF when socket_fd is not open.
int call(int service, ctl::SvcRequest& request, int socket_fd, ctl::SvcReply* reply,
         int* received_fd);

// One request on a connection of its own, whose reply may take as long as a TCP handshake (a
// blocking connect): the process's mutex is held only to read the service's path, so the other
// threads' calls go on meanwhile, and the reply is awaited without kTimeoutSeconds (wait, if not
// zero, bounds it: the socket's SO_SNDTIMEO, as Linux's connect). Returns 0 when a reply came;
// -1 with errno EINTR (a signal handler without SA_RESTART interrupted the wait; with it, the
// kernel restarts the wait as it restarts connect), EINPROGRESS (wait elapsed), ENETDOWN (pktd
// cannot be reached or went away), or EBADF (socket_fd is not open).
int call_waiting(int service, ctl::SvcRequest& request, int socket_fd, ctl::SvcReply* reply,
                 const timeval& wait);

// The application is closing fd (close, dup2 onto it): if it is a service
// connection, libpkt lets go of it (without closing it) and reconnects on the
// next call.
void release_if_connection(int fd);
// The same for every descriptor from first to last (close_range, closefrom).
void release_connections_in(unsigned first, unsigned last);

// The default service's path by the rule of ctl/socket_protocol.h, written to
// out (size n). false if it does not fit.
bool default_path(char* out, size_t n);

}  // namespace pktd::client::service

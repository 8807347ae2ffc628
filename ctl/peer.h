// Who is at the other end of a control connection.
#pragma once

#include "ctl/backend.h"
#include "ctl/requests.h"

namespace pktd::ctl {

// Reads the peer's credentials (SO_PEERCRED) and supplementary groups (SO_PEERGROUPS) and
// decides whether it is privileged. False (errno set) when the kernel will not say.
//
// These are the credentials of the process that called connect(), fixed for the connection's
// life, so they are read once, at accept. A privileged process that hands its connection to
// another gives its rights with it, as with any open file.
bool read_peer(int fd, const AccessPolicy& policy, Caller* caller);

}  // namespace pktd::ctl

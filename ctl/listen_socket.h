// Binding an instance's control socket (internal to ctl/).
#pragma once

#include <string>

namespace pktd::ctl {

// Creates the directory if needed, replaces a stale socket file (one nobody listens on), binds
// a non-blocking SOCK_SEQPACKET socket at path with mode 0666 (anyone may read status; changes
// are checked per request) and listens. 0 with *fd set, or an errno with *error saying why.
int open_listener(const std::string& path, int* fd, std::string* error);

}  // namespace pktd::ctl

#include "ctl/peer.h"

#include <sys/socket.h>

#include <cerrno>
#include <vector>

namespace pktd::ctl {

namespace {

// SO_PEERGROUPS says how much room it needs (ERANGE) when the first guess is too small.
std::vector<gid_t> peer_groups(int fd) {
  std::vector<gid_t> groups(32);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      return groups;
    }
    if (errno != ERANGE) break;
    groups.resize(len / sizeof(gid_t) + 1);
  }
  return {};  // no supplementary groups known: only uid and primary gid count
}

}  // namespace

bool read_peer(int fd, const AccessPolicy& policy, Caller* caller) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  caller->uid = cred.uid;
  caller->gid = cred.gid;
  caller->pid = cred.pid;
  caller->privileged = policy.privileged(cred.uid, cred.gid, peer_groups(fd));
  return true;
}

}  // namespace pktd::ctl

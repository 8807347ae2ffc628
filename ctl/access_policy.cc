// Who may change the configuration (design brief, "Control plane"): root, or the instance's
// group when one is configured. Anyone may read.
#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "ctl/requests.h"

namespace pktd::ctl {

namespace {

// "pktd (gid 123)", or the number alone when the group has no name.
std::string describe_group(gid_t gid) {
  std::vector<char> buf(4096);
  group g{};
  group* found = nullptr;
  std::string id = "gid " + std::to_string(gid);
  if (getgrgid_r(gid, &g, buf.data(), buf.size(), &found) != 0 || found == nullptr) return id;
  return std::string(found->gr_name) + " (" + id + ")";
}

}  // namespace

AccessPolicy::AccessPolicy(std::optional<gid_t> admin_group) : admin_group_(admin_group) {
  denied_ = "permission denied: only root";
  if (admin_group_) denied_ += " or members of group " + describe_group(*admin_group_);
  denied_ += " may change the configuration";
}

bool AccessPolicy::privileged(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) const {
  if (uid == 0) return true;
  if (!admin_group_) return false;
  return gid == *admin_group_ ||
         std::find(groups.begin(), groups.end(), *admin_group_) != groups.end();
}

Error AccessPolicy::authorize(const Request& request, const Caller& caller) const {
  if (caller.privileged || !changes_configuration(request.op)) return {};
  return {EPERM, denied_};
}

}  // namespace pktd::ctl

// Requests as the server handles them: parsed and checked on the worker that read them, run
// against the Backend on a pseudo-thread in the stack context.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/backend.h"

namespace pktd::ctl {

enum class Op { interfaces, interface, set_up, set_mtu, destroy, mount, driver_request, threads };

const char* to_string(Op op);
// True for the ops that change the configuration (they need a privileged caller).
bool changes_configuration(Op op);

// One request with its arguments typed; only those of its op are set.
struct Request {
  Op op = Op::interfaces;
  std::string name;     // interface, set_up, set_mtu, destroy, driver_request
  bool up = false;      // set_up
  uint32_t mtu = 0;     // set_mtu
  std::string path;     // mount: a driver name or a shared object's path
  std::string options;  // mount: "opt=val,..." (optional)
  std::string text;     // driver_request: the request
};

struct ParsedRequest {
  Request request;
  Error error;  // set when the message is not a valid request; the reply says why
};

// Checks everything that needs no backend: JSON, version, op, arguments and their types.
ParsedRequest parse_request(std::string_view message);

// Who may change the configuration: root, and the members of admin_group if there is one.
class AccessPolicy {
 public:
  explicit AccessPolicy(std::optional<gid_t> admin_group);
  // gid is the primary group (SO_PEERCRED), groups the supplementary ones (SO_PEERGROUPS).
  bool privileged(uid_t uid, gid_t gid, const std::vector<gid_t>& groups) const;
  // EPERM for a change by an unprivileged caller; reads are open to everyone.
  Error authorize(const Request& request, const Caller& caller) const;

 private:
  std::optional<gid_t> admin_group_;
  std::string denied_;  // the EPERM message, naming who may
};

// Runs the request: the reply message. Stack context (a pseudo-thread: the backend may sleep).
// Never throws: an exception from the backend becomes an EIO reply.
nlohmann::json execute(Backend& backend, const Request& request);

}  // namespace pktd::ctl

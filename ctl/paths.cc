#include "ctl/paths.h"

#include "ctl/socket_protocol.h"

#include <cstdlib>

namespace pktd::ctl {

std::string run_directory() {
  const char* dir = std::getenv("PKTD_RUNDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/run/pktd";
}

std::string socket_path(const std::string& instance) {
  return run_directory() + "/" + instance + ".sock";
}

std::string socket_service_path(const std::string& instance) {
  return run_directory() + "/" + instance + ".svc";
}

}  // namespace pktd::ctl

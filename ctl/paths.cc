#include "ctl/paths.h"

#include <cstdlib>

namespace pktd::ctl {

std::string run_directory() {
  const char* dir = std::getenv("PKTD_RUNDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/run/pktd";
}

std::string socket_path(const std::string& instance) {
  return run_directory() + "/" + instance + ".sock";
}

}  // namespace pktd::ctl

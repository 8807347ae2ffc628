// The files an instance owns under the run directory (/run/pktd, or $PKTD_RUNDIR):
// INSTANCE.pid, locked while the daemon runs so that a second pktd with the same -i is refused.
#pragma once

#include <string>

namespace pktd::daemon {

std::string run_directory();

class InstanceLock {
 public:
  // Creates the run directory if needed and takes the instance's pid file. On failure, error
  // says why in one line (e.g. the instance already runs, with its pid).
  bool acquire(const std::string& instance, std::string* error);
  // Writes the calling process's pid (again: after fork the child does).
  bool write_pid(std::string* error);
  // Closes the file without removing it (the parent after fork: the child keeps the lock).
  void release_without_unlink();
  ~InstanceLock();
  const std::string& pid_path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace pktd::daemon

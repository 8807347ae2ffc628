#include "daemon/instance.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace pktd::daemon {

std::string run_directory() {
  const char* dir = std::getenv("PKTD_RUNDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/run/pktd";
}

bool InstanceLock::acquire(const std::string& instance, std::string* error) {
  std::string dir = run_directory();
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    *error = "pktd: cannot create " + dir + ": " + std::strerror(errno);
    return false;
  }
  path_ = dir + "/" + instance + ".pid";
  fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    *error = "pktd: cannot open " + path_ + ": " + std::strerror(errno);
    return false;
  }
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    ssize_t n = pread(fd_, pid, sizeof pid - 1, 0);
    std::string who = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "?";
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    *error = "pktd: instance " + instance + " is already running (pid " + who + ", " + path_ + ")";
    close(fd_);
    fd_ = -1;
    return false;
  }
  return write_pid(error);
}

bool InstanceLock::write_pid(std::string* error) {
  std::string text = std::to_string(getpid()) + "\n";
  if (ftruncate(fd_, 0) != 0 ||
      pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    *error = "pktd: cannot write " + path_ + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

void InstanceLock::release_without_unlink() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

InstanceLock::~InstanceLock() {
  if (fd_ < 0) return;
  unlink(path_.c_str());
  close(fd_);
}

}  // namespace pktd::daemon

#include "ctl/listen_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pktd::ctl {

namespace {

int fail(int code, std::string* error, const std::string& text) {
  *error = text + ": " + std::strerror(code);
  return code;
}

bool make_address(const std::string& path, sockaddr_un* addr) {
  *addr = sockaddr_un{};
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof addr->sun_path) return false;
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return true;
}

// Someone listens at addr (a running pktd): refusing is better than stealing its socket.
bool someone_listens(const sockaddr_un& addr) {
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  // EAGAIN: alive but its backlog is full.
  bool alive =
      connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 || errno == EAGAIN;
  close(fd);
  return alive;
}

// Removes a socket file left by a pktd that died; anything else at path is an error.
int clear_stale(const std::string& path, const sockaddr_un& addr, std::string* error) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return errno == ENOENT ? 0 : fail(errno, error, path);
  if (!S_ISSOCK(st.st_mode)) return fail(EEXIST, error, path + " exists and is not a socket");
  if (someone_listens(addr)) return fail(EADDRINUSE, error, "another server listens on " + path);
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    return fail(errno, error, "cannot remove stale " + path);
  return 0;
}

std::string directory_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

int open_listener(const std::string& path, int* fd, std::string* error) {
  sockaddr_un addr{};
  if (!make_address(path, &addr)) return fail(ENAMETOOLONG, error, path);
  std::string dir = directory_of(path);
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return fail(errno, error, "cannot create " + dir);
  if (int err = clear_stale(path, addr, error)) return err;
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return fail(errno, error, "socket");
  if (bind(s, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    int err = fail(errno, error, "cannot bind " + path);
    close(s);
    return err;
  }
  int err = 0;
  if (chmod(path.c_str(), 0666) != 0) {
    err = fail(errno, error, "cannot chmod " + path);
  } else if (listen(s, SOMAXCONN) != 0) {
    err = fail(errno, error, "cannot listen on " + path);
  }
  if (err != 0) {
    unlink(path.c_str());
    close(s);
    return err;
  }
  *fd = s;
  return 0;
}

}  // namespace pktd::ctl

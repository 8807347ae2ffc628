#include "ctl/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pktd::ctl {

namespace {

bool fail(std::string* error, const std::string& text) {
  *error = text;
  return false;
}

// Waits until fd is readable. False on timeout (0: none) or error.
bool wait_readable(int fd, std::chrono::milliseconds timeout, std::string* error) {
  pollfd p{fd, POLLIN, 0};
  int ms = timeout.count() > 0 ? static_cast<int>(timeout.count()) : -1;
  int n;
  do {
    n = poll(&p, 1, ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fail(error, std::string("poll: ") + std::strerror(errno));
  if (n == 0) return fail(error, "no reply within " + std::to_string(timeout.count()) + " ms");
  return true;
}

}  // namespace

Client::~Client() { close(); }

void Client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int Client::connect(const std::string& path, std::string* error) {
  close();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    *error = std::strerror(ENAMETOOLONG);
    return ENAMETOOLONG;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  fd_ = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    close();
    *error = std::strerror(err);
    return err;
  }
  return 0;
}

bool Client::send_raw(const std::string& message, std::string* error) {
  ssize_t n;
  do {
    n = send(fd_, message.data(), message.size(), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n >= 0) return true;
  int err = errno;
  *error = std::string("cannot send to pktd: ") + std::strerror(err);
  errno = err;  // call() looks at it
  return false;
}

namespace {
// A server that closed with our request unread makes the next recv report ECONNRESET (once), even
// when its last message, the reason, still waits to be read: read again past it. That close may
// land between any two of our calls, so every recv here goes through this.
ssize_t recv_past_reset(int fd, void* buf, size_t len, int flags) {
  ssize_t n = recv(fd, buf, len, flags);
  if (n < 0 && errno == ECONNRESET) n = recv(fd, buf, len, flags | MSG_DONTWAIT);
  return n;
}
}  // namespace

bool Client::receive_raw(std::string* message, std::string* error) {
  if (!wait_readable(fd_, timeout_, error)) return false;
  // Peek with MSG_TRUNC: a SEQPACKET socket then tells the whole message's size, so a reply of
  // any size is read whole.
  char probe = 0;
  ssize_t size = recv_past_reset(fd_, &probe, 1, MSG_PEEK | MSG_TRUNC);
  if (size < 0) return fail(error, std::string("cannot read from pktd: ") + std::strerror(errno));
  if (size == 0) return fail(error, "pktd closed the connection");
  message->assign(static_cast<size_t>(size), '\0');
  ssize_t n = recv_past_reset(fd_, message->data(), message->size(), 0);
  if (n != size) return fail(error, std::string("cannot read from pktd: ") + std::strerror(errno));
  return true;
}

bool Client::call(const std::string& op, const nlohmann::json& args, Reply* reply,
                  std::string* error) {
  if (fd_ < 0) return fail(error, "not connected");
  std::string text, why;
  if (!send_raw(encode(make_request(op, args)), error)) {
    // A server that turned the connection away (too many clients) closed it after saying why:
    // the send fails, but that message may still be waiting.
    bool told = (errno == EPIPE || errno == ECONNRESET) && receive_raw(&text, &why) &&
                parse_reply(text, reply, &why);
    return told;
  }
  if (!receive_raw(&text, error)) return false;
  if (!parse_reply(text, reply, &why)) return fail(error, "unexpected reply from pktd: " + why);
  return true;
}

}  // namespace pktd::ctl

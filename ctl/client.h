// A blocking client of the control socket: what `pkt` uses (no runtime needed).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "ctl/protocol.h"

namespace pktd::ctl {

class Client {
 public:
  Client() = default;
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects to the socket at path. 0, or an errno with *error = strerror's text.
  int connect(const std::string& path, std::string* error);

  // Sends one request and waits for its reply. False on a transport failure (*error says
  // what); pktd's refusals are replies, with reply->error set.
  bool call(const std::string& op, const nlohmann::json& args, Reply* reply, std::string* error);

  // Sends raw bytes and reads one raw message (tests use them for hostile input).
  bool send_raw(const std::string& message, std::string* error);
  bool receive_raw(std::string* message, std::string* error);

  // How long call() waits for a reply; 0 (the default): forever.
  void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }
  int fd() const { return fd_; }
  void close();

 private:
  int fd_ = -1;
  std::chrono::milliseconds timeout_{0};
};

}  // namespace pktd::ctl

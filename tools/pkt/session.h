// What a subcommand runs against: pktd (or a test's fake), the output streams and --json.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "ctl/client.h"
#include "ctl/protocol.h"
#include "tools/pkt/cli.h"
#include "tools/pkt/commands.h"

namespace pktd::pkt {

class Pktd {
 public:
  virtual ~Pktd() = default;
  // One request. False when pktd could not be asked or did not answer; true when it answered,
  // with reply->error set if it refused. Either way a failure's reply->error.message is one
  // line for the user.
  virtual bool call(const std::string& op, const nlohmann::json& args, ctl::Reply* reply) = 0;
};

// pktd over its control socket.
class SocketPktd : public Pktd {
 public:
  // False with *error ("cannot reach pktd instance 0 at ...: ... (is pktd running?)").
  bool connect(const Target& target, std::string* error);
  bool call(const std::string& op, const nlohmann::json& args, ctl::Reply* reply) override;

 private:
  ctl::Client client_;
  std::string description_;
};

struct Session {
  Pktd& pktd;
  bool as_json = false;  // --json
  std::ostream& out;
  std::ostream& err;

  // One request: its result, or nullopt after printing "pkt: <why>".
  std::optional<nlohmann::json> call(const std::string& op, const nlohmann::json& args);
};

// Makes the plan's calls and prints what it shows. The exit status.
int run_plan(const Plan& plan, Session& session);

// A subcommand that is a loop rather than a Plan (ping, capture): the arguments are checked
// first (bad usage needs no pktd), then the program runs against pktd. Returns the exit status.
using Program = std::function<int(Session& session)>;
using Launcher = std::optional<Program> (*)(const Args& args, std::string* error);

std::optional<Program> launch_ping(const Args& args, std::string* error);     // ping.cc
std::optional<Program> launch_capture(const Args& args, std::string* error);  // capture.cc

}  // namespace pktd::pkt

// pkt's command line and its run, apart from main() so that tests can drive it.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace pktd::pkt {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // pktd unreachable, or it refused
inline constexpr int kExitUsage = 2;

// What pkt reads from its environment ("" when unset).
struct Environment {
  std::string sock;      // PKTD_SOCK: a socket path
  std::string instance;  // PKTD_INSTANCE
};
Environment environment_from_process();

struct Invocation {
  std::optional<std::string> instance;  // -i INSTANCE
  bool json = false;                    // --json
  bool help = false;                    // -h, --help, or `pkt help`
  std::string command;
  std::vector<std::string> args;  // the subcommand's, without --json
};
// The command line without the program name. nullopt with *error on bad usage.
std::optional<Invocation> parse_invocation(const std::vector<std::string>& argv,
                                           std::string* error);

// Which socket to use: -i wins (it was typed for this command), then PKTD_SOCK, then
// PKTD_INSTANCE, then instance "0".
struct Target {
  std::string path;
  std::string description;  // "pktd instance 0 at /run/pktd/0.sock", for messages
};
Target resolve_target(const std::optional<std::string>& instance, const Environment& env);

std::string usage();

// An instance name as pktd accepts it: 1 to 32 of A-Z a-z 0-9 _ -.
bool valid_instance(const std::string& name);

// Runs pkt: results on out, messages on err; returns the exit status.
int run(const std::vector<std::string>& argv, const Environment& env, std::ostream& out,
        std::ostream& err);

}  // namespace pktd::pkt

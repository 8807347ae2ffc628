// pkt run [-i INSTANCE] [--] PROGRAM [ARGS...]: runs an unmodified program with
// its Internet sockets in pktd, through libpkt-preload.so (docs/libpkt.md).
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "tools/pkt/cli.h"

namespace pktd::pkt {

struct RunPlan {
  std::string service;            // the socket service's path, for PKTD_SVC
  std::string instance;           // its instance, "" when the path came from PKTD_SVC or
                                  // PKTD_SOCK
  std::vector<std::string> argv;  // the program and its arguments
};

// The words after "run" -> the plan. The service: -i (run's own, else pkt's
// global one), else PKTD_SVC (svc), else PKTD_SOCK with .sock replaced by .svc,
// else PKTD_INSTANCE, else 0. nullopt with *error on bad usage.
std::optional<RunPlan> plan_run(const std::vector<std::string>& args,
                                const std::optional<std::string>& instance, const Environment& env,
                                const std::string& svc, std::string* error);

// LD_PRELOAD with preload in front, once.
std::string preload_list(const std::string& preload, const std::string& existing);

// Replaces pkt with the program. Returns only on failure: 127 if the program
// was not found, 126 if it could not be run, 1 if libpkt-preload.so is missing,
// 2 on bad usage.
int run_program(const Invocation& inv, const Environment& env, std::ostream& err);

}  // namespace pktd::pkt

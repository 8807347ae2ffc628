// Where an instance's control socket lives; shared by the server and its clients.
#pragma once

#include <string>

namespace pktd::ctl {

// $PKTD_RUNDIR, or /run/pktd. The same rule as daemon/instance.cc (which keeps INSTANCE.pid
// there); repeated here so that clients need not link the daemon.
std::string run_directory();

// run_directory() + "/" + instance + ".sock".
std::string socket_path(const std::string& instance);

}  // namespace pktd::ctl

// pkt: the command-line tool for pktd (docs/pkt.md).
#include <iostream>
#include <string>
#include <vector>

#include "tools/pkt/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  int status = pktd::pkt::run(args, pktd::pkt::environment_from_process(), std::cout, std::cerr);
  std::cout.flush();
  return status;
}
